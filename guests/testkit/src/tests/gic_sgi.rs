//! Software-generated interrupts (GICv3 spec IHI 0069 §2.2.1, ICC_SGI1R_EL1
//! §12.2.23): to the sending CPU itself, and from one vCPU to another.

use core::sync::atomic::{AtomicU32, Ordering};

use super::gic_fixture::with_gic;
use super::TestResult;
use crate::counter::spin_until;
use crate::counter::Deadline;
use crate::detail::{detail, fail};
use crate::gic::{self, ALL_PRIVATE, PMR_ALL, PRIORITY_REGULAR};
use crate::irq;
use crate::machine::Machine;
use crate::secondary::{self, Progress};
use crate::sysreg::mpidr_affinity;
use crate::watchdog;

const SELF_SGI: u32 = 1;
const OTHER_SGI: u32 = 2;
/// An SGI to self is pending as soon as the ICC_SGI1R_EL1 write completes.
const SELF_WAIT_MS: u64 = 100;
const OTHER_WAIT_MS: u64 = 2000;
const NONE: u32 = u32::MAX;

static SEEN: AtomicU32 = AtomicU32::new(NONE);

fn record(intid: u32) {
    SEEN.store(intid, Ordering::SeqCst);
}

pub fn gic_sgi_self(machine: &Machine) -> TestResult {
    with_gic(machine, &[], |rd| {
        rd.configure(SELF_SGI, PRIORITY_REGULAR);
        rd.enable(SELF_SGI);
        SEEN.store(NONE, Ordering::SeqCst);
        irq::set_handler(Some(record));
        let before = irq::taken();

        irq::unmask();
        gic::send_sgi(SELF_SGI, mpidr_affinity());
        let arrived = spin_until(SELF_WAIT_MS, || SEEN.load(Ordering::SeqCst) != NONE);
        irq::mask();

        let taken = irq::taken() - before;
        let seen = SEEN.load(Ordering::SeqCst);
        if !arrived {
            fail!(
                "SGI {SELF_SGI} to self: no IRQ within {SELF_WAIT_MS} ms (GICR_ISPENDR0={:#x}, GICR_ISACTIVER0={:#x})",
                rd.pending(),
                rd.active()
            );
        }
        if seen != SELF_SGI || taken != 1 {
            fail!("expected one IRQ with ICC_IAR1_EL1 = {SELF_SGI}, got {taken} IRQ(s), last INTID {seen}");
        }
        let still = (rd.pending() | rd.active()) & (1 << SELF_SGI);
        let rpr = gic::running_priority();
        if still != 0 || rpr != 0xff {
            fail!(
                "after ICC_EOIR1_EL1: expected SGI {SELF_SGI} inactive and ICC_RPR_EL1 = 0xff, got ISPENDR0={:#x} ISACTIVER0={:#x} RPR={rpr:#x}",
                rd.pending(),
                rd.active()
            );
        }
        Ok(detail!("INTID {seen} taken and EOId"))
    })
}

static OTHER_STATE: Progress = Progress::new();
static OTHER_SEEN: AtomicU32 = AtomicU32::new(NONE);

fn record_other(intid: u32) {
    OTHER_SEEN.store(intid, Ordering::SeqCst);
}

/// Runs on the secondary: sets up its own redistributor and CPU interface,
/// sleeps in WFI until SGI OTHER_SGI arrives (bounded by its watchdog),
/// tears everything down and returns (then powers off).
fn sgi_waiter() {
    let Ok(rd) = gic::init_this_cpu(PMR_ALL) else {
        OTHER_STATE.publish(Progress::FAILED);
        return;
    };
    rd.configure(OTHER_SGI, PRIORITY_REGULAR);
    rd.enable(OTHER_SGI);
    irq::set_handler(Some(record_other));
    let deadline = Deadline::after_ms(OTHER_WAIT_MS);
    watchdog::arm(&rd, &deadline);
    OTHER_STATE.publish(Progress::READY);

    irq::wfi_until(&deadline, || OTHER_SEEN.load(Ordering::SeqCst) != NONE);

    watchdog::disarm(&rd);
    irq::set_handler(None);
    rd.quiesce(ALL_PRIVATE);
    OTHER_STATE.publish(Progress::DONE);
}

pub fn gic_sgi_other(machine: &Machine) -> TestResult {
    with_gic(machine, &[], |_| {
        if machine.cpus < 2 {
            return Ok(detail!("skipped: 1 vCPU"));
        }
        let target = machine.mpidrs[1];
        OTHER_STATE.reset();
        OTHER_SEEN.store(NONE, Ordering::SeqCst);
        secondary::start(target, sgi_waiter)?;

        let ready = OTHER_STATE.wait_for(Progress::READY, OTHER_WAIT_MS);
        if ready == Progress::READY {
            gic::send_sgi(OTHER_SGI, target);
        }
        let done = OTHER_STATE.wait_for(Progress::DONE, 2 * OTHER_WAIT_MS);
        let off = secondary::wait_off(target, OTHER_WAIT_MS);
        let seen = OTHER_SEEN.load(Ordering::SeqCst);

        match ready {
            Progress::READY => {}
            Progress::FAILED => fail!("CPU {target:#x} could not set up its redistributor"),
            _ => fail!("CPU {target:#x} not ready within {OTHER_WAIT_MS} ms (state {ready})"),
        }
        if done != Progress::DONE {
            fail!("CPU {target:#x} did not finish its wait (state {done})");
        }
        if seen != OTHER_SGI {
            if seen == NONE {
                fail!("CPU {target:#x} took no IRQ within {OTHER_WAIT_MS} ms of SGI {OTHER_SGI}");
            }
            fail!("CPU {target:#x}: expected ICC_IAR1_EL1 = {OTHER_SGI}, got {seen}");
        }
        off?;
        Ok(detail!(
            "CPU {target:#x} took SGI {seen} in WFI, powered off"
        ))
    })
}
