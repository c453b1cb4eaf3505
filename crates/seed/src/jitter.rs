//! Entropy from CPU timing jitter, for machines with no other source (no
//! seed from the boot loader, no RNDR: the boards QEMU models, and many
//! real ones). How long the same short memory walk takes varies from one
//! walk to the next on a real CPU (cache and TLB state, DRAM refresh, bus
//! and interconnect contention, clock-domain crossings); the variation is
//! what is harvested, the idea of Linux's jitterentropy.
//!
//! Nothing is credited unless the timings pass:
//! - the stuck test (as jitterentropy's): a timing that is zero, equal to
//!   the last, or different from it by as much as the last was from its
//!   own says nothing new and is not kept;
//! - SP 800-90B's health tests on every timing (4.4.1, the repetition
//!   count test, and 4.4.2, the adaptive proportion test, with the
//!   cutoffs for α = 2^-20 and one bit of min-entropy a timing);
//! - SP 800-90B's most-common-value estimate (6.3.1) on the kept timings,
//!   which must come to at least one bit each.
//!
//! Then a quarter of a bit is credited for each of the [`SAMPLES`] kept
//! timings (256 bits): a quarter of what the estimate allows. Every timing,
//! credited or not, is hashed into the pool. A deterministic machine (QEMU
//! under `-icount`, where a walk always takes the same instructions) fails
//! at once: its timings repeat.

/// Timings kept (not stuck) for one assessment: the 1,024 samples
/// SP 800-90B's start-up tests ask for.
pub const SAMPLES: usize = 1024;
/// Timings taken at most to keep [`SAMPLES`].
pub const MAX_TIMINGS: usize = 4 * SAMPLES;
/// Bits credited for an assessment that passes.
pub const CREDITED_BITS: usize = SAMPLES / 4;
/// The repetition count test's cutoff: 1 + ⌈20 / H⌉ for H = 1 bit.
const REPETITION_CUTOFF: u32 = 21;
/// The adaptive proportion test's window and cutoff (SP 800-90B table 2,
/// H = 1 bit, non-binary samples).
const PROPORTION_WINDOW: u32 = 512;
const PROPORTION_CUTOFF: u32 = 311;

/// Why timings were not credited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too few timings were new (the clock is coarse or the CPU exact).
    Stuck { stuck: usize, timings: usize },
    /// One timing came `run` times in a row (repetition count test).
    Repetition { run: u32 },
    /// One timing came `count` times in a window (adaptive proportion test).
    Proportion { count: u32 },
    /// The most common kept timing came `count` times of [`SAMPLES`]: less
    /// than a bit of min-entropy each.
    CommonValue { count: usize },
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match *self {
            Refusal::Stuck { stuck, timings } => {
                write!(f, "{stuck} of {timings} timings were stuck")
            }
            Refusal::Repetition { run } => write!(
                f,
                "one timing came {run} times in a row (repetition count test)"
            ),
            Refusal::Proportion { count } => write!(
                f,
                "one timing came {count} times in {PROPORTION_WINDOW} (adaptive proportion test)"
            ),
            Refusal::CommonValue { count } => write!(
                f,
                "the most common timing came {count} times in {SAMPLES}: under a bit each"
            ),
        }
    }
}

/// What an assessment that passed found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// Timings taken.
    pub timings: usize,
    /// Of them, stuck.
    pub stuck: usize,
    /// How often the most common kept timing came.
    pub most_common: usize,
}

/// Takes timings from `timing` until [`SAMPLES`] are kept in `kept`,
/// running the health tests on each, and estimates the kept ones'
/// min-entropy. Every timing goes to `each` as it is taken (the pool hashes
/// them all). `kept` ends sorted.
pub fn assess(
    mut timing: impl FnMut() -> u64,
    kept: &mut [u64; SAMPLES],
    mut each: impl FnMut(u64),
) -> Result<Assessment, Refusal> {
    let mut health = Health::default();
    let mut stuck = Stuck::default();
    let mut n = 0;
    let mut timings = 0;
    while n < SAMPLES {
        if timings == MAX_TIMINGS {
            return Err(Refusal::Stuck {
                stuck: timings - n,
                timings,
            });
        }
        let t = timing();
        timings += 1;
        each(t);
        health.check(t)?;
        if !stuck.is_stuck(t) {
            kept[n] = t;
            n += 1;
        }
    }
    let most_common = most_common(kept);
    if !at_least_one_bit(most_common, SAMPLES) {
        return Err(Refusal::CommonValue { count: most_common });
    }
    Ok(Assessment {
        timings,
        stuck: timings - SAMPLES,
        most_common,
    })
}

