//! The generic timer's virtual counter (CNTVCT_EL0) and its frequency.

use crate::sysreg::{isb, read_sysreg};

/// CNTFRQ_EL0: counter ticks per second.
pub fn frequency() -> u64 {
    read_sysreg!("cntfrq_el0")
}

/// CNTVCT_EL0 after an ISB, so the read is not hoisted above earlier instructions.
pub fn now() -> u64 {
    isb();
    read_sysreg!("cntvct_el0")
}

/// Counter ticks in `ms` milliseconds (at least 1 tick).
pub fn ticks_from_ms(ms: u64) -> u64 {
    (frequency() * ms / 1000).max(1)
}

/// A deadline `ms` milliseconds from now.
pub struct Deadline(u64);

impl Deadline {
    pub fn after_ms(ms: u64) -> Self {
        Self(now() + ticks_from_ms(ms))
    }

    /// The CNTVCT_EL0 value at which the deadline expires.
    pub fn at(&self) -> u64 {
        self.0
    }

    pub fn expired(&self) -> bool {
        now() >= self.0
    }
}

/// Spins for `ms` milliseconds.
pub fn spin_ms(ms: u64) {
    let deadline = Deadline::after_ms(ms);
    while !deadline.expired() {
        core::hint::spin_loop();
    }
}

/// Spins until `done()` or `ms` milliseconds pass; returns whether `done()`
/// held. IRQs stay as the caller left them.
pub fn spin_until(ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Deadline::after_ms(ms);
    loop {
        if done() {
            return true;
        }
        if deadline.expired() {
            return false;
        }
        core::hint::spin_loop();
    }
}
