//! `aerie.bench=irq`: Aerie measures its own interrupt paths at boot, on the
//! boot pCPU, and prints them as `bench:` lines (`cargo xtask bench` reads
//! them; under `-icount shift=0` counter ticks convert to instructions).
//!
//! - `irq_entry_exit`: a regular SGI to itself, taken at EL2 while idle-like
//!   (PMR open, PSTATE.I clear): from the send to the code after it runs,
//!   i.e. entry, acknowledge, the regular path, EOI/deactivate, return.
//! - `pnmi_latency`: inside a regular interrupt's handler (PMR raised,
//!   PSTATE.I clear), a pseudo-NMI SGI to itself: from making it pending to
//!   the first instruction of its handler's work.

use super::{stop, PMR_ALL, PMR_REGULAR_MASKED, SGI_KICK, SGI_STOP};
use crate::arch::aarch64::{cpu, gic};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const ITERS: u64 = 200;

static IN_HANDLER: AtomicBool = AtomicBool::new(false);
static SENT_AT: AtomicU64 = AtomicU64::new(0);
static LATENCY_SUM: AtomicU64 = AtomicU64::new(0);
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// Called from the regular path: true when this SGI belongs to the bench
/// (it then does the pseudo-NMI part when asked to).
pub fn in_regular_handler() -> bool {
    if !IN_HANDLER.load(Ordering::SeqCst) {
        return false;
    }
    if SENT_AT.load(Ordering::SeqCst) == u64::MAX {
        // pnmi_latency: raise the pseudo-NMI from inside this handler.
        let t0 = cpu::counter();
        self_sgi(SGI_STOP);
        // It is taken here, preempting this handler (PSTATE.I is clear).
        while stop::BENCH_ENTERED.load(Ordering::SeqCst) == 0 {
            core::hint::spin_loop();
        }
        let t1 = stop::BENCH_ENTERED.swap(0, Ordering::SeqCst);
        LATENCY_SUM.fetch_add(t1 - t0, Ordering::SeqCst);
    }
    HANDLED.fetch_add(1, Ordering::SeqCst);
    true
}

/// SGI `intid` to this pCPU.
fn self_sgi(intid: u32) {
    let mpidr = cpu::mpidr();
    gic::send_sgi(intid, (mpidr >> 8) & 0xff, 1 << (mpidr & 0xf));
}

/// Run both benchmarks on this pCPU and print their lines.
pub fn run() {
    let freq = cpu::counter_frequency();
    IN_HANDLER.store(true, Ordering::SeqCst);
    gic::set_priority_mask(PMR_ALL);

    // irq_entry_exit
    HANDLED.store(0, Ordering::SeqCst);
    SENT_AT.store(0, Ordering::SeqCst);
    let start = cpu::counter();
    for i in 1..=ITERS {
        self_sgi(SGI_KICK);
        while HANDLED.load(Ordering::SeqCst) < i {
            core::hint::spin_loop();
        }
    }
    let ticks = cpu::counter() - start;
    crate::println!("bench: name=irq_entry_exit iters={ITERS} ticks={ticks} freq={freq}");

    // pnmi_latency
    stop::set_mode_bench();
    HANDLED.store(0, Ordering::SeqCst);
    SENT_AT.store(u64::MAX, Ordering::SeqCst);
    for i in 1..=ITERS {
        self_sgi(SGI_KICK);
        while HANDLED.load(Ordering::SeqCst) < i {
            core::hint::spin_loop();
        }
    }
    let ticks = LATENCY_SUM.load(Ordering::SeqCst);
    crate::println!("bench: name=pnmi_latency iters={ITERS} ticks={ticks} freq={freq}");

    gic::set_priority_mask(PMR_REGULAR_MASKED);
    IN_HANDLER.store(false, Ordering::SeqCst);
    stop::set_mode_dump();
}
