//! End of interrupt with ICC_CTLR_EL1.EOImode = 1: the priority drop
//! (ICC_EOIR1_EL1) and the deactivation (ICC_DIR_EL1) are separate writes.

use crate::classify::Class;
use crate::plan::PPI_VIRTUAL_TIMER;

/// One end-of-interrupt write, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Write the INTID to ICC_EOIR1_EL1: the running priority drops.
    PriorityDrop,
    /// Write the INTID to ICC_DIR_EL1: the interrupt becomes inactive and
    /// can be signalled again.
    Deactivate,
}

const NONE: &[Step] = &[];
const DROP_ONLY: &[Step] = &[Step::PriorityDrop];
const DROP_AND_DEACTIVATE: &[Step] = &[Step::PriorityDrop, Step::Deactivate];

/// End-of-interrupt steps for an interrupt Aerie handles itself.
///
/// Both classes are dropped, then deactivated: the drop gives up the
/// running priority the acknowledge took, the deactivation lets the
/// interrupt be signalled again; the other order could let the interrupt
/// be signalled again while its own priority is still running. Spurious
/// INTIDs were never acknowledged and get no EOI.
pub const fn eoi_sequence(class: Class) -> &'static [Step] {
    match class {
        Class::Spurious => NONE,
        Class::PseudoNmi | Class::Regular => DROP_AND_DEACTIVATE,
    }
}

/// End-of-interrupt steps for `intid`, given whether Aerie forwarded it to
/// the guest.
///
/// The virtual timer, when forwarded, is only dropped: it stays active and
/// goes to the guest in a list register with HW = 1, so the guest's own
/// deactivation deactivates the physical interrupt. Aerie forwards nothing
/// else (no passthrough devices), so `forwarded_to_guest` is ignored for
/// other INTIDs: leaving one of them active would silence it forever.
pub const fn eoi_for(intid: u32, forwarded_to_guest: bool) -> &'static [Step] {
    if matches!(intid, 1020..=1023) {
        NONE
    } else if forwarded_to_guest && intid == PPI_VIRTUAL_TIMER {
        DROP_ONLY
    } else {
        DROP_AND_DEACTIVATE
    }
}
