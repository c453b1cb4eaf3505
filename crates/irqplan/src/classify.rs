//! What kind of interrupt did the CPU just acknowledge?

use crate::plan::PMR_REGULAR_MASKED;

/// The class of an acknowledged interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// INTID 1020..=1023: nothing was acknowledged (the interrupt went away,
    /// or was taken by another CPU). No handler, no EOI.
    Spurious,
    /// A pseudo-NMI: handled with PSTATE.I kept set; may run while regular
    /// code holds locks, so it must use only NMI-safe primitives.
    PseudoNmi,
    /// A regular interrupt: handled with regular interrupts masked by the
    /// PMR but pNMIs allowed.
    Regular,
}

/// Classify an acknowledged interrupt from the INTID ICC_IAR1_EL1 returned
/// and the running priority read from ICC_RPR_EL1 right after (the group
/// priority of the interrupt just acknowledged, since acknowledging made it
/// the highest active one).
///
/// The running priority, not a table of INTIDs, decides: the GIC itself
/// masks and preempts by priority, so the number that decided whether this
/// interrupt could interrupt what we were doing is the same number that
/// decides how we handle it. A registry of "which INTIDs are pNMIs" could
/// disagree with what was actually programmed into the distributor or
/// redistributor (a missed write, a priority changed at runtime), and then a
/// pNMI would be treated as regular (unmasking things it must not) or vice
/// versa. Anything more urgent than the "interrupts off" mask is a pNMI:
/// that holds in both views of a priority (see `plan`).
pub const fn classify(intid: u32, running_priority: u8) -> Class {
    if matches!(intid, 1020..=1023) {
        // The running priority is that of whatever was active before;
        // it says nothing about this (non-)interrupt.
        Class::Spurious
    } else if running_priority < PMR_REGULAR_MASKED {
        Class::PseudoNmi
    } else {
        Class::Regular
    }
}
