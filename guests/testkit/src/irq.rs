//! IRQ handling: PSTATE.I control and the dispatcher the IRQ vector (EL1h)
//! calls. The dispatcher acknowledges (ICC_IAR1_EL1), calls this CPU's
//! installed handler with the INTID, masks PSTATE.I again (a handler may have
//! unmasked it to allow preemption) and EOIs (ICC_EOIR1_EL1, EOImode 0).
//!
//! State is per CPU (indexed by MPIDR.Aff0) and each slot has one writer, its
//! CPU: plain loads and stores, as exclusives must not be used on the Device
//! memory the testkit runs on (MMU off).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::counter::Deadline;
use crate::gic;
use crate::machine::MAX_CPUS;
use crate::watchdog;

/// What a test runs for each acknowledged interrupt, on the CPU that took it.
pub type Handler = fn(intid: u32);

/// Acknowledged interrupts a CPU remembers until it EOIs them (nesting depth).
const MAX_NESTING: usize = 4;

struct CpuState {
    /// A `Handler` as usize (0 = none).
    handler: AtomicUsize,
    /// Interrupts acknowledged (special INTIDs excluded).
    taken: AtomicU64,
    /// Acknowledged and not yet EOId, innermost last.
    in_flight: [AtomicU32; MAX_NESTING],
    depth: AtomicUsize,
}

static CPUS: [CpuState; MAX_CPUS] = [const {
    CpuState {
        handler: AtomicUsize::new(0),
        taken: AtomicU64::new(0),
        in_flight: [const { AtomicU32::new(0) }; MAX_NESTING],
        depth: AtomicUsize::new(0),
    }
}; MAX_CPUS];

/// CNTVCT_EL0 as read by the IRQ vector before anything else (vectors.rs),
/// for the interrupt-latency benchmark. Written by every IRQ on every CPU.
pub static ENTRY_TICKS: AtomicU64 = AtomicU64::new(0);

fn this_cpu() -> &'static CpuState {
    let aff0 = (crate::sysreg::mpidr_affinity() & 0xff) as usize;
    &CPUS[aff0.min(MAX_CPUS - 1)]
}

/// Installs (or with None removes) this CPU's handler.
pub fn set_handler(handler: Option<Handler>) {
    let raw = handler.map_or(0, |h| h as usize);
    this_cpu().handler.store(raw, Ordering::SeqCst);
}

fn handler() -> Option<Handler> {
    let raw = this_cpu().handler.load(Ordering::SeqCst);
    // SAFETY: `set_handler` is the only writer and stores either 0 or a
    // `Handler` converted to usize; fn pointers and usize have the same size.
    (raw != 0).then(|| unsafe { core::mem::transmute::<usize, Handler>(raw) })
}

/// Interrupts this CPU has acknowledged so far.
pub fn taken() -> u64 {
    this_cpu().taken.load(Ordering::SeqCst)
}

/// Clears PSTATE.I: IRQs are taken from the next instruction on.
pub fn unmask() {
    // SAFETY: only changes PSTATE.I. Not `nomem`: from here on an interrupt
    // handler may write memory the caller then reads.
    unsafe { core::arch::asm!("msr daifclr, #2", "isb", options(nostack)) };
}

/// Sets PSTATE.I: IRQs stay pending until `unmask`.
pub fn mask() {
    // SAFETY: only changes PSTATE.I; acts as a compiler barrier on purpose.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack)) };
}

/// Waits until `done()` or the deadline, sleeping in WFI between interrupts
/// instead of spinning (so a hypervisor or an icount QEMU runs the other
/// vCPUs). `done` is checked with IRQs masked, so an interrupt arriving after
/// the check is still pending when WFI runs and wakes it. WFI needs some
/// interrupt to end: arm the `watchdog` to bound a wait for one that may
/// never come. Returns with PSTATE.I set, and whether `done()` held.
pub fn wfi_until(deadline: &Deadline, mut done: impl FnMut() -> bool) -> bool {
    loop {
        mask();
        if done() {
            return true;
        }
        if deadline.expired() {
            return false;
        }
        // SAFETY: WFI only suspends; not `nomem` because the interrupt that
        // ends it is taken right after `unmask` and its handler writes memory.
        unsafe { core::arch::asm!("wfi", options(nostack)) };
        unmask();
    }
}

/// Called by the IRQ vector (current EL, SPx).
pub fn dispatch() {
    let cpu = this_cpu();
    let ack = gic::acknowledge();
    let intid = gic::intid_of(ack);
    if intid >= gic::FIRST_SPECIAL_INTID {
        return; // spurious: nothing was acknowledged, nothing to EOI
    }
    cpu.taken
        .store(cpu.taken.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    let depth = cpu.depth.load(Ordering::SeqCst);
    if let Some(slot) = cpu.in_flight.get(depth) {
        slot.store(ack, Ordering::SeqCst);
    }
    cpu.depth.store(depth + 1, Ordering::SeqCst);

    if !watchdog::handle(intid) {
        if let Some(handler) = handler() {
            handler(intid);
        }
    }

    mask();
    gic::end_of_interrupt(ack);
    cpu.depth.store(depth, Ordering::SeqCst);
}

/// EOIs, innermost first, whatever this CPU acknowledged and never finished
/// (a test abandoned inside a handler), so the running priority drops back to
/// idle for the next test.
pub fn finish_abandoned() {
    let cpu = this_cpu();
    let depth = cpu.depth.load(Ordering::SeqCst);
    for slot in cpu.in_flight[..depth.min(MAX_NESTING)].iter().rev() {
        gic::end_of_interrupt(slot.load(Ordering::SeqCst));
    }
    cpu.depth.store(0, Ordering::SeqCst);
}
