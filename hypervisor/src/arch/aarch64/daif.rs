//! PSTATE.I at EL2.
//!
//! The rule: Aerie masks regular interrupts with the GIC priority mask
//! (ICC_PMR_EL1 = PMR_REGULAR_MASKED), never with PSTATE.I, so pseudo-NMIs
//! (priority 0x20) still get through. PSTATE.I is set only where the
//! architecture or the vCPU switch needs it: by the hardware on exception
//! entry, in a pseudo-NMI handler, and from the point the exit path starts
//! restoring a guest until the ERET (see `irq::NmiWindow`).

/// Clear PSTATE.I: interrupts the priority mask lets through are taken.
#[inline(always)]
pub fn unmask_irq() {
    // SAFETY: changes only PSTATE.I; callers hold the rule above.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) }
}

/// Set PSTATE.I.
#[inline(always)]
pub fn mask_irq() {
    // SAFETY: changes only PSTATE.I.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) }
}
