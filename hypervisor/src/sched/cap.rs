//! Performance caps (C1, the act on a guest's performance request): a vCPU
//! whose guest set its SCMI clock to a fraction of the fastest rate may run
//! that fraction of each [`WINDOW_MS`] window; once it has, it waits,
//! runnable but throttled, for the next window, and its pCPU can idle. A
//! vCPU at full rate is never capped. Its clock also weighs its turns when
//! vCPUs share a pCPU ([`weighted_slice`]).

/// The accounting window.
pub const WINDOW_MS: u64 = 10;

/// A vCPU's time slice: its clock's share of the full `slice` (at a
/// quarter of the fastest rate, a quarter as long), so vCPUs that take
/// turns on one pCPU get it in proportion to the speeds their guests asked
/// for (the weight), where the cap alone would give them equal turns up to
/// each one's share. At least an eighth of a slice, so that a slow vCPU
/// alone on its pCPU is not looked at too often.
pub fn weighted_slice(slice: u64, permille: u64) -> u64 {
    (slice * permille.min(1000) / 1000).max(slice / 8)
}

/// One vCPU's use of its window, in counter ticks.
#[derive(Default)]
pub struct CpuCap {
    window_start: u64,
    used: u64,
    /// When it last went onto a pCPU, while it is on one.
    since: Option<u64>,
    /// Throttled (not to be picked) until then.
    throttled_until: u64,
    /// Times it ran out of its share.
    pub throttles: u64,
    /// Ticks it has spent on a pCPU, runs in progress not counted (see
    /// [`CpuCap::ran_until`]).
    ran: u64,
}

impl CpuCap {
    /// The window `now` falls in (windows follow each other from the
    /// first): its start, and the ticks run in it so far, counting a run
    /// in progress only from that start (what ran before belongs to a
    /// window that is over).
    fn window_at(&self, now: u64, window: u64) -> (u64, u64) {
        let start = if now >= self.window_start + window {
            now - (now - self.window_start) % window
        } else {
            self.window_start
        };
        let used = if start == self.window_start {
            self.used
        } else {
            0
        };
        let running = self.since.map_or(0, |s| now.saturating_sub(s.max(start)));
        (start, used + running)
    }

    /// It goes onto a pCPU at `now`.
    pub fn start(&mut self, now: u64, window: u64) {
        let (start, used) = self.window_at(now, window);
        (self.window_start, self.used) = (start, used);
        self.since = Some(now);
    }

    /// It leaves its pCPU at `now`; out of budget at `permille` of a pCPU,
    /// it is throttled to the end of its window.
    pub fn stop(&mut self, now: u64, permille: u64, window: u64) {
        self.ran += self.since.map_or(0, |s| now.saturating_sub(s));
        let (start, used) = self.window_at(now, window);
        (self.window_start, self.used, self.since) = (start, used, None);
        if permille < 1000 && used >= window * permille / 1000 {
            self.throttled_until = start + window;
            self.throttles += 1;
        }
    }

    /// Ticks it may still run in this window at `permille` of a pCPU
    /// (None: no cap).
    pub fn remaining(&self, now: u64, permille: u64, window: u64) -> Option<u64> {
        if permille >= 1000 {
            return None;
        }
        let (_, used) = self.window_at(now, window);
        Some((window * permille / 1000).saturating_sub(used))
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
