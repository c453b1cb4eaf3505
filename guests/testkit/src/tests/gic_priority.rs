//! Priorities at the CPU interface (GICv3 spec IHI 0069 §4.8): the priority
//! mask holds back an interrupt whose priority value is not below ICC_PMR_EL1,
//! and a higher-priority interrupt (lower value, in a different group
//! priority per ICC_BPR1_EL1) preempts a running handler.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::gic_fixture::with_gic;
use super::TestResult;
use crate::counter::spin_until;
use crate::detail::{detail, fail};
use crate::gic::{self, PMR_ALL};
use crate::irq;
use crate::machine::Machine;
use crate::sysreg::mpidr_affinity;

const MASKED_SGI: u32 = 4;
const MASKED_PRIORITY: u8 = 0xa0;
/// Masks MASKED_PRIORITY (not strictly below 0x80), unlike PMR_ALL.
const PMR_BLOCKING: u8 = 0x80;
/// How long the masked SGI must stay pending and untaken.
const HOLD_MS: u64 = 5;
const WAIT_MS: u64 = 100;
const NONE: u32 = u32::MAX;

static MASKED_SEEN: AtomicU32 = AtomicU32::new(NONE);

fn record_masked(intid: u32) {
    MASKED_SEEN.store(intid, Ordering::SeqCst);
}

pub fn gic_priority_mask(machine: &Machine) -> TestResult {
    with_gic(machine, &[], |rd| {
        let bit = 1 << MASKED_SGI;
        rd.configure(MASKED_SGI, MASKED_PRIORITY);
        rd.enable(MASKED_SGI);
        MASKED_SEEN.store(NONE, Ordering::SeqCst);
        irq::set_handler(Some(record_masked));
        gic::set_priority_mask(PMR_BLOCKING);
        let pmr = gic::priority_mask();
        if pmr != PMR_BLOCKING {
            fail!("ICC_PMR_EL1: wrote {PMR_BLOCKING:#x}, read {pmr:#x}");
        }

        irq::unmask();
        gic::send_sgi(MASKED_SGI, mpidr_affinity());
        let taken_early = spin_until(HOLD_MS, || MASKED_SEEN.load(Ordering::SeqCst) != NONE);
        let pending = rd.pending();
        irq::mask();
        if taken_early {
            fail!("SGI {MASKED_SGI} (priority {MASKED_PRIORITY:#x}) taken with ICC_PMR_EL1 = {PMR_BLOCKING:#x}");
        }
        if pending & bit == 0 {
            fail!("SGI {MASKED_SGI} masked by PMR: expected it pending in GICR_ISPENDR0, got {pending:#x}");
        }

        irq::unmask();
        gic::set_priority_mask(PMR_ALL);
        let arrived = spin_until(WAIT_MS, || MASKED_SEEN.load(Ordering::SeqCst) != NONE);
        irq::mask();
        let seen = MASKED_SEEN.load(Ordering::SeqCst);
        if !arrived {
            fail!("SGI {MASKED_SGI} not taken within {WAIT_MS} ms of raising ICC_PMR_EL1 to {PMR_ALL:#x} (ISPENDR0={:#x})", rd.pending());
        }
        if seen != MASKED_SGI {
            fail!("expected ICC_IAR1_EL1 = {MASKED_SGI}, got {seen}");
        }
        if rd.pending() & bit != 0 {
            fail!("SGI {MASKED_SGI} still pending after it was taken");
        }
        Ok(detail!(
            "held pending at PMR {PMR_BLOCKING:#x}, taken at {PMR_ALL:#x}"
        ))
    })
}

const LOW_SGI: u32 = 5;
const LOW_PRIORITY: u8 = 0xc0;
const HIGH_SGI: u32 = 6;
const HIGH_PRIORITY: u8 = 0x40;

/// A step of the nested handlers. EVENTS records them in order, each as
/// `event << 8 | ICC_RPR_EL1` read at that step.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Event {
    LowEntered = 1,
    HighRan = 2,
    LowLeaving = 3,
}

