//! Entropy for guests. Linux credits a `/chosen/rng-seed` in its device
//! tree to its random number generator at boot, which is then ready at
//! once (QEMU gives one to every guest it boots; a Cortex-A72 has no RNDR,
//! so without a seed a guest's generator waits for interrupt timing, and
//! every read of `/dev/urandom` or `getrandom()` before that costs it
//! jitter-entropy work or blocks).
//!
//! Linux also places itself (and its modules) at a random offset when the
//! tree carries a `/chosen/kaslr-seed` (KASLR; with it, on an arm64 CPU
//! without FEAT_E0PD, the kernel also unmaps itself from user space: KPTI).
//! QEMU gives one to every guest it boots, so a guest under Aerie gets one
//! too.
//!
//! Aerie keeps a [`Pool`]: a 32-byte key that every source is hashed into
//! (SHA-256 of the old key, the source's tag and its bytes), and derives
//! each guest's seeds from it, the VM's index and a number never used
//! twice, so VMs and restarts of one VM get unrelated seeds.
#![cfg_attr(not(test), no_std)]

pub mod jitter;

use sha2::{Digest, Sha256};

/// Bytes of `rng-seed` each guest gets (Linux takes up to 512).
pub const SEED_LEN: usize = 64;

/// Where entropy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The boot loader's `/chosen/rng-seed` (QEMU, or Aerie's UEFI loader
    /// from the firmware's EFI_RNG_PROTOCOL).
    BootSeed,
    /// The CPU's random number instruction (FEAT_RNG, RNDR).
    Rndr,
    /// A counter or timing: guessable, mixed in so that seeds differ even
    /// without a real source.
    Counter,
    /// CPU timing jitter ([`jitter`]): credited only as far as its
    /// assessment allows ([`Pool::mix_jitter`]).
    Jitter,
}

impl Source {
    fn tag(self) -> u8 {
        match self {
            Source::BootSeed => 1,
            Source::Rndr => 2,
            Source::Counter => 3,
            Source::Jitter => 4,
        }
    }

    /// Whether every byte of the source is unpredictable.
    pub fn strong(self) -> bool {
        !matches!(self, Source::Counter | Source::Jitter)
    }
}

