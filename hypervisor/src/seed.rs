//! The `rng-seed` and `kaslr-seed` each guest boots with (`aerie_seed`).
//! Aerie's pool is filled at boot from the boot loader's `/chosen/rng-seed`,
//! the CPU's RNDR where it has FEAT_RNG, CPU timing jitter that passes its
//! health tests (`aerie_seed::jitter`), and the counter; each guest boot
//! then gets seeds of its own, derived from the pool, the VM and a number
//! never used twice.

use crate::arch::aarch64::cpu;
use aerie_seed::jitter::{self, Assessment, Refusal, Walk};
use aerie_seed::{Pool, Source, SEED_LEN};
use alloc::boxed::Box;
use alloc::vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

static POOL: Mutex<Pool> = Mutex::new(Pool::new());
static NONCE: AtomicU64 = AtomicU64::new(0);

/// RNDR reads taken at boot (8 bytes each).
const RNDR_READS: usize = 8;

/// The jitter's walk: 64 KiB of memory (more than a Cortex-A53's or A72's
/// L1 data cache), 2,048 steps a timing (some 5 µs under QEMU, where
/// the clock moves in steps of 10 ns: shorter walks made fewer distinct
/// timings).
const WALK_WORDS: usize = 8192;
const WALK_STEPS: usize = 2048;

/// Fills the pool at boot from the boot loader's seed, if any, and the CPU.
pub fn init(boot_seed: Option<&[u8]>) {
    let mut pool = POOL.lock();
    if let Some(seed) = boot_seed {
        pool.mix(Source::BootSeed, seed);
    }
    let mut rndr = [0u8; 8 * RNDR_READS];
    let mut got = 0;
    for chunk in rndr.chunks_mut(8) {
        let Some(v) = cpu::rndr() else { break };
        chunk.copy_from_slice(&v.to_le_bytes());
        got += 8;
    }
    if got > 0 {
        pool.mix(Source::Rndr, &rndr[..got]);
    }
    pool.mix(Source::Counter, &cpu::counter().to_le_bytes());
    log::debug!(
        "entropy: boot loader seed {} bytes, RNDR {got} bytes",
        boot_seed.map_or(0, <[u8]>::len)
    );
    // Timed only where nothing else made the pool strong: some 6 ms of
    // every boot under QEMU, more on a board.
    if pool.strong() {
        return;
    }
    match time_walks(&mut pool) {
        (clock, Ok(a)) => log::info!(
            "entropy: {} bits from CPU timing jitter ({} walks timed by the {clock}, {} stuck; \
             the most common timing {} times in {})",
            jitter::CREDITED_BITS,
            a.timings,
            a.stuck,
            a.most_common,
            jitter::SAMPLES
        ),
        (clock, Err(why)) => log::warn!(
            "no entropy source (no /chosen/rng-seed from the boot loader, no RNDR, and CPU \
             timing jitter by the {clock} failed: {why}): guests' rng-seed can be guessed"
        ),
    }
}

/// Times walks of memory into the pool (`aerie_seed::jitter`) by the
/// PMU's cycle counter, or by the generic counter on a CPU without one;
/// which clock, and what the assessment said.
fn time_walks(pool: &mut Pool) -> (&'static str, Result<Assessment, Refusal>) {
    let mut memory = vec![0u64; WALK_WORDS];
    let mut walk = Walk::new(&mut memory, WALK_STEPS);
    let mut kept: Box<[u64; jitter::SAMPLES]> = vec![0u64; jitter::SAMPLES]
        .into_boxed_slice()
        .try_into()
        .expect("SAMPLES words");
    match cpu::CycleCounter::start() {
        Some(cycles) => (
            "cycle counter",
            pool.mix_jitter(|| walk.time(&mut || cycles.read()), &mut kept),
        ),
        None => (
            "generic counter",
            pool.mix_jitter(|| walk.time(&mut cpu::counter), &mut kept),
        ),
    }
}

/// What one boot of a guest gets.
pub struct GuestSeeds {
    /// `/chosen/rng-seed`.
    pub rng: [u8; SEED_LEN],
    /// `/chosen/kaslr-seed`.
    pub kaslr: u64,
}

/// Fresh seeds for a boot of VM `vm`. The counter goes into the pool
/// first, so they also depend on when they were made.
pub fn for_vm(vm: u32) -> GuestSeeds {
    let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
    let mut pool = POOL.lock();
    pool.mix(Source::Counter, &cpu::counter().to_le_bytes());
    GuestSeeds {
        rng: pool.seed(vm, nonce),
        kaslr: pool.kaslr_seed(vm, nonce),
    }
}
