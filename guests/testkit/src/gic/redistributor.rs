//! One CPU's redistributor (GICR, GICv3 spec IHI 0069 §12.10-12.11): its
//! power state and the configuration of its SGIs (0-15) and PPIs (16-31).
//! On a GICv2 the same registers are the distributor's first words, banked
//! per CPU, and there is no power state to wake.

use super::is_v2;
use super::mmio::{bit_position, read32, read64, set_priority_byte, wait_until, write32};
use crate::detail::{fail, Detail};
use crate::sysreg::mpidr_affinity;

const GICR_BASE: usize = 0x080a_0000;
/// RD_base + SGI_base frames of one redistributor (no VLPI frames in GICv3 `virt`).
const GICR_STRIDE: usize = 0x2_0000;
/// More than the 8 vCPUs the machine can have, less than the space before
/// the next device: a bound for a GICR_TYPER.Last that never comes.
const GICR_MAX_FRAMES: usize = 64;

// RD_base frame.
const GICR_CTLR: usize = 0x0000;
const GICR_CTLR_RWP: u32 = 1 << 3;
const GICR_TYPER: usize = 0x0008;
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_WAKER: usize = 0x0014;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

// SGI_base frame (the GICv2 distributor has the same registers at the
// same offsets).
const SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = 0x0080;
const GICR_ISENABLER0: usize = 0x0100;
const GICR_ICENABLER0: usize = 0x0180;
const GICR_ISPENDR0: usize = 0x0200;
const GICR_ICPENDR0: usize = 0x0280;
const GICR_ISACTIVER0: usize = 0x0300;
const GICR_ICACTIVER0: usize = 0x0380;
const GICR_IPRIORITYR: usize = 0x0400;
/// A GICv2's distributor, whose first words are the private registers.
const GICD_BASE: usize = 0x0800_0000;

/// Every SGI and PPI (one bit each in the *R0 registers).
pub const ALL_PRIVATE: u32 = u32::MAX;

#[derive(Clone, Copy)]
pub struct Redistributor {
    /// RD_base (none on a GICv2).
    rd_base: Option<usize>,
    /// SGI_base, or the GICv2 distributor.
    sgi_base: usize,
}

impl Redistributor {
    /// The redistributor whose GICR_TYPER.Affinity_Value matches this CPU's
    /// MPIDR (GICR_TYPER[63:32] = Aff3.Aff2.Aff1.Aff0).
    pub fn this_cpu() -> Result<Self, Detail> {
        if is_v2() {
            return Ok(Self {
                rd_base: None,
                sgi_base: GICD_BASE,
            });
        }
        let mpidr = mpidr_affinity();
        let affinity = ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0xff_ffff);
        for i in 0..GICR_MAX_FRAMES {
            let rd_base = GICR_BASE + i * GICR_STRIDE;
            let typer = read64(rd_base + GICR_TYPER);
            if typer >> 32 == affinity {
                return Ok(Self {
                    rd_base: Some(rd_base),
                    sgi_base: rd_base + SGI_BASE,
                });
            }
            if typer & GICR_TYPER_LAST != 0 {
                break;
            }
        }
        fail!("no GICv3 redistributor for affinity {affinity:#x} at {GICR_BASE:#x}")
    }

    /// A register of the SGI_base frame (or the GICv2's banked words).
    fn reg(&self, offset: usize) -> usize {
        self.sgi_base + offset
    }

    /// Marks the CPU awake so the redistributor forwards its interrupts
    /// (clear ProcessorSleep, wait for ChildrenAsleep to clear).
    pub fn wake(&self) -> Result<(), Detail> {
        let Some(rd) = self.rd_base else {
            return Ok(());
        };
        let waker = read32(rd + GICR_WAKER);
        write32(rd + GICR_WAKER, waker & !GICR_WAKER_PROCESSOR_SLEEP);
        if !wait_until(|| read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP == 0) {
            fail!("GICR_WAKER.ChildrenAsleep stuck at 1");
        }
        Ok(())
    }

    /// Makes SGI/PPI `intid` a group-1 interrupt of `priority` (Group 0 on
    /// a GICv2, see `gic`).
    pub fn configure(&self, intid: u32, priority: u8) {
        let (_, bit) = bit_position(intid);
        let groups = read32(self.reg(GICR_IGROUPR0));
        let groups = if is_v2() { groups & !bit } else { groups | bit };
        write32(self.reg(GICR_IGROUPR0), groups);
        set_priority_byte(self.reg(GICR_IPRIORITYR), intid, priority);
    }

    pub fn enable(&self, intid: u32) {
        write32(self.reg(GICR_ISENABLER0), bit_position(intid).1);
    }

    /// Disables the SGIs/PPIs in `mask` and drops their pending and active
    /// state, so nothing a test left behind reaches the next one.
    pub fn quiesce(&self, mask: u32) {
        write32(self.reg(GICR_ICENABLER0), mask);
        // RWP tracks the ICENABLER0 write; a stuck bit only delays the clear.
        if let Some(rd) = self.rd_base {
            wait_until(|| read32(rd + GICR_CTLR) & GICR_CTLR_RWP == 0);
        }
        write32(self.reg(GICR_ICPENDR0), mask);
        write32(self.reg(GICR_ICACTIVER0), mask);
    }

    /// GICR_ISPENDR0: the SGIs/PPIs pending on this CPU.
    pub fn pending(&self) -> u32 {
        read32(self.reg(GICR_ISPENDR0))
    }

    /// GICR_ISACTIVER0: the SGIs/PPIs active (acknowledged, not deactivated).
    pub fn active(&self) -> u32 {
        read32(self.reg(GICR_ISACTIVER0))
    }
}
