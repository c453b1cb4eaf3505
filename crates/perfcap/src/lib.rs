//! Performance caps (C1, the act on a guest's performance request): a vCPU
//! whose guest set its clock to a fraction of the fastest rate gets that
//! fraction of a pCPU, paced by a credit of running time.
//!
//! The credit grows at the vCPU's share of real time, running or not, up
//! to the share of a [`BURST_MS`] burst, and running spends it at full
//! speed. When it is spent, the scheduler takes the vCPU off (at the
//! moment, as its slice ends then: [`CpuCap::remaining`]) and it waits,
//! runnable but throttled, for a [`PAUSE_MS`] pause: at a quarter of a
//! pCPU it runs a third of a millisecond, then waits one. A vCPU that
//! blocks (idles) owing credit waits, when woken, only until its debt is
//! repaid.
//!
//! Why a credit and not a budget per fixed window: a vCPU whose work comes
//! in short bursts (an interrupt, a disk request) spent a window's budget
//! and then blocked in its idle state, throttled to the window's end. Its
//! next interrupt then waited up to most of a window, and its guest
//! counted that wait as idle time, so its governor saw no load and kept the
//! clock low. Under a credit the wait comes while the vCPU runs, where its
//! guest sees a slow CPU (as a lower clock would be), and it is at most a
//! pause long.
//!
//! Times are counter ticks; shares are permille of a pCPU (1000: no cap).
#![no_std]

/// The most a vCPU idle for long may run at once before pacing starts:
/// its share of this.
pub const BURST_MS: u64 = 10;

/// How long a vCPU that spent its credit waits before it runs again.
pub const PAUSE_MS: u64 = 1;

/// A vCPU's time slice: its clock's share of the full `slice` (at a
/// quarter of the fastest rate, a quarter as long), so vCPUs that take
/// turns on one pCPU get it in proportion to the speeds their guests asked
/// for (the weight), where the cap alone would give them equal turns up to
/// each one's share. At least an eighth of a slice, so that a slow vCPU
/// alone on its pCPU is not looked at too often.
pub fn weighted_slice(slice: u64, permille: u64) -> u64 {
    (slice * permille.min(1000) / 1000).max(slice / 8)
}

/// The lengths the cap works with, in counter ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// [`BURST_MS`].
    pub burst: u64,
    /// [`PAUSE_MS`].
    pub pause: u64,
}

impl Pacing {
    /// For a counter of `ticks_per_ms`.
    pub const fn new(ticks_per_ms: u64) -> Pacing {
        Pacing {
            burst: BURST_MS * ticks_per_ms,
            pause: PAUSE_MS * ticks_per_ms,
        }
    }
}

/// One vCPU's credit and record.
#[derive(Clone, Debug, Default)]
pub struct CpuCap {
    /// Running time earned and not yet spent (negative: overspent).
    credit: i64,
    /// When `credit` was last brought up to date.
    at: u64,
    /// When it last went onto a pCPU, while it is on one.
    since: Option<u64>,
    /// Throttled (not to be picked) until then.
    throttled_until: u64,
    /// Times it spent its credit.
    pub throttles: u64,
    /// Ticks it has spent on a pCPU, runs in progress not counted (see
    /// [`CpuCap::ran_until`]).
    ran: u64,
}

/// `ticks` at `permille` of full speed. In 64 bits (this runs on every
/// switch; 128-bit division is a library call): `ticks` beyond 2^53 (four
/// years of a 62.5 MHz counter) count as 2^53.
fn share(ticks: u64, permille: u64) -> i64 {
    const MAX: u64 = 1 << 53;
    (ticks.min(MAX) * permille.min(1000) / 1000) as i64
}

impl CpuCap {
    /// The credit at `now`: what was there at the last update, what it has
    /// earned since, less a run in progress, and no more than a burst's
    /// share. (While it runs the credit only falls, so the limit binds only
    /// what it earned off a pCPU.)
    fn credit_at(&self, now: u64, permille: u64, pacing: Pacing) -> i64 {
        let earned = share(now.saturating_sub(self.at), permille);
        let spent = self.since.map_or(0, |s| now.saturating_sub(s));
        let spent = i64::try_from(spent).unwrap_or(i64::MAX);
        self.credit
            .saturating_add(earned)
            .saturating_sub(spent)
            .min(share(pacing.burst, permille))
    }

    /// It goes onto a pCPU at `now`.
    pub fn start(&mut self, now: u64, permille: u64, pacing: Pacing) {
        // At full speed the credit is not kept: whatever it was, the time
        // since `at` refills it to a burst before it matters again.
        if permille < 1000 {
            self.credit = self.credit_at(now, permille, pacing);
            self.at = now;
        }
        self.since = Some(now);
    }

    /// It leaves its pCPU at `now`, still wanting one (`runnable`: its turn
    /// or its credit ran out) or not (it blocked: idle, waiting, off). Out
    /// of credit at `permille` of a pCPU, it is throttled until it has
    /// earned back its debt, and if it is runnable a pause more, so that it
    /// then runs for a while rather than a moment. A vCPU that blocked
    /// waits only for its debt when something wakes it: a slower clock
    /// would have taken that much longer, and no more.
    pub fn stop(&mut self, now: u64, permille: u64, pacing: Pacing, runnable: bool) {
        if permille >= 1000 {
            self.ran += self.since.take().map_or(0, |s| now.saturating_sub(s));
            return;
        }
        self.credit = self.credit_at(now, permille, pacing);
        self.at = now;
        self.ran += self.since.take().map_or(0, |s| now.saturating_sub(s));
        if self.credit <= 0 {
            let debt = self.credit.unsigned_abs();
            // Earning `debt` at `permille` takes debt * 1000 / permille.
            let repay = debt.saturating_mul(1000) / permille.max(1);
            let pause = if runnable { pacing.pause } else { 0 };
            self.throttled_until = now.saturating_add(repay).saturating_add(pause);
            self.throttles += 1;
        }
    }

    /// Ticks it may still run from `now` at `permille` of a pCPU (None: no
    /// cap). While it runs the credit falls at the rest of full speed
    /// (it earns its share meanwhile), so a credit c lasts
    /// c * 1000 / (1000 - permille).
    pub fn remaining(&self, now: u64, permille: u64, pacing: Pacing) -> Option<u64> {
        if permille >= 1000 {
            return None;
        }
        let credit = u64::try_from(self.credit_at(now, permille, pacing)).unwrap_or(0);
        Some(credit.saturating_mul(1000) / (1000 - permille))
    }

    /// Ticks it has spent on a pCPU up to `now`, a run in progress included.
    pub fn ran_until(&self, now: u64) -> u64 {
        self.ran + self.since.map_or(0, |s| now.saturating_sub(s))
    }

    /// Until when it is throttled, if it is at `now`.
    pub fn throttled(&self, now: u64) -> Option<u64> {
        (now < self.throttled_until).then_some(self.throttled_until)
    }
}

#[cfg(test)]
mod tests;
