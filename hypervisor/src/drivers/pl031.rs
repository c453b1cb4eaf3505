//! The host's PL031 real-time clock, read once at boot for Aerie's wall
//! clock ([`crate::wall_clock`]). It counts whole seconds only; the generic
//! counter measures time from there.

use crate::arch::aarch64::cpu;

/// RTCDR: the current time in seconds (PL031 TRM, section 3.3.1).
const RTCDR: usize = 0x000;

/// Reads the PL031 at `base` and sets the wall clock from it.
///
/// # Safety
/// `base` must be the virtual address of a mapped PL031's registers.
pub unsafe fn init(base: u64) {
    let count = cpu::counter();
    // SAFETY: per this function's contract; RTCDR is a read-only register
    // whose read has no side effect.
    let secs = unsafe { super::registers::Registers::new(base) }.read(RTCDR);
    crate::wall_clock::set(u64::from(secs), count, "the PL031");
}
