//! Deliberate misbehaviour for the integration tests (`aerie.test=...`):
//! each mode proves a claim that only a broken situation can show.

mod mem;

use crate::arch::aarch64::{cpu, gic};
use crate::bootargs::BootTest;
use crate::irq::{stop, PMR_REGULAR_MASKED};
use core::sync::atomic::Ordering;

fn wait_ms(ms: u64) {
    let end = cpu::counter() + cpu::ms_to_ticks(ms);
    while cpu::counter() < end {
        core::hint::spin_loop();
    }
}

/// On the boot pCPU, after the others are started.
pub fn run(test: BootTest) {
    match test {
        BootTest::SpinInIrq => spin_in_irq(),
        BootTest::DumpMasked => dump_masked(),
        BootTest::PnmiNested => pnmi_nested(),
        _ => {}
    }
}

/// On the boot pCPU, before the others start: nothing runs a VM yet, so a
/// check here finishes before any VM can power the machine off.
pub fn before_secondaries(test: BootTest) {
    if test == BootTest::Mem {
        match mem::check() {
            Ok(cases) => log::info!("boot-test: memcpy and memset right in {cases} cases"),
            Err(e) => panic!("boot-test: {e}"),
        }
    }
}

/// On secondary pCPU `index` before it starts scheduling.
pub fn secondary(index: usize, test: BootTest) {
    if test == BootTest::DumpMasked && index == 1 {
        // "Interrupts off" (the priority mask) and busy for ever: only a
        // pseudo-NMI can get this pCPU's attention now.
        gic::set_priority_mask(PMR_REGULAR_MASKED);
        loop {
            core::hint::spin_loop();
        }
    }
}

/// Wait until pCPU 1 can take SGIs, then send it the stop/dump SGI once and
/// wait up to `ms` for `done`. One SGI must do: a lost one is the bug this
/// test is there to catch.
fn ask_cpu1_once(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    wait_cpu1_online();
    stop::signal(1);
    cpu::poll_for(ms, &mut done)
}

/// A regular interrupt (a kick to itself) whose handler spins while this
/// pCPU holds the machine lock, as a buggy handler would: the other pCPUs
/// soon wait for the lock, and the watchdog must report this pCPU and
/// where it is.
fn spin_in_irq() {
    let _held = crate::sched::lock();
    crate::irq::SPIN_IN_HANDLER.store(true, Ordering::SeqCst);
    let mpidr = cpu::mpidr();
    gic::send_sgi(
        crate::irq::SGI_KICK,
        (mpidr >> 8) & 0xff,
        1 << (mpidr & 0xf),
    );
    // Let it in: open the priority mask (PSTATE.I is clear).
    gic::set_priority_mask(crate::irq::PMR_ALL);
    wait_ms(100);
    panic!("boot-test: the kick was not taken");
}

/// Wait (up to 1 s) until pCPU 1 can take SGIs (`pcpu::online`).
fn wait_cpu1_online() {
    if !cpu::poll_for(1000, || crate::sched::pcpu::online(1)) {
        panic!("boot-test: cpu 1 did not come online");
    }
}

fn dump_masked() {
    wait_cpu1_online();
    // Let it reach its masked loop.
    wait_ms(50);
    stop::dump_all();
    if cpu::poll_for(2000, || stop::dumps_answered(1) > 0) {
        crate::println!("boot-test: dump arrived from cpu 1");
        crate::power::exit(0);
    }
    panic!("boot-test: no dump from cpu 1 within 2 s");
}

fn pnmi_nested() {
    let me = crate::sched::this_cpu();
    // 1. A pseudo-NMI while one is handled: the handler raises another to
    //    itself; it must be taken after the first returns, no deadlock.
    stop::NEST_ONCE.store(true, Ordering::SeqCst);
    stop::set_mode_dump();
    let before = stop::dumps_answered(me);
    stop::signal(me);
    if !cpu::poll_for(1000, || stop::dumps_answered(me) >= before + 2) {
        panic!(
            "boot-test: nested pseudo-NMI not handled (answered {})",
            stop::dumps_answered(me) - before
        );
    }
    crate::println!("boot-test: nested pseudo-NMI handled");
    // Out now: a guest's unfinished line holds Aerie's back, and pCPU 1,
    // about to stop, may stop while it holds the console.
    crate::console::flush_held(true);
    // 2. pCPU 1 stops; a further pseudo-NMI to it (and a dump request that
    //    includes it) must neither hang it nor this pCPU.
    stop::set_mode_stop();
    if !ask_cpu1_once(1000, || stop::stopped(1)) {
        panic!("boot-test: cpu 1 did not stop");
    }
    stop::set_mode_dump();
    stop::signal(1);
    stop::dump_all();
    wait_ms(20);
    // Not through the console lock: the stopped pCPU may hold it.
    crate::console::print_emergency(format_args!(
        "boot-test: pseudo-NMI on a stopping CPU handled\n"
    ));
    crate::power::exit(0);
}