/// Aerie's entropy pool.
#[derive(Clone, Debug)]
pub struct Pool {
    key: [u8; 32],
    /// Bytes mixed in from strong sources.
    strong_bytes: usize,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl Pool {
    /// An empty pool: seeds from it are distinct but guessable.
    pub const fn new() -> Pool {
        Pool {
            key: [0; 32],
            strong_bytes: 0,
        }
    }

    /// Hashes `bytes` from `source` into the key.
    pub fn mix(&mut self, source: Source, bytes: &[u8]) {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update([source.tag()]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        self.key = h.finalize().into();
        if source.strong() {
            self.strong_bytes += bytes.len();
        }
    }

    /// Hashes timings from `timing` (each one walk of the noise, see
    /// [`jitter`]) into the key, all of them, and credits
    /// [`jitter::CREDITED_BITS`] if they pass the assessment. `kept` is
    /// the assessment's room.
    pub fn mix_jitter(
        &mut self,
        timing: impl FnMut() -> u64,
        kept: &mut [u64; jitter::SAMPLES],
    ) -> Result<jitter::Assessment, jitter::Refusal> {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update([Source::Jitter.tag()]);
        let mut timings = 0u64;
        let result = jitter::assess(timing, kept, |t| {
            h.update(t.to_le_bytes());
            timings += 1;
        });
        h.update(timings.to_le_bytes());
        self.key = h.finalize().into();
        if result.is_ok() {
            self.strong_bytes += jitter::CREDITED_BITS / 8;
        }
        result
    }

    /// Whether at least 32 bytes from unpredictable sources went in.
    pub fn strong(&self) -> bool {
        self.strong_bytes >= 32
    }

    /// The `rng-seed` for VM `vm`'s boot number `nonce` (never the same
    /// twice for one pool: the caller counts).
    pub fn seed(&self, vm: u32, nonce: u64) -> [u8; SEED_LEN] {
        let mut out = [0u8; SEED_LEN];
        for (i, chunk) in out.chunks_mut(32).enumerate() {
            chunk.copy_from_slice(&self.derive(b"aerie guest rng-seed", vm, nonce, i as u8)[..32]);
        }
        out
    }

    /// The `kaslr-seed` for VM `vm`'s boot number `nonce`: a hash of its
    /// own, so it tells nothing about the `rng-seed` the guest credits.
    pub fn kaslr_seed(&self, vm: u32, nonce: u64) -> u64 {
        let hash = self.derive(b"aerie guest kaslr-seed", vm, nonce, 0);
        u64::from_le_bytes(hash[..8].try_into().expect("8 of 32 bytes"))
    }

    fn derive(&self, label: &[u8], vm: u32, nonce: u64, block: u8) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(label);
        h.update(vm.to_le_bytes());
        h.update(nonce.to_le_bytes());
        h.update([block]);
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        let mut p = Pool::new();
        p.mix(Source::BootSeed, &[7; 32]);
        p
    }

    #[test]
    fn seeds_differ_by_vm_by_boot_and_by_pool() {
        let p = pool();
        let a = p.seed(0, 0);
        assert_ne!(a, p.seed(1, 0), "another VM");
        assert_ne!(a, p.seed(0, 1), "another boot of the VM");
        assert_eq!(a, p.seed(0, 0), "a function of its inputs");
        assert_ne!(a[..32], a[32..], "the two halves are separate hashes");
        let mut q = pool();
        q.mix(Source::Counter, &123u64.to_le_bytes());
        assert_ne!(a, q.seed(0, 0), "every source changes the key");
    }

    #[test]
    fn kaslr_seeds_differ_by_vm_by_boot_and_from_the_rng_seed() {
        let p = pool();
        let k = p.kaslr_seed(0, 0);
        assert_ne!(k, p.kaslr_seed(1, 0), "another VM");
        assert_ne!(k, p.kaslr_seed(0, 1), "another boot of the VM");
        assert_eq!(k, p.kaslr_seed(0, 0), "a function of its inputs");
        let rng = p.seed(0, 0);
        assert!(
            rng.windows(8).all(|w| w != k.to_le_bytes()),
            "no part of the rng-seed"
        );
        let mut q = pool();
        q.mix(Source::Rndr, &[3; 32]);
        assert_ne!(k, q.kaslr_seed(0, 0), "every source changes the key");
    }

    #[test]
    fn strength_counts_only_unpredictable_bytes() {
        let mut p = Pool::new();
        assert!(!p.strong());
        p.mix(Source::Counter, &[0; 64]);
        assert!(!p.strong(), "counters are guessable");
        p.mix(Source::Rndr, &[1; 16]);
        assert!(!p.strong());
        p.mix(Source::Rndr, &[2; 16]);
        assert!(p.strong());
        assert!(pool().strong());
    }

    #[test]
    fn jitter_is_credited_only_when_it_passes() {
        let mut kept = [0u64; jitter::SAMPLES];
        let mut exact = Pool::new();
        let before = exact.key;
        assert!(exact.mix_jitter(|| 40, &mut kept).is_err());
        assert!(!exact.strong(), "a deterministic machine adds nothing");
        assert_ne!(exact.key, before, "its timings are hashed all the same");
        let mut state = 3u64;
        let mut jittery = Pool::new();
        let assessment = jittery.mix_jitter(
            || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                1_000 + (state >> 56)
            },
            &mut kept,
        );
        assert!(assessment.is_ok(), "{assessment:?}");
        assert!(jittery.strong(), "256 bits credited");
    }

    #[test]
    fn the_key_is_sha256_of_key_tag_length_and_bytes() {
        let mut p = Pool::new();
        p.mix(Source::BootSeed, b"abc");
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update([1u8]);
        h.update(3u64.to_le_bytes());
        h.update(b"abc");
        let want: [u8; 32] = h.finalize().into();
        assert_eq!(p.key, want);
    }
}
