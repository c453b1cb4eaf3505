//! Bounded WFI: WFI ends only when an interrupt is pending, so waiting for one
//! that never comes (a broken interrupt path) would hang the CPU. The
//! watchdog arms this CPU's virtual timer at the deadline, its PPI enabled,
//! so some interrupt always arrives; the IRQ dispatcher consumes it here.
//! Not for tests of the virtual timer itself.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::counter::Deadline;
use crate::gic::{self, Redistributor};
use crate::machine::MAX_CPUS;
use crate::vtimer;

static ARMED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

fn armed() -> &'static AtomicBool {
    let aff0 = (crate::sysreg::mpidr_affinity() & 0xff) as usize;
    &ARMED[aff0.min(MAX_CPUS - 1)]
}

/// Makes the virtual timer interrupt this CPU when `deadline` expires (so a
/// WFI loop checking it always gets to see it expired). The CPU's GIC must be
/// initialised (`gic::init_this_cpu`).
pub fn arm(rd: &Redistributor, deadline: &Deadline) {
    armed().store(true, Ordering::SeqCst);
    rd.configure(gic::VTIMER_INTID, gic::PRIORITY_REGULAR);
    rd.enable(gic::VTIMER_INTID);
    vtimer::arm_at(deadline.at());
}

pub fn disarm(rd: &Redistributor) {
    vtimer::off();
    rd.quiesce(1 << gic::VTIMER_INTID);
    armed().store(false, Ordering::SeqCst);
}

/// The dispatcher's hook: consumes the watchdog's timer interrupt (masking
/// the level at the timer) and returns true; false for anything else.
pub fn handle(intid: u32) -> bool {
    if intid != gic::VTIMER_INTID || !armed().load(Ordering::SeqCst) {
        return false;
    }
    vtimer::mask_interrupt();
    true
}
