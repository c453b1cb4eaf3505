//! The virtual timer's interrupt (PPI 27, level) taken as an IRQ: the handler
//! masks it at the timer (CNTV_CTL_EL0.IMASK) so the level drops before EOI.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::gic_fixture::with_gic;
use super::TestResult;
use crate::counter::{self, Deadline};
use crate::detail::{detail, fail};
use crate::gic::{PRIORITY_REGULAR, VTIMER_INTID};
use crate::irq;
use crate::machine::Machine;
use crate::sysreg::read_sysreg;
use crate::vtimer;

const FIRE_AFTER_MS: u64 = 1;
/// WFI wakes for the timer's own interrupt; no watchdog can bound it (the
/// watchdog is this timer), so a broken path hangs here, as in wfi_wakeup.
const BOUND_MS: u64 = 1000;
const NONE: u32 = u32::MAX;

static SEEN: AtomicU32 = AtomicU32::new(NONE);
/// CNTVCT_EL0 when the handler ran.
static FIRED_AT: AtomicU64 = AtomicU64::new(0);

fn timer_handler(intid: u32) {
    SEEN.store(intid, Ordering::SeqCst);
    if intid == VTIMER_INTID {
        FIRED_AT.store(read_sysreg!("cntvct_el0"), Ordering::SeqCst);
        vtimer::mask_interrupt();
    }
}

pub fn timer_irq(machine: &Machine) -> TestResult {
    with_gic(machine, &[], |rd| {
        rd.configure(VTIMER_INTID, PRIORITY_REGULAR);
        rd.enable(VTIMER_INTID);
        SEEN.store(NONE, Ordering::SeqCst);
        irq::set_handler(Some(timer_handler));
        let before = irq::taken();

        let cval = vtimer::arm_after(counter::ticks_from_ms(FIRE_AFTER_MS));
        let bound = Deadline::after_ms(BOUND_MS);
        let arrived = irq::wfi_until(&bound, || SEEN.load(Ordering::SeqCst) != NONE);
        let ctl = vtimer::control();
        vtimer::off();

        let taken = irq::taken() - before;
        let seen = SEEN.load(Ordering::SeqCst);
        let fired_at = FIRED_AT.load(Ordering::SeqCst);
        if !arrived {
            fail!("no IRQ within {BOUND_MS} ms of CNTV_CVAL {cval:#x} (CNTV_CTL={ctl:#x}, GICR_ISPENDR0={:#x})", rd.pending());
        }
        if seen != VTIMER_INTID || taken != 1 {
            fail!("expected one IRQ with ICC_IAR1_EL1 = {VTIMER_INTID}, got {taken} IRQ(s), last INTID {seen}");
        }
        if fired_at < cval {
            fail!("handler ran at CNTVCT {fired_at:#x}, before CNTV_CVAL {cval:#x}");
        }
        if ctl & vtimer::CNTV_CTL_IMASK == 0 {
            fail!("expected CNTV_CTL.IMASK set by the handler, got CNTV_CTL={ctl:#x}");
        }
        Ok(detail!(
            "INTID {seen}, {} ticks after CNTV_CVAL",
            fired_at - cval
        ))
    })
}
