//! What this CPU is and what it has.

use super::sysreg::{isb, read_sysreg, write_sysreg};

/// Identification and the features Aerie's choices depend on.
#[derive(Debug, Clone, Copy)]
pub struct CpuInfo {
    pub midr: u64,
    pub vhe: bool,
    pub fgt: bool,
    /// ID_AA64MMFR0_EL1.PARange (0 = 32 bits ... 5 = 48 bits, 6 = 52 bits).
    pub pa_range: u64,
}

impl CpuInfo {
    pub fn read() -> Self {
        let mmfr0 = read_sysreg!(id_aa64mmfr0_el1);
        let mmfr1 = read_sysreg!(id_aa64mmfr1_el1);
        CpuInfo {
            midr: read_sysreg!(midr_el1),
            vhe: (mmfr1 >> 8) & 0xf != 0,
            fgt: (mmfr0 >> 56) & 0xf != 0,
            pa_range: mmfr0 & 0xf,
        }
    }

    /// A human name for the MIDR.
    pub fn model(&self) -> &'static str {
        let implementer = (self.midr >> 24) & 0xff;
        let part = (self.midr >> 4) & 0xfff;
        match (implementer, part) {
            (0x41, 0xd03) => "Cortex-A53",
            (0x41, 0xd07) => "Cortex-A57",
            (0x41, 0xd08) => "Cortex-A72",
            (0x41, 0xd0b) => "Cortex-A76",
            (0x41, 0xd0c) => "Neoverse-N1",
            (0x41, 0xd40) => "Neoverse-V1",
            (0x41, 0xd49) => "Neoverse-N2",
            // QEMU's "max" CPU uses the software-use implementer code.
            (0x00, _) => "QEMU max",
            _ => "unknown",
        }
    }
}

/// The physical counter (CNTPCT_EL0).
#[inline]
pub fn counter() -> u64 {
    super::sysreg::isb();
    read_sysreg!(cntpct_el0)
}

/// Starts the PMU's cycle counter from zero, counting at EL2 too
/// (PMCCFILTR_EL0.NSH), 64 bits wide: for [`CycleCounter`] and the
/// profiler, which also has it interrupt on overflow.
pub fn start_cycle_counter() {
    write_sysreg!(pmccfiltr_el0, 1 << 27);
    // PMCR_EL0: E (enable), C (reset the cycle counter), LC (64 bits).
    write_sysreg!(pmcr_el0, (1 << 0) | (1 << 2) | (1 << 6));
    write_sysreg!(pmcntenset_el0, 1 << 31);
    isb();
}

/// The PMU's cycle counter, counting at EL2 while this lives (Aerie owns
/// the PMU: guests are refused it, MDCR_EL2.TPM). Put back as at reset
/// (off) when dropped; the profiler, if on, starts it again later.
pub struct CycleCounter(());

impl CycleCounter {
    /// Starts it; None on a CPU without PMUv3 (ID_AA64DFR0_EL1.PMUVer 0,
    /// or 0xF for an IMPLEMENTATION DEFINED one).
    pub fn start() -> Option<CycleCounter> {
        let version = (read_sysreg!(id_aa64dfr0_el1) >> 8) & 0xf;
        if version == 0 || version == 0xf {
            return None;
        }
        start_cycle_counter();
        Some(CycleCounter(()))
    }

    /// Cycles so far, once the instructions before have completed.
    pub fn read(&self) -> u64 {
        isb();
        read_sysreg!(pmccntr_el0)
    }
}

impl Drop for CycleCounter {
    fn drop(&mut self) {
        write_sysreg!(pmcntenclr_el0, 1 << 31);
        write_sysreg!(pmcr_el0, 0);
        isb();
    }
}

/// A random number from the CPU (FEAT_RNG's RNDR), if it has the
/// instruction and it delivered: RNDR sets PSTATE.Z when it could not.
pub fn rndr() -> Option<u64> {
    let isar0 = read_sysreg!(id_aa64isar0_el1);
    if (isar0 >> 60) & 0xf == 0 {
        return None;
    }
    let (value, failed): (u64, u64);
    // SAFETY: RNDR (S3_3_C2_C4_0) exists (checked above) and only writes
    // its register and the condition flags, which are declared clobbered
    // (no `preserves_flags`).
    unsafe {
        core::arch::asm!(
            "mrs {v}, s3_3_c2_c4_0",
            "cset {f}, eq",
            v = out(reg) value,
            f = out(reg) failed,
            options(nomem, nostack),
        );
    }
    (failed == 0).then_some(value)
}

/// The stack pointer now.
#[inline(always)]
pub fn stack_pointer() -> u64 {
    let sp: u64;
    // SAFETY: reading SP has no side effects.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
    sp
}

/// MPIDR_EL1 of the running pCPU (affinity fields only).
#[inline]
pub fn mpidr() -> u64 {
    read_sysreg!(mpidr_el1) & 0xff_00ff_ffff
}

/// Counter frequency in Hz (CNTFRQ_EL0).
pub fn counter_frequency() -> u64 {
    read_sysreg!(cntfrq_el0)
}

/// `ms` milliseconds in counter ticks.
pub fn ms_to_ticks(ms: u64) -> u64 {
    counter_frequency() * ms / 1000
}

/// `us` microseconds in counter ticks.
pub fn us_to_ticks(us: u64) -> u64 {
    counter_frequency() * us / 1_000_000
}

/// Polls `done` until it holds or `ms` milliseconds pass (by the
/// counter); returns whether it held, looking once more at the end. For
/// device registers that settle by themselves.
pub fn poll_for(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = counter() + ms_to_ticks(ms);
    while counter() < end {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// Counter ticks in whole milliseconds.
pub fn ticks_to_ms(ticks: u64) -> u64 {
    ticks / (counter_frequency() / 1000).max(1)
}

/// Arm the EL2 physical timer (CNTHP) to fire at counter value `deadline`.
pub fn arm_hyp_timer(deadline: u64) {
    use super::sysreg::write_sysreg;
    write_sysreg!(cnthp_cval_el2, deadline);
    write_sysreg!(cnthp_ctl_el2, 1);
    super::sysreg::isb();
}

/// Stop the EL2 physical timer (its interrupt line drops).
pub fn disarm_hyp_timer() {
    use super::sysreg::write_sysreg;
    write_sysreg!(cnthp_ctl_el2, 0);
    super::sysreg::isb();
}

/// Wait for an interrupt (one the priority mask lets through wakes it even
/// with PSTATE.I set: the idle loop relies on that to lose no wake-up).
pub fn wait_for_interrupt() {
    // SAFETY: WFI only waits.
    unsafe { core::arch::asm!("dsb sy", "wfi", options(nostack, preserves_flags)) }
}
