//! Pseudo-NMI dispatch. A pseudo-NMI handler runs with PSTATE.I set and may
//! interrupt Aerie anywhere, including with the machine lock or the console
//! lock held, so it takes no lock that regular code takes: it uses per-CPU
//! atomics and lock-free buffers (`aerie_nmisafe`), and writes the console
//! directly (`console::print_emergency`).

use super::{profiler, stop, watchdog, PPI_PMU, PPI_WATCHDOG, SGI_STOP};
use crate::panic::ExceptionFrame;
use crate::sched::{this_cpu, MAX_PCPUS};
use aerie_nmisafe::NmiContext;
use core::sync::atomic::{AtomicBool, Ordering};

/// Where the pseudo-NMI found the pCPU.
#[derive(Clone, Copy)]
pub enum Interrupted<'a> {
    /// In Aerie's own code: the saved frame.
    Aerie(&'a ExceptionFrame),
    /// Running a guest: the exit's vCPU.
    Guest { vm: usize, vcpu: usize, pc: u64 },
}

impl Interrupted<'_> {
    /// A copy (several pseudo-NMIs can be drained in one exit).
    pub fn same(&self) -> Self {
        *self
    }
}

static IN_NMI: [AtomicBool; MAX_PCPUS] = [const { AtomicBool::new(false) }; MAX_PCPUS];

/// Whether this pCPU is inside a pseudo-NMI handler (locks assert it is not).
pub fn in_nmi() -> bool {
    IN_NMI[this_cpu()].load(Ordering::Relaxed)
}

/// Handle pseudo-NMI `intid` (already acknowledged; the caller completes it).
pub fn handle(intid: u32, at: Interrupted) {
    let cpu = this_cpu();
    IN_NMI[cpu].store(true, Ordering::Relaxed);
    // SAFETY: this is the pseudo-NMI dispatcher, the one place entitled to
    // make the context token.
    let ctx = unsafe { NmiContext::enter() };
    match intid {
        PPI_WATCHDOG => watchdog::check(cpu, &at),
        SGI_STOP => stop::handle(cpu, &at),
        PPI_PMU => profiler::sample(cpu, &at, &ctx),
        _ => {}
    }
    IN_NMI[cpu].store(false, Ordering::Relaxed);
}
