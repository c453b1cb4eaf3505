//! The host GICv3 distributor and redistributors (IHI 0069), reached
//! through the direct map. QEMU's virt GIC has security disabled
//! (GICD_CTLR.DS = 1): one security state, and Group 1 is ours. A board's
//! GIC has two (secure firmware at EL3): Aerie's accesses are then
//! Non-secure, its group and security writes are ignored (the firmware
//! made the interrupts Non-secure Group 1), and its priorities are stored
//! in the Non-secure half, which the priority plan allows for.

use super::private::{self, PrivateBank};
use super::spi_regs::{self, read32, write32};
use core::ptr::{read_volatile, write_volatile};

const GICD_CTLR: usize = 0x0000;
const GICD_IROUTER: usize = 0x6000;
const CTLR_ENABLE_GRP1: u32 = 1 << 1;
const CTLR_ARE: u32 = 1 << 4;
const CTLR_RWP: u32 = 1 << 31;
/// GICD_CTLR.DS: one security state. A GIC with two reads it as 0 from the
/// Non-secure side.
const CTLR_DS: u32 = 1 << 6;

/// One redistributor's frames: RD_base and SGI_base, and with GICv4's
/// direct virtual LPIs (GICR_TYPER.VLPIS) VLPI_base and a reserved frame.
const GICR_STRIDE: usize = 0x2_0000;
const GICR_STRIDE_VLPIS: usize = 0x4_0000;
const GICR_TYPER: usize = 0x0008;
const GICR_WAKER: usize = 0x0014;
const TYPER_VLPIS: u64 = 1 << 1;
const TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = SGI_BASE + 0x0080;
const GICR_ISENABLER0: usize = SGI_BASE + 0x0100;
const GICR_ICENABLER0: usize = SGI_BASE + 0x0180;
const GICR_ISACTIVER0: usize = SGI_BASE + 0x0300;
const GICR_ICACTIVER0: usize = SGI_BASE + 0x0380;
const GICR_IPRIORITYR: usize = SGI_BASE + 0x0400;

fn read64(addr: usize) -> u64 {
    // SAFETY: a GIC register frame mapped as device memory in the direct
    // map (see `Gic::new`); GICR_TYPER is a 64-bit register.
    unsafe { read_volatile(addr as *const u64) }
}

fn wait(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..10_000_000 {
        if done() {
            return;
        }
        core::hint::spin_loop();
    }
    panic!("GICv3: timed out waiting for {what}");
}

/// The host GIC, as Aerie mapped it.
#[derive(Clone, Copy)]
pub struct Gic {
    dist: usize,
    /// (address, size) of each redistributor region: machines with many
    /// CPUs have one per socket or die, or one per CPU.
    redist: &'static [(usize, usize)],
}

impl Gic {
    /// # Safety
    /// `dist` must be the direct-map address of the host's distributor,
    /// and each of `redist` the address and size of a redistributor region,
    /// all mapped as device memory.
    pub const unsafe fn new(dist: u64, redist: &'static [(usize, usize)]) -> Self {
        Gic {
            dist: dist as usize,
            redist,
        }
    }

    /// Whether the GIC has two security states (secure firmware owns part of
    /// it; Aerie is its Non-secure side).
    pub fn two_security_states(&self) -> bool {
        read32(self.dist + GICD_CTLR) & CTLR_DS == 0
    }

    /// Once, on the boot CPU: every SPI disabled, Group 1, regular priority;
    /// affinity routing and Group 1 on.
    pub fn init_distributor(&self) {
        write32(self.dist + GICD_CTLR, 0);
        wait(
            || read32(self.dist + GICD_CTLR) & CTLR_RWP == 0,
            "GICD_CTLR.RWP",
        );
        spi_regs::reset(self.dist, true);
        write32(self.dist + GICD_CTLR, CTLR_ARE | CTLR_ENABLE_GRP1);
        wait(
            || read32(self.dist + GICD_CTLR) & CTLR_RWP == 0,
            "GICD_CTLR.RWP",
        );
    }

    /// The distributor's direct-map address.
    pub fn dist(&self) -> usize {
        self.dist
    }

    /// Route SPI `intid` to the CPU with `mpidr` from now on.
    pub fn route_spi(&self, intid: u32, mpidr: u64) {
        // IROUTER takes Aff3..Aff0 where MPIDR has them.
        let affinity = mpidr & 0xff_00ff_ffff;
        let router = self.dist + GICD_IROUTER + 8 * intid as usize;
        // SAFETY: GICD_IROUTER<n> is a 64-bit register in the mapped distributor.
        unsafe { write_volatile(router as *mut u64, affinity) };
    }

    /// This CPU's redistributor frame, found by affinity: each region is
    /// walked frame by frame (a GICv4 redistributor with VLPIs is twice as
    /// large) up to its last redistributor (GICR_TYPER.Last) or its end.
    fn frame(&self, mpidr: u64) -> usize {
        let affinity = ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0xff_ffff);
        for &(base, size) in self.redist {
            let mut frame = base;
            while frame + GICR_STRIDE <= base + size {
                let typer = read64(frame + GICR_TYPER);
                if typer >> 32 == affinity {
                    return frame;
                }
                if typer & TYPER_LAST != 0 {
                    break;
                }
                frame += if typer & TYPER_VLPIS != 0 {
                    GICR_STRIDE_VLPIS
                } else {
                    GICR_STRIDE
                };
            }
        }
        panic!("GICv3: no redistributor for MPIDR {mpidr:#x}");
    }

    /// On each CPU: wake its redistributor and enable the private
    /// interrupts Aerie uses. Returns its active-state registers for later
    /// per-CPU calls.
    pub fn init_redistributor(&self, mpidr: u64) -> PrivateBank {
        let rd = self.frame(mpidr);
        let waker = read32(rd + GICR_WAKER);
        write32(rd + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
        wait(
            || read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP == 0,
            "GICR_WAKER.ChildrenAsleep",
        );
        write32(rd + GICR_ICENABLER0, u32::MAX);
        write32(rd + GICR_IGROUPR0, u32::MAX);
        // SAFETY: this CPU's redistributor's SGI_base registers, mapped for
        // good (`Gic::new`).
        unsafe { private::configure(rd + GICR_IPRIORITYR, rd + GICR_ISENABLER0) };
        // SAFETY: this CPU's redistributor, mapped for good (`Gic::new`).
        unsafe { PrivateBank::new(rd + GICR_ISACTIVER0, rd + GICR_ICACTIVER0) }
    }
}
