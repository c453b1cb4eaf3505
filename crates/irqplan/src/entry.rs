//! What the handler does to PSTATE.I and ICC_PMR_EL1 on entry and exit.

use crate::classify::Class;
use crate::plan::PMR_REGULAR_MASKED;

/// The masking decision for one interrupt, taken on entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// ICC_PMR_EL1 at entry; written back exactly before returning, so a
    /// nested handler hands its interruptee the mask it had.
    pub saved_pmr: u8,
    /// Clear PSTATE.I for the body of the handler (so pNMIs can preempt it).
    pub unmask: bool,
    /// ICC_PMR_EL1 to program before clearing PSTATE.I.
    pub new_pmr: u8,
}

impl Entry {
    /// The PMR to write back when the handler returns.
    pub const fn exit_pmr(&self) -> u8 {
        self.saved_pmr
    }
}

/// Decide the masking for an interrupt of class `class` taken while
/// ICC_PMR_EL1 held `current_pmr`.
///
/// - Regular: raise the PMR to [`PMR_REGULAR_MASKED`] (never lower it: if the
///   interrupted code had masked more, the handler must not unmask it), then
///   clear PSTATE.I so pNMIs (the watchdog, dump requests, profiler samples)
///   still reach a handler that spins or is slow. The running priority
///   already holds off other regular interrupts until the priority drop;
///   the PMR keeps them off after it too.
/// - PseudoNmi: keep PSTATE.I set for the whole handler (pNMI handlers do not
///   nest) and leave the PMR alone.
/// - Spurious: nothing to handle; nothing changes.
pub const fn on_irq(class: Class, current_pmr: u8) -> Entry {
    match class {
        Class::Regular => Entry {
            saved_pmr: current_pmr,
            unmask: true,
            new_pmr: if current_pmr < PMR_REGULAR_MASKED {
                current_pmr
            } else {
                PMR_REGULAR_MASKED
            },
        },
        Class::PseudoNmi | Class::Spurious => Entry {
            saved_pmr: current_pmr,
            unmask: false,
            new_pmr: current_pmr,
        },
    }
}
