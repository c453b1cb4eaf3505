//! The time of day Aerie gives guests (the backdoor's host time): read once
//! at boot from the host's PL031, or, on a machine without one (servers,
//! QEMU's firmware with ACPI), taken from the boot loader, which read the
//! firmware's clock (`/chosen/aerie,wall-clock`). Afterwards the generic
//! counter measures time: neither source is read again.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::aarch64::cpu;

/// Seconds since the Unix epoch at counter value [`BASE_COUNT`]; 0 while
/// Aerie has no wall clock.
static BASE_SECS: AtomicU64 = AtomicU64::new(0);
static BASE_COUNT: AtomicU64 = AtomicU64::new(0);

/// The time was `unix_seconds` when the counter read `count`; `source`
/// names where it came from, for the log.
pub fn set(unix_seconds: u64, count: u64, source: &str) {
    BASE_COUNT.store(count, Ordering::Relaxed);
    BASE_SECS.store(unix_seconds, Ordering::Release);
    let (secs, _) = now();
    log::debug!("wall clock: {secs} s since the epoch, from {source}");
}

/// The time of day now as (seconds since the Unix epoch, microseconds);
/// without a wall clock, the time since the counter started (the epoch is
/// then the moment the machine started).
pub fn now() -> (u64, u32) {
    let secs = BASE_SECS.load(Ordering::Acquire);
    let base = BASE_COUNT.load(Ordering::Relaxed);
    let f = cpu::counter_frequency().max(1);
    let ticks = cpu::counter().wrapping_sub(base);
    (secs + ticks / f, ((ticks % f) * 1_000_000 / f) as u32)
}

/// The counter value at which the time of day reaches `unix_seconds` (the
/// counter's start for a time before Aerie's base; saturating far ahead).
pub fn counter_at(unix_seconds: u64) -> u64 {
    let secs = BASE_SECS.load(Ordering::Acquire);
    let base = BASE_COUNT.load(Ordering::Relaxed);
    let f = cpu::counter_frequency().max(1);
    base.saturating_add(unix_seconds.saturating_sub(secs).saturating_mul(f))
}
