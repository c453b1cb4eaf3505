//! The `rng-seed` and `kaslr-seed` each guest boots with (`aerie_seed`).
//! Aerie's pool is filled at boot from the boot loader's `/chosen/rng-seed`,
//! the CPU's RNDR where it has FEAT_RNG, and the counter; each guest boot
//! then gets seeds of its own, derived from the pool, the VM and a number
//! never used twice.

use crate::arch::aarch64::cpu;
use aerie_seed::{Pool, Source, SEED_LEN};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

static POOL: Mutex<Pool> = Mutex::new(Pool::new());
static NONCE: AtomicU64 = AtomicU64::new(0);

/// RNDR reads taken at boot (8 bytes each).
const RNDR_READS: usize = 8;

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
    if !pool.strong() {
        log::warn!(
            "no entropy source (no /chosen/rng-seed from the boot loader, no RNDR): \
             guests' rng-seed comes from the counter and can be guessed"
        );
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
