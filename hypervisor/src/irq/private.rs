//! A pCPU's private interrupts (SGIs and PPIs): which of them Aerie uses and
//! at what priority, and the banked registers for their active state, which
//! Aerie moves with a vCPU's forwarded virtual timer. They are in the CPU's
//! redistributor on a GICv3 (SGI_base frame), in the distributor's banked
//! first words on a GICv2, at the same offsets.

use aerie_irqplan::{priority_of, PRIVATE_INTIDS};
use core::ptr::write_volatile;

/// Gives this pCPU's private interrupts the plan's priorities
/// (`aerie_irqplan::priority_of`: the pseudo-NMIs' or the regular one) and
/// enables Aerie's own ([`PRIVATE_INTIDS`]). `priorities` is its
/// IPRIORITYR0 (eight words, a byte per INTID), `enable` its ISENABLER0.
///
/// # Safety
/// Both must be this pCPU's registers of the host GIC, mapped as device
/// memory.
pub(super) unsafe fn configure(priorities: usize, enable: usize) {
    for word in 0..8u32 {
        let bytes = core::array::from_fn(|i| priority_of(4 * word + i as u32));
        // SAFETY: IPRIORITYR<word> of this pCPU's bank, per the contract.
        unsafe {
            write_volatile(
                (priorities + 4 * word as usize) as *mut u32,
                u32::from_ne_bytes(bytes),
            )
        };
    }
    let mask = PRIVATE_INTIDS.iter().fold(0, |m, &i| m | 1 << i);
    // SAFETY: this pCPU's ISENABLER0, per the contract.
    unsafe { write_volatile(enable as *mut u32, mask) };
}

#[derive(Clone, Copy)]
pub struct PrivateBank {
    /// GICR_ISACTIVER0 / GICD_ISACTIVER0 (never 0, which keeps an
    /// `Option<PrivateBank>` at two words: see `sched::pcpu::Pcpu`).
    set_active: core::num::NonZeroUsize,
    /// GICR_ICACTIVER0 / GICD_ICACTIVER0.
    clear_active: usize,
}

impl PrivateBank {
    /// # Safety
    /// The two addresses must be this pCPU's (banked) ISACTIVER0 and
    /// ICACTIVER0 of the host GIC, mapped as device memory for good.
    pub(super) const unsafe fn new(set_active: usize, clear_active: usize) -> Self {
        let Some(set_active) = core::num::NonZeroUsize::new(set_active) else {
            panic!("a GIC register at address 0");
        };
        PrivateBank {
            set_active,
            clear_active,
        }
    }

    /// Whether private interrupt `intid` is active (e.g. the virtual timer
    /// a guest has not yet completed).
    pub fn is_active(&self, intid: u32) -> bool {
        // SAFETY: a mapped 32-bit GIC register (see `new`).
        let word = unsafe { core::ptr::read_volatile(self.set_active.get() as *const u32) };
        word & (1 << intid) != 0
    }

    /// Set or clear the active state of private interrupt `intid`: a vCPU's
    /// forwarded virtual-timer interrupt moves with the vCPU.
    pub fn set_active(&self, intid: u32, active: bool) {
        let reg = if active {
            self.set_active.get()
        } else {
            self.clear_active
        };
        // SAFETY: as for is_active; a write of one bit sets or clears only
        // that interrupt's state.
        unsafe { write_volatile(reg as *mut u32, 1 << intid) };
    }
}
