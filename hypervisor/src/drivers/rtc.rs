//! The host's real-time clock, read once at boot for Aerie's wall clock
//! ([`crate::wall_clock`]): the generic counter measures time from there.

use super::registers::Registers;
use crate::arch::aarch64::cpu;
use aerie_dt::RtcKind;

/// PL031 RTCDR: the current time in seconds (PL031 TRM, 3.3.1).
const PL031_RTCDR: usize = 0x000;
/// ZynqMP/Versal CURRENT_TIME: seconds (UG1087, RTC).
const ZYNQMP_CURRENT_TIME: usize = 0x010;
/// SNVS LPSRTCMR (bits 46:32 of the 32768 Hz count, in 14:0) and
/// LPSRTCLR (bits 31:0), from the start of the LP registers.
const SNVS_LPSRTCMR: usize = 0x1c;
const SNVS_LPSRTCLR: usize = 0x20;
/// The SNVS counter's ticks per second, as a shift.
const SNVS_SHIFT: u32 = 15;

/// Reads the clock of `kind` whose registers are mapped at `base` and sets
/// the wall clock from it.
///
/// # Safety
/// `base` must be the virtual address of that clock's mapped registers
/// (for the SNVS, of its whole block).
pub unsafe fn init(base: u64, kind: RtcKind) {
    let count = cpu::counter();
    // SAFETY: per this function's contract; the registers read below are
    // read-only counters, whose reads have no side effects.
    let (secs, name) = unsafe {
        match kind {
            RtcKind::Pl031 => (
                u64::from(Registers::new(base).read(PL031_RTCDR)),
                "the PL031",
            ),
            RtcKind::ZynqMp => (
                u64::from(Registers::new(base).read(ZYNQMP_CURRENT_TIME)),
                "the ZynqMP RTC",
            ),
            RtcKind::ImxSnvs { lp_offset } => (
                snvs_seconds(Registers::new(base + u64::from(lp_offset))),
                "the i.MX SNVS RTC",
            ),
        }
    };
    crate::wall_clock::set(secs, count, name);
}

/// The SNVS counter in seconds. Its two halves are read apart: a carry
/// between them shows as a different value on a second read (the manual's
/// advice, and Linux's).
fn snvs_seconds(lp: Registers) -> u64 {
    let count_now =
        || (u64::from(lp.read(SNVS_LPSRTCMR) & 0x7fff) << 32) | u64::from(lp.read(SNVS_LPSRTCLR));
    let mut ticks = count_now();
    for _ in 0..4 {
        let again = count_now();
        if again == ticks {
            break;
        }
        ticks = again;
    }
    ticks >> SNVS_SHIFT
}
