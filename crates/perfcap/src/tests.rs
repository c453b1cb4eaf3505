//! The cap's pacing, in a counter of 1,000 ticks a millisecond.

use super::*;

const MS: u64 = 1000;
const PACING: Pacing = Pacing::new(MS);
const QUARTER: u64 = 250;

/// Runs a vCPU that always wants a pCPU at `permille` for `total` ticks,
/// starting at `t`, as the scheduler would: on until its credit is spent
/// (or a `slice` is over), off while throttled. Its ticks on a pCPU and
/// the longest wait.
fn busy(cap: &mut CpuCap, permille: u64, mut t: u64, total: u64, slice: u64) -> (u64, u64) {
    let end = t + total;
    let (mut ran, mut longest_wait) = (0, 0);
    while t < end {
        if let Some(until) = cap.throttled(t) {
            longest_wait = longest_wait.max(until - t);
            t = until;
            continue;
        }
        cap.start(t, permille, PACING);
        let run = cap
            .remaining(t, permille, PACING)
            .map_or(slice, |left| left.min(slice))
            .min(end - t);
        t += run;
        ran += run;
        cap.stop(t, permille, PACING, true);
    }
    (ran, longest_wait)
}

#[test]
fn a_busy_vcpu_gets_its_share_in_short_turns() {
    let mut cap = CpuCap::default();
    // Long after boot: a whole burst's credit waits for it.
    let (ran, wait) = busy(&mut cap, QUARTER, 1_000 * MS, 1_000 * MS, 4 * MS);
    // A quarter of a second's worth, plus the burst it started with.
    let share = 250 * MS + 10 * MS / 4;
    assert!(ran.abs_diff(share) <= 2 * MS, "ran {ran} of {share}");
    // It waits a pause at a time, never a window.
    assert_eq!(wait, PAUSE_MS * MS);
    assert!(cap.throttles > 500, "{} throttles", cap.throttles);
}

#[test]
fn half_and_three_quarters_get_their_shares() {
    for permille in [500, 750] {
        let mut cap = CpuCap::default();
        let (ran, wait) = busy(&mut cap, permille, 0, 1_000 * MS, 4 * MS);
        let share = 1_000 * MS * permille / 1000;
        assert!(
            ran.abs_diff(share) <= 10 * MS,
            "{permille}: ran {ran} of {share}"
        );
        assert!(wait <= PAUSE_MS * MS, "{permille}: waited {wait}");
    }
}

#[test]
fn full_speed_is_never_capped() {
    let mut cap = CpuCap::default();
    let (ran, wait) = busy(&mut cap, 1000, 0, 100 * MS, 4 * MS);
    assert_eq!((ran, wait, cap.throttles), (100 * MS, 0, 0));
    assert_eq!(cap.remaining(0, 1000, PACING), None);
}

#[test]
fn short_runs_within_the_share_are_never_throttled() {
    // An interrupt's worth of work (0.1 ms) every millisecond at a quarter
    // of a pCPU: 10 % of one, so it always finds credit and never waits
    // for it, whatever the window it falls in.
    let mut cap = CpuCap::default();
    for n in 0..10_000 {
        let t = 5 * MS + n * MS;
        assert_eq!(cap.throttled(t), None, "at {t}");
        cap.start(t, QUARTER, PACING);
        cap.stop(t + MS / 10, QUARTER, PACING, false);
    }
    assert_eq!(cap.throttles, 0);
}

#[test]
fn overspending_short_runs_wait_a_pause_not_a_window() {
    // Half a millisecond of work every millisecond at a quarter: more than
    // its share. Once the burst is spent, it is throttled; each wait is its
    // debt plus a pause, never the most of a 10 ms window.
    let mut cap = CpuCap::default();
    let mut t = 20 * MS;
    let mut longest = 0;
    for _ in 0..1_000 {
        if let Some(until) = cap.throttled(t) {
            longest = longest.max(until - t);
            t = until;
        }
        cap.start(t, QUARTER, PACING);
        let run = cap.remaining(t, QUARTER, PACING).unwrap().min(MS / 2);
        cap.stop(t + run, QUARTER, PACING, true);
        t += MS;
    }
    assert!(cap.throttles > 0);
    assert!(longest <= PAUSE_MS * MS + 1, "longest wait {longest}");
}

#[test]
fn credit_is_bounded_by_a_burst() {
    let mut cap = CpuCap::default();
    // Idle for an hour: still only a burst's share.
    cap.start(3_600_000 * MS, QUARTER, PACING);
    let left = cap.remaining(3_600_000 * MS, QUARTER, PACING).unwrap();
    // 2.5 ms of credit lasts 2.5 / 0.75 ms while it runs.
    assert_eq!(left, 10 * MS / 4 * 1000 / 750);
}

#[test]
fn overrun_is_repaid_before_the_pause() {
    let mut cap = CpuCap::default();
    cap.start(10 * MS, QUARTER, PACING);
    // Its credit (2.5 ms) lasts 3.33 ms; it ran 5.
    cap.stop(15 * MS, QUARTER, PACING, true);
    // Debt: 5 - 2.5 - 1.25 earned = 1.25 ms, repaid in 5 ms, then a pause.
    assert_eq!(
        cap.throttled(15 * MS),
        Some(15 * MS + 5 * MS + PAUSE_MS * MS)
    );
    assert_eq!(cap.ran_until(30 * MS), 5 * MS);
}

#[test]
fn weighted_slices() {
    assert_eq!(weighted_slice(4000, 250), 1000);
    assert_eq!(weighted_slice(4000, 1000), 4000);
    assert_eq!(weighted_slice(4000, 2000), 4000);
    assert_eq!(weighted_slice(4000, 10), 500);
}

#[test]
fn slowed_after_full_speed_starts_with_a_burst() {
    let mut cap = CpuCap::default();
    // Busy at full speed for a second: nothing kept against it.
    busy(&mut cap, 1000, 0, 1_000 * MS, 4 * MS);
    // Its guest slows it: it starts with a burst's credit, then is paced.
    cap.start(1_000 * MS, QUARTER, PACING);
    assert_eq!(
        cap.remaining(1_000 * MS, QUARTER, PACING),
        Some(10 * MS / 4 * 1000 / 750)
    );
    assert_eq!(cap.ran_until(1_000 * MS), 1_000 * MS);
}

#[test]
fn a_vcpu_that_blocks_owing_credit_waits_only_its_debt() {
    let mut cap = CpuCap::default();
    cap.start(10 * MS, QUARTER, PACING);
    // It ran 5 ms on 2.5 ms of credit (and 1.25 earned meanwhile), then
    // went idle: 1.25 ms owed, repaid at a quarter in 5 ms; no pause.
    cap.stop(15 * MS, QUARTER, PACING, false);
    assert_eq!(cap.throttled(15 * MS), Some(20 * MS));
    assert_eq!(cap.throttled(20 * MS), None);
    // Had it still wanted the pCPU, a pause more.
    let mut preempted = CpuCap::default();
    preempted.start(10 * MS, QUARTER, PACING);
    preempted.stop(15 * MS, QUARTER, PACING, true);
    assert_eq!(preempted.throttled(15 * MS), Some(21 * MS));
}
