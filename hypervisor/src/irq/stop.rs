//! The stop/dump pseudo-NMI (SGI 1): a panicking pCPU stops the others, and
//! a dump request (Ctrl-A d on the console) makes every pCPU print its state.
//! Each pCPU reports from its own handler, so a pCPU stuck with regular
//! interrupts masked still answers.

use super::pnmi::Interrupted;
use super::SGI_STOP;
use crate::arch::aarch64::{cpu, gic, sysreg};
use crate::sched::{pcpu, MAX_PCPUS};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

const MODE_DUMP: u8 = 1;
const MODE_STOP: u8 = 2;
/// `aerie.bench=irq`: only note when the handler started.
const MODE_BENCH: u8 = 3;

/// Counter value at the start of the last bench-mode handler.
pub static BENCH_ENTERED: AtomicU64 = AtomicU64::new(0);
/// Test hook (`aerie.test=pnmi-nested`): the first dump handler on the
/// requesting pCPU raises another stop/dump SGI to itself, which arrives
/// while the handler runs.
pub static NEST_ONCE: AtomicBool = AtomicBool::new(false);

static MODE: AtomicU8 = AtomicU8::new(0);
static STOPPED: [AtomicBool; MAX_PCPUS] = [const { AtomicBool::new(false) }; MAX_PCPUS];
/// How many dump requests each pCPU has answered.
static DUMPS: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(0) }; MAX_PCPUS];

/// Send the stop/dump SGI to pCPU `p`, if it can take SGIs yet (one sent
/// earlier would be lost: `pcpu::online`). Returns whether it was sent.
pub fn signal(p: usize) -> bool {
    match pcpu::mpidr_of(p) {
        Some(mpidr) if pcpu::online(p) => {
            gic::send_sgi(SGI_STOP, (mpidr >> 8) & 0xff, 1 << (mpidr & 0xf));
            true
        }
        _ => false,
    }
}

/// Called by pCPU `me` as soon as it can take SGIs: if a stop was requested
/// before, it missed the SGI, so it sends itself one (taken at once: regular
/// interrupts are masked by the priority mask only, PSTATE.I is clear).
pub fn came_online(me: usize) {
    if MODE.load(Ordering::SeqCst) == MODE_STOP {
        signal(me);
    }
}

/// Set what the next stop/dump SGIs mean.
pub fn set_mode_dump() {
    MODE.store(MODE_DUMP, Ordering::SeqCst);
}

pub fn set_mode_stop() {
    MODE.store(MODE_STOP, Ordering::SeqCst);
}

pub fn set_mode_bench() {
    MODE.store(MODE_BENCH, Ordering::SeqCst);
}

/// Ask every other pCPU to print its state; this one prints its own. A pCPU
/// still starting is named as such.
pub fn dump_all() {
    let me = crate::sched::this_cpu();
    crate::console::print_emergency(format_args!(
        "aerie: dump: cpu {me}: requested here (pmr={:#x})\n",
        gic::priority_mask()
    ));
    MODE.store(MODE_DUMP, Ordering::SeqCst);
    signal_others(me, "");
}

/// Send the stop/dump SGI to every pCPU but `me` that can take it; a pCPU
/// still starting is named (`aerie: dump: cpu N: starting<note>`). Returns
/// which were sent one.
fn signal_others(me: usize, note: &str) -> [bool; MAX_PCPUS] {
    let mut sent = [false; MAX_PCPUS];
    for (p, sent) in sent.iter_mut().enumerate().filter(|&(p, _)| p != me) {
        *sent = signal(p);
        if !*sent && pcpu::mpidr_of(p).is_some() {
            crate::console::print_emergency(format_args!("aerie: dump: cpu {p}: starting{note}\n"));
        }
    }
    sent
}

/// Stop every other pCPU (a panic): each prints its state and halts. The
/// ones that can take SGIs get one; one still starting stops as it comes
/// online (`came_online`). Waits up to 20 ms for the stopping pCPUs to
/// report, so their lines come before the panic message.
pub fn stop_others() {
    let me = crate::sched::this_cpu();
    MODE.store(MODE_STOP, Ordering::SeqCst);
    let sent = signal_others(me, " (stops when it comes online)");
    let end = cpu::counter() + cpu::ms_to_ticks(20);
    while cpu::counter() < end && (0..MAX_PCPUS).any(|p| sent[p] && !stopped(p)) {
        core::hint::spin_loop();
    }
}

/// Dump requests pCPU `cpu` has answered.
pub fn dumps_answered(cpu: usize) -> u64 {
    DUMPS[cpu].load(Ordering::SeqCst)
}

/// Whether pCPU `cpu` has stopped.
pub fn stopped(cpu: usize) -> bool {
    STOPPED[cpu].load(Ordering::SeqCst)
}

/// The pseudo-NMI handler.
pub fn handle(cpu: usize, at: &Interrupted) {
    let mode = MODE.load(Ordering::SeqCst);
    if mode == MODE_BENCH {
        BENCH_ENTERED.store(cpu::counter(), Ordering::SeqCst);
        return;
    }
    if mode == MODE_DUMP && NEST_ONCE.swap(false, Ordering::SeqCst) {
        // Another pseudo-NMI, pending while this one runs (PSTATE.I set):
        // taken once this handler returns.
        signal(cpu);
    }
    print_state(
        cpu,
        at,
        if mode == MODE_STOP {
            "stopping"
        } else {
            "running"
        },
    );
    if mode == MODE_STOP {
        STOPPED[cpu].store(true, Ordering::SeqCst);
        // Stay here with PSTATE.I set: further pseudo-NMIs stay pending.
        loop {
            cpu::wait_for_interrupt();
            sysreg::wfe();
        }
    }
    DUMPS[cpu].fetch_add(1, Ordering::SeqCst);
}

fn print_state(cpu: usize, at: &Interrupted, what: &str) {
    use crate::console::print_emergency as out;
    let pmr = gic::priority_mask();
    match at {
        Interrupted::Aerie(f) => out(format_args!(
            "aerie: dump: cpu {cpu}: {what} in Aerie at ELR={:#x} {} SPSR={:#x} pmr={pmr:#x}\n",
            f.elr,
            crate::symbols::Symbolised(f.elr),
            f.spsr
        )),
        Interrupted::Guest { vm, vcpu, pc } => out(format_args!(
            "aerie: dump: cpu {cpu}: {what}, guest vm {vm} vcpu {vcpu} at pc={pc:#x} pmr={pmr:#x}\n"
        )),
    }
}
