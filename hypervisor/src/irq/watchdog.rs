//! Lockup watchdog: each pCPU's EL1 physical timer (PPI 30, which guests
//! cannot use: CNTHCTL_EL2.EL1PCEN traps it) fires every PERIOD_MS as a
//! pseudo-NMI and checks that the pCPU made progress, i.e. handled a regular
//! interrupt (its 4 ms slice tick at least) or sat idle. A pCPU that did
//! neither for THRESHOLD is stuck with regular interrupts masked: it reports
//! where (ELR and a frame-pointer backtrace) and panics, or only reports
//! (`aerie.watchdog=report`).

use super::pnmi::Interrupted;
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::sysreg::{isb, write_sysreg};
use crate::sched::MAX_PCPUS;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const PERIOD_MS: u64 = 100;
/// How long without progress counts as a lock-up.
pub static THRESHOLD_MS: AtomicU64 = AtomicU64::new(1000);
/// Panic on a lock-up (else only report, and again every threshold).
pub static PANIC: AtomicBool = AtomicBool::new(true);

static HEARTBEAT: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(0) }; MAX_PCPUS];
static SEEN: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(0) }; MAX_PCPUS];
static STALLED_SINCE: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(0) }; MAX_PCPUS];
static IDLE: [AtomicBool; MAX_PCPUS] = [const { AtomicBool::new(false) }; MAX_PCPUS];

fn arm() {
    write_sysreg!(cntp_cval_el0, cpu::counter() + cpu::ms_to_ticks(PERIOD_MS));
    write_sysreg!(cntp_ctl_el0, 1);
    isb();
}

/// Start the watchdog on this pCPU.
pub fn start() {
    arm();
}

/// This pCPU handled a regular interrupt (or waits for a device, busy).
/// Only `cpu` itself writes its beat, so a load and a store do: no
/// read-modify-write, which is an exclusive pair on Armv8.0 in every
/// interrupt and every turn of a disk's polling loop. An interrupt between
/// the two can only lose a beat, and the next call makes one.
#[inline]
pub fn progress(cpu: usize) {
    let beat = &HEARTBEAT[cpu];
    beat.store(
        beat.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// This pCPU is (or is no longer) idling in WFI: not stuck.
pub fn set_idle(cpu: usize, idle: bool) {
    IDLE[cpu].store(idle, Ordering::Relaxed);
}

/// The pseudo-NMI: check progress, report a lock-up.
pub fn check(cpu: usize, at: &Interrupted) {
    arm();
    let beat = HEARTBEAT[cpu].load(Ordering::Relaxed);
    if beat != SEEN[cpu].swap(beat, Ordering::Relaxed) || IDLE[cpu].load(Ordering::Relaxed) {
        STALLED_SINCE[cpu].store(0, Ordering::Relaxed);
        return;
    }
    let now = cpu::counter();
    let since = STALLED_SINCE[cpu].load(Ordering::Relaxed);
    if since == 0 {
        STALLED_SINCE[cpu].store(now, Ordering::Relaxed);
        return;
    }
    let stuck_ms = (now - since) * 1000 / cpu::counter_frequency();
    if stuck_ms < THRESHOLD_MS.load(Ordering::Relaxed) {
        return;
    }
    report(cpu, at, stuck_ms);
    if PANIC.load(Ordering::Relaxed) {
        panic!("watchdog: cpu {cpu} locked up");
    }
    STALLED_SINCE[cpu].store(now, Ordering::Relaxed);
}

fn report(cpu: usize, at: &Interrupted, stuck_ms: u64) {
    use crate::console::print_emergency as out;
    match at {
        Interrupted::Aerie(frame) => {
            out(format_args!(
                "aerie: watchdog: cpu {cpu} stuck with interrupts masked for {stuck_ms} ms at ELR={:#x} {}\n",
                frame.elr,
                crate::symbols::Symbolised(frame.elr)
            ));
            // Return addresses: symbolise the call (pc - 4), which may be the
            // last instruction of a function whose callee never returns.
            crate::symbols::backtrace(cpu, frame.x[29], |i, pc| {
                out(format_args!("aerie: watchdog:   #{i} {pc:#x} {}\n", crate::symbols::Symbolised(pc - 4)))
            });
        }
        Interrupted::Guest { vm, vcpu, pc } => out(format_args!(
            "aerie: watchdog: cpu {cpu} made no progress for {stuck_ms} ms while running vm {vm} vcpu {vcpu} at {pc:#x}\n"
        )),
    }
}
