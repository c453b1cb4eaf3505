use super::*;

/// A generator for test timings (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run(timing: impl FnMut() -> u64) -> (Result<Assessment, Refusal>, usize) {
    let mut kept = [0u64; SAMPLES];
    let mut seen = 0;
    let result = assess(timing, &mut kept, |_| seen += 1);
    (result, seen)
}

#[test]
fn jittery_timings_pass_and_every_one_is_seen() {
    let mut rng = Rng(7);
    let (result, seen) = run(|| 1_000 + rng.next() % 256);
    let a = result.expect("256 values spread evenly");
    assert_eq!(seen, a.timings, "every timing goes to the pool");
    assert_eq!(a.timings - a.stuck, SAMPLES);
    assert!(a.most_common < 20, "{a:?}");
}

#[test]
fn an_exact_machine_is_refused_at_once() {
    // -icount: the walk takes the same instructions every time.
    let mut clock = 0u64;
    let mut memory = [0u64; 64];
    let mut walk = Walk::new(&mut memory, 16);
    let (result, seen) = run(|| {
        walk.time(&mut || {
            clock += 40;
            clock
        })
    });
    assert_eq!(
        result,
        Err(Refusal::Repetition {
            run: REPETITION_CUTOFF
        })
    );
    assert_eq!(seen, REPETITION_CUTOFF as usize, "refused at the cutoff");
}

#[test]
fn timings_that_change_by_the_same_step_are_stuck() {
    let mut t = 100;
    let (result, seen) = run(|| {
        t += 3;
        t
    });
    assert_eq!(
        result,
        Err(Refusal::Stuck {
            stuck: MAX_TIMINGS - 2,
            timings: MAX_TIMINGS
        }),
        "only the first two timings are new"
    );
    assert_eq!(seen, MAX_TIMINGS);
}

#[test]
fn a_coarse_clock_is_refused() {
    // A clock too slow for the walk: it ticks 3 or 4 times.
    let mut rng = Rng(11);
    let (result, _) = run(|| 3 + rng.next() % 2);
    assert!(
        matches!(
            result,
            Err(Refusal::Stuck { .. } | Refusal::CommonValue { .. })
        ),
        "{result:?}"
    );
}

/// Timings that are 777 but for every `period`th, which is jittery
/// (1,000 and up, spread over `spread`).
fn mostly_777(period: u64, spread: u64, seed: u64) -> impl FnMut() -> u64 {
    let mut rng = Rng(seed);
    let mut i = 0;
    move || {
        i += 1;
        if i % period == 0 {
            1_000 + rng.next() % spread
        } else {
            777
        }
    }
}

#[test]
fn one_timing_too_often_in_a_window_is_refused() {
    // 777 two times in three: never 21 in a row, 311 times in 467.
    let (result, seen) = run(mostly_777(3, 256, 5));
    assert_eq!(
        result,
        Err(Refusal::Proportion {
            count: PROPORTION_CUTOFF
        })
    );
    assert!(seen < PROPORTION_WINDOW as usize, "{seen}");
}

#[test]
fn a_common_value_under_the_proportion_cutoff_is_still_refused() {
    // 777 every other timing: at most 256 in a window of 512, but half of
    // all kept: the estimate gives under a bit.
    let (result, _) = run(mostly_777(2, 4_096, 9));
    match result {
        Err(Refusal::CommonValue { count }) => assert!(count >= 500, "{count}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_one_bit_bound_is_sp_800_90b_s() {
    let n = SAMPLES;
    let float = |c: usize| {
        let p = c as f64 / n as f64;
        p + 2.576 * (p * (1.0 - p) / (n as f64 - 1.0)).sqrt() <= 0.5
    };
    let last = (0..=n).take_while(|&c| at_least_one_bit(c, n)).last();
    assert_eq!(last, (0..=n).take_while(|&c| float(c)).last());
    // About 0.46 of the samples at most.
    assert_eq!(last, Some(470));
    assert!(!at_least_one_bit(n / 2, n));
    assert!(!at_least_one_bit(n, n));
}

#[test]
fn a_walk_is_timed_by_its_clock_and_writes_its_memory() {
    let mut memory = [0u64; 8];
    let mut ticks = [10u64, 25, 40, 47].into_iter();
    let mut clock = || ticks.next().unwrap();
    let mut walk = Walk::new(&mut memory, 4);
    assert_eq!(walk.time(&mut clock), 15);
    assert_eq!(walk.time(&mut clock), 7);
    assert!(memory.iter().any(|&w| w != 0));
}

#[test]
fn walks_take_the_paths_their_timings_choose() {
    let path = |took: u64| {
        let mut memory = [0u64; 64];
        let mut t = 0;
        let mut walk = Walk::new(&mut memory, 8);
        walk.time(&mut || {
            t += took;
            t
        });
        walk.time(&mut || 0);
        memory
    };
    assert_ne!(path(100), path(101));
}
