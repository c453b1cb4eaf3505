//! The pseudo-random generator behind the storm tests: the host tests that
//! throw seeded random guest input at each guest-facing model (backdoor,
//! virtio, vGIC, PL011, PSCI). xorshift64*: tiny, and deterministic, so a
//! failing seed fails the same way every run. Not for anything but tests.
#![no_std]

/// xorshift64* (Marsaglia; Vigna's multiplier).
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (a zero seed would stay zero; it is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            b.below(10);
        }
        let mut z = Rng::new(0);
        assert_ne!(z.next_u64(), 0);
        assert_eq!(Rng::new(3).pick(&[5u8]), 5);
    }
}