/// The repetition count and adaptive proportion tests, run on every timing.
#[derive(Default)]
struct Health {
    last: Option<u64>,
    run: u32,
    /// The adaptive proportion test's value, its count, and how many of the
    /// window's timings were seen.
    window_value: u64,
    window_count: u32,
    window_seen: u32,
}

impl Health {
    fn check(&mut self, t: u64) -> Result<(), Refusal> {
        if self.last == Some(t) {
            self.run += 1;
            if self.run >= REPETITION_CUTOFF {
                return Err(Refusal::Repetition { run: self.run });
            }
        } else {
            self.last = Some(t);
            self.run = 1;
        }
        if self.window_seen == 0 {
            self.window_value = t;
            self.window_count = 1;
        } else if t == self.window_value {
            self.window_count += 1;
            if self.window_count >= PROPORTION_CUTOFF {
                return Err(Refusal::Proportion {
                    count: self.window_count,
                });
            }
        }
        self.window_seen = (self.window_seen + 1) % PROPORTION_WINDOW;
        Ok(())
    }
}

/// jitterentropy's stuck test: a timing is stuck when it, its change from
/// the last, or that change's change is zero.
#[derive(Default)]
struct Stuck {
    last: u64,
    last_delta: i128,
}

impl Stuck {
    fn is_stuck(&mut self, t: u64) -> bool {
        let delta = i128::from(t) - i128::from(self.last);
        let delta2 = delta - self.last_delta;
        self.last = t;
        self.last_delta = delta;
        t == 0 || delta == 0 || delta2 == 0
    }
}

/// How often the most common value of `values` comes (sorts them).
fn most_common(values: &mut [u64]) -> usize {
    values.sort_unstable();
    values
        .chunk_by(|a, b| a == b)
        .map(<[u64]>::len)
        .max()
        .unwrap_or(0)
}

/// SP 800-90B 6.3.1: whether `count` of `n` for the most common value
/// still leaves at least one bit of min-entropy a sample, i.e. whether the
/// upper 99% bound p̂ + 2.576 √(p̂(1 − p̂)/(n − 1)) on its probability is at
/// most 1/2. Squared and scaled by n² to stay in integers (2.576² =
/// 6.635776).
pub fn at_least_one_bit(count: usize, n: usize) -> bool {
    let (c, n) = (count as u128, n as u128);
    if 2 * c > n {
        return false;
    }
    let half_minus = n - 2 * c; // 2n(1/2 - p̂)
                                // z² c (n - c) / (n - 1) <= (n/2 - c)², times 4 (n - 1) 10^6:
    4 * 6_635_776 * c * (n - c) <= 1_000_000 * (n - 1) * half_minus * half_minus
}

/// The noise: `steps` reads and writes at pseudo-random places of a
/// buffer, the places chosen by a generator the timings themselves feed,
/// so no two walks need take the same path.
pub struct Walk<'a> {
    memory: &'a mut [u64],
    state: u64,
    steps: usize,
}

impl<'a> Walk<'a> {
    /// A walk of `steps` steps over `memory` (not empty).
    pub fn new(memory: &'a mut [u64], steps: usize) -> Walk<'a> {
        assert!(!memory.is_empty(), "a walk needs memory");
        Walk {
            memory,
            state: 0x9e37_79b9_7f4a_7c15,
            steps,
        }
    }

    /// How long one walk takes by `clock`.
    pub fn time(&mut self, clock: &mut impl FnMut() -> u64) -> u64 {
        let start = clock();
        for _ in 0..self.steps {
            // xorshift64: never zero from a non-zero state.
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let at = (self.state % self.memory.len() as u64) as usize;
            self.memory[at] = self.memory[at].wrapping_add(self.state);
        }
        // The walk's loads and stores must happen, before the clock is read
        // again, even where nothing reads the memory after.
        core::hint::black_box(&mut *self.memory);
        let took = clock().wrapping_sub(start);
        // Feed the timing back (never to zero: the generator would stick).
        self.state = (self.state ^ took.rotate_left(32)) | 1;
        took
    }
}

#[cfg(test)]
mod tests;
