//! A pCPU's private interrupts (SGIs and PPIs): which of them Aerie uses and
//! at what priority, and the banked registers for their active state, which
//! Aerie moves with a vCPU's forwarded virtual timer. They are in the CPU's
//! redistributor on a GICv3 (SGI_base frame), in the distributor's banked
//! first words on a GICv2, at the same offsets.

use super::{
    PPI_HYP_TIMER, PPI_MAINTENANCE, PPI_PMU, PPI_VIRTUAL_TIMER, PPI_WATCHDOG, PRIORITY_PNMI,
    PRIORITY_REGULAR, SGI_KICK, SGI_STOP,
};
use core::ptr::write_volatile;

/// The private interrupts Aerie enables on every pCPU.
const OURS: [u32; 7] = [
    SGI_KICK,
    SGI_STOP,
    PPI_PMU,
    PPI_MAINTENANCE,
    PPI_HYP_TIMER,
    PPI_VIRTUAL_TIMER,
    PPI_WATCHDOG,
];
/// Those of them that are pseudo-NMIs (the top priority).
const PSEUDO_NMIS: [u32; 3] = [SGI_STOP, PPI_PMU, PPI_WATCHDOG];

/// Gives this pCPU's private interrupts Aerie's priorities (regular, and
/// the top one for the pseudo-NMIs) and enables Aerie's own. `priorities`
/// is its IPRIORITYR0 (byte-accessible), `enable` its ISENABLER0.
///
/// # Safety
/// Both must be this pCPU's registers of the host GIC, mapped as device
/// memory.
pub(super) unsafe fn configure(priorities: usize, enable: usize) {
    let prio = u32::from_ne_bytes([PRIORITY_REGULAR; 4]);
    // SAFETY (all three blocks): registers of this pCPU's bank, per the
    // contract; IPRIORITYR takes words and bytes.
    for i in (0..32).step_by(4) {
        unsafe { write_volatile((priorities + i) as *mut u32, prio) };
    }
    for intid in PSEUDO_NMIS {
        unsafe { write_volatile((priorities + intid as usize) as *mut u8, PRIORITY_PNMI) };
    }
    let mask = OURS.iter().fold(0, |m, &i| m | 1 << i);
    unsafe { write_volatile(enable as *mut u32, mask) };
}

#[derive(Clone, Copy)]
pub struct PrivateBank {
    /// GICR_ISACTIVER0 / GICD_ISACTIVER0.
    set_active: usize,
    /// GICR_ICACTIVER0 / GICD_ICACTIVER0.
    clear_active: usize,
}

impl PrivateBank {
    /// # Safety
    /// The two addresses must be this pCPU's (banked) ISACTIVER0 and
    /// ICACTIVER0 of the host GIC, mapped as device memory for good.
    pub(super) const unsafe fn new(set_active: usize, clear_active: usize) -> Self {
        PrivateBank {
            set_active,
            clear_active,
        }
    }

    /// Whether private interrupt `intid` is active (e.g. the virtual timer
    /// a guest has not yet completed).
    pub fn is_active(&self, intid: u32) -> bool {
        // SAFETY: a mapped 32-bit GIC register (see `new`).
        let word = unsafe { core::ptr::read_volatile(self.set_active as *const u32) };
        word & (1 << intid) != 0
    }

    /// Set or clear the active state of private interrupt `intid`: a vCPU's
    /// forwarded virtual-timer interrupt moves with the vCPU.
    pub fn set_active(&self, intid: u32, active: bool) {
        let reg = if active {
            self.set_active
        } else {
            self.clear_active
        };
        // SAFETY: as for is_active; a write of one bit sets or clears only
        // that interrupt's state.
        unsafe { write_volatile(reg as *mut u32, 1 << intid) };
    }
}