const MAX_EVENTS: usize = 8;
static EVENTS: [AtomicU32; MAX_EVENTS] = [const { AtomicU32::new(0) }; MAX_EVENTS];
static EVENT_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Appends an event; the handlers run nested but never interleave within
/// `log` (IRQs are masked around it).
fn log(event: Event) {
    let n = EVENT_COUNT.load(Ordering::SeqCst);
    if let Some(slot) = EVENTS.get(n) {
        let rpr = u32::from(gic::running_priority());
        slot.store((event as u32) << 8 | rpr, Ordering::SeqCst);
    }
    EVENT_COUNT.store(n + 1, Ordering::SeqCst);
}

fn high_seen() -> bool {
    let n = EVENT_COUNT.load(Ordering::SeqCst).min(MAX_EVENTS);
    EVENTS[..n]
        .iter()
        .any(|e| e.load(Ordering::SeqCst) >> 8 == Event::HighRan as u32)
}

/// Both SGIs' handler. The low one's ELR/SPSR are already saved in its trap
/// frame, so it may unmask IRQs: the high SGI it sends itself must then
/// preempt it.
fn nesting_handler(intid: u32) {
    match intid {
        LOW_SGI => {
            log(Event::LowEntered);
            gic::send_sgi(HIGH_SGI, mpidr_affinity());
            irq::unmask();
            spin_until(WAIT_MS, high_seen);
            irq::mask();
            log(Event::LowLeaving);
        }
        HIGH_SGI => log(Event::HighRan),
        _ => {}
    }
}

pub fn gic_preemption(machine: &Machine) -> TestResult {
    with_gic(machine, &[], |rd| {
        gic::set_binary_point1(0);
        let bpr = gic::binary_point1();
        rd.configure(LOW_SGI, LOW_PRIORITY);
        rd.configure(HIGH_SGI, HIGH_PRIORITY);
        rd.enable(LOW_SGI);
        rd.enable(HIGH_SGI);
        EVENT_COUNT.store(0, Ordering::SeqCst);
        irq::set_handler(Some(nesting_handler));
        let before = irq::taken();

        irq::unmask();
        gic::send_sgi(LOW_SGI, mpidr_affinity());
        spin_until(WAIT_MS, || EVENT_COUNT.load(Ordering::SeqCst) >= 3);
        irq::mask();

        let taken = irq::taken() - before;
        let n = EVENT_COUNT.load(Ordering::SeqCst);
        let mut events = [(0u32, 0u32); 3];
        for (slot, event) in events.iter_mut().zip(&EVENTS) {
            let raw = event.load(Ordering::SeqCst);
            *slot = (raw >> 8, raw & 0xff);
        }
        let want = [
            (Event::LowEntered as u32, u32::from(LOW_PRIORITY)),
            (Event::HighRan as u32, u32::from(HIGH_PRIORITY)),
            (Event::LowLeaving as u32, u32::from(LOW_PRIORITY)),
        ];
        if n != 3 || events != want {
            fail!("expected (event, ICC_RPR_EL1) = low-entered/{LOW_PRIORITY:#x}, high/{HIGH_PRIORITY:#x}, low-leaving/{LOW_PRIORITY:#x} (BPR1={bpr}), got {n} events {events:x?}");
        }
        if taken != 2 {
            fail!("expected 2 IRQs, got {taken}");
        }
        let busy = (rd.pending() | rd.active()) & (1 << LOW_SGI | 1 << HIGH_SGI);
        let rpr = gic::running_priority();
        if busy != 0 || rpr != 0xff {
            fail!("after both EOIs: expected both SGIs inactive and ICC_RPR_EL1 = 0xff, got pending|active={busy:#x} RPR={rpr:#x}");
        }
        Ok(detail!(
            "SGI {HIGH_SGI} ({HIGH_PRIORITY:#x}) preempted SGI {LOW_SGI} ({LOW_PRIORITY:#x}), BPR1={bpr}"
        ))
    })
}
