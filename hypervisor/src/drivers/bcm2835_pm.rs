//! The power manager of Broadcom's BCM283x and BCM2711 (every Raspberry
//! Pi). Its watchdog resets the SoC; the partition the reset status names
//! tells the Pi's firmware what to do next, and partition 63 means halt:
//! that is how a Pi powers off, having no PSCI (Linux's `bcm2835_wdt`
//! does the same). QEMU's model ends the run on it.

use super::registers::Registers;

/// Reset control: the watchdog's action when it expires.
const PM_RSTC: usize = 0x1c;
/// Reset status: the partition the firmware boots after a reset.
const PM_RSTS: usize = 0x20;
/// The watchdog's count, in ticks of 16 µs.
const PM_WDOG: usize = 0x24;
/// Every write must carry it in bits 31:24, or the block ignores it.
const PASSWORD: u32 = 0x5a << 24;
/// PM_RSTC.WRCFG: what the watchdog does; FULL_RESET resets the SoC.
const RSTC_WRCFG: u32 = 0x30;
const RSTC_WRCFG_FULL_RESET: u32 = 0x20;
/// The partition Linux and the Pi's firmware agree means halt.
const HALT_PARTITION: u32 = 63;

/// PM_RSTS holds the partition's six bits in its even bits 0 to 10.
const fn rsts_partition(partition: u32) -> u32 {
    let mut bits = 0;
    let mut i = 0;
    while i < 6 {
        bits |= ((partition >> i) & 1) << (2 * i);
        i += 1;
    }
    bits
}
const RSTS_PARTITION: u32 = rsts_partition(0x3f);
const _: () = assert!(rsts_partition(HALT_PARTITION) == 0x555);

pub struct PowerManager {
    regs: Registers,
}

impl PowerManager {
    /// The power manager whose registers are mapped at `base`.
    ///
    /// # Safety
    /// `base` must be the virtual address of the power manager's mapped
    /// registers (the first `reg` range of its node), which only Aerie uses.
    pub unsafe fn new(base: u64) -> Self {
        PowerManager {
            // SAFETY: per this function's contract; the offsets used are
            // within the block's first 0x28 bytes.
            regs: unsafe { Registers::new(base) },
        }
    }

    /// Powers the machine off: the halt partition, then a reset by the
    /// watchdog, which expires 10 ticks (160 µs) later.
    pub fn power_off(&self) -> ! {
        let rsts = self.regs.read(PM_RSTS) & !(0xff << 24) & !RSTS_PARTITION;
        self.regs
            .write(PM_RSTS, PASSWORD | rsts | rsts_partition(HALT_PARTITION));
        self.regs.write(PM_WDOG, PASSWORD | 10);
        let rstc = self.regs.read(PM_RSTC) & !(0xff << 24) & !RSTC_WRCFG;
        self.regs
            .write(PM_RSTC, PASSWORD | rstc | RSTC_WRCFG_FULL_RESET);
        loop {
            crate::arch::aarch64::sysreg::wfe();
        }
    }
}
