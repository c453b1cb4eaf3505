//! Sampling profiler: the PMU cycle counter overflows every PERIOD cycles
//! and its interrupt (PPI 23) is a pseudo-NMI that records the interrupted
//! PC and where it was (Aerie, or which VM) in a per-pCPU lock-free ring.
//! Regular code aggregates them (Aerie's per function, a guest's per PC)
//! and prints the top entries (`aerie.profile=1`:
//! when the last VM stops; Ctrl-A p on the console at any time).

use super::pnmi::Interrupted;
use crate::arch::aarch64::sysreg::{isb, write_sysreg};
use crate::sched::MAX_PCPUS;
use aerie_nmisafe::{NmiContext, SampleRing, TopN};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Cycles between samples (instructions under `-icount shift=0`).
const PERIOD: u64 = 50_000;
const RING: usize = 4096;

pub static ENABLED: AtomicBool = AtomicBool::new(false);
static RINGS: [SampleRing<RING>; MAX_PCPUS] = [const { SampleRing::new() }; MAX_PCPUS];
static AERIE: AtomicU64 = AtomicU64::new(0);
static GUEST: AtomicU64 = AtomicU64::new(0);

fn rearm() {
    write_sysreg!(pmovsclr_el0, 1 << 31);
    write_sysreg!(pmccntr_el0, u64::MAX - PERIOD);
    isb();
}

/// Start sampling on this pCPU: the cycle counter counts at EL2 too
/// (PMCCFILTR_EL0.NSH) and interrupts on overflow. Guests cannot touch the
/// PMU (MDCR_EL2.TPM), so Aerie owns it.
pub fn start_this_cpu() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    crate::arch::aarch64::cpu::start_cycle_counter();
    rearm();
    write_sysreg!(pmintenset_el1, 1 << 31);
    isb();
}

/// Where the sample is, packed: PC in bits [47:0], 0 = Aerie or VM index + 1
/// in [63:48].
fn encode(pc: u64, who: u64) -> u64 {
    (pc & 0xffff_ffff_ffff) | (who << 48)
}

/// The pseudo-NMI: record one sample, re-arm.
pub fn sample(cpu: usize, at: &Interrupted, ctx: &NmiContext) {
    let record = match at {
        Interrupted::Aerie(f) => {
            AERIE.fetch_add(1, Ordering::Relaxed);
            encode(f.elr, 0)
        }
        Interrupted::Guest { vm, pc, .. } => {
            GUEST.fetch_add(1, Ordering::Relaxed);
            encode(*pc, *vm as u64 + 1)
        }
    };
    RINGS[cpu].push(ctx, record);
    rearm();
}

/// Print the samples so far (regular code).
pub fn report(vm_name: impl Fn(usize) -> alloc::string::String) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let mut top = TopN::<10>::new();
    for ring in &RINGS {
        if let Some(mut reader) = ring.reader() {
            // Aerie's samples count per function (a function's time is
            // spread over its instructions); a guest's per PC, as Aerie has
            // no guest symbols.
            reader.drain(|record| {
                let (pc, who) = (record & 0xffff_ffff_ffff, record >> 48);
                let start = (who == 0)
                    .then(|| crate::symbols::function_start(pc))
                    .flatten();
                top.record(start.map_or(record, |f| encode(f, 0)));
            });
        }
    }
    let (a, g) = (AERIE.load(Ordering::Relaxed), GUEST.load(Ordering::Relaxed));
    crate::println!("aerie: profile: {} samples, aerie {a}, guest {g}", a + g);
    for &(record, count) in top.top().as_slice() {
        let (pc, who) = (record & 0xffff_ffff_ffff, record >> 48);
        if who == 0 {
            crate::println!(
                "aerie: profile: {count} aerie {pc:#x} {}",
                crate::symbols::Symbolised(pc)
            );
        } else {
            crate::println!(
                "aerie: profile: {count} vm:{} {pc:#x} ?",
                vm_name(who as usize - 1)
            );
        }
    }
}
