//! The host's PL031 real-time clock, read once at boot: the wall-clock time
//! Aerie gives guests (the backdoor's host time). Afterwards the generic
//! counter measures time; the PL031 counts whole seconds only.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::aarch64::cpu;

/// RTCDR: the current time in seconds (PL031 TRM, section 3.3.1).
const RTCDR: usize = 0x000;

/// Seconds since the Unix epoch at counter value [`BASE_COUNT`]; 0 while
/// Aerie has no wall clock (no PL031 in the device tree).
static BASE_SECS: AtomicU64 = AtomicU64::new(0);
static BASE_COUNT: AtomicU64 = AtomicU64::new(0);

/// Reads the PL031 at `base` and keeps its time with the counter value it
/// was read at.
///
/// # Safety
/// `base` must be the virtual address of a mapped PL031's registers.
pub unsafe fn init(base: u64) {
    let count = cpu::counter();
    // SAFETY: per this function's contract; RTCDR is a read-only register
    // whose read has no side effect.
    let secs = unsafe { core::ptr::read_volatile((base as usize + RTCDR) as *const u32) };
    BASE_COUNT.store(count, Ordering::Relaxed);
    BASE_SECS.store(u64::from(secs), Ordering::Release);
}

/// The wall-clock time now as (seconds since the Unix epoch, microseconds);
/// without a PL031, the time since the counter started (the epoch is then
/// the moment the machine started).
pub fn now() -> (u64, u32) {
    let secs = BASE_SECS.load(Ordering::Acquire);
    let base = BASE_COUNT.load(Ordering::Relaxed);
    let f = cpu::counter_frequency().max(1);
    let ticks = cpu::counter().wrapping_sub(base);
    (secs + ticks / f, ((ticks % f) * 1_000_000 / f) as u32)
}
