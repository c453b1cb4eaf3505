//! The real-time counter of an i.MX SoC's Secure Non-Volatile Storage
//! (SNVS_LP's SRTC), read once at boot for Aerie's wall clock
//! ([`crate::wall_clock`]), as the PL031 is on other machines. It counts
//! at 32768 Hz in 47 bits: seconds above bit 15.

use crate::arch::aarch64::cpu;

/// LPSRTCMR (bits 46:32 of the count, in 14:0) and LPSRTCLR (bits 31:0),
/// from the start of the LP registers.
const LPSRTCMR: usize = 0x1c;
const LPSRTCLR: usize = 0x20;
/// Ticks per second.
const SHIFT: u32 = 15;

/// Reads the counter whose LP registers start at `lp` and sets the wall
/// clock from it.
///
/// # Safety
/// `lp` must be the virtual address of a mapped SNVS block's LP registers.
pub unsafe fn init(lp: u64) {
    // SAFETY: per this function's contract; both registers read without
    // side effects.
    let regs = unsafe { super::registers::Registers::new(lp) };
    let count_now =
        || (u64::from(regs.read(LPSRTCMR) & 0x7fff) << 32) | u64::from(regs.read(LPSRTCLR));
    let count = cpu::counter();
    // The two halves are read apart: a carry between them shows as a
    // different value on a second read (the manual's advice, and Linux's).
    let mut ticks = count_now();
    for _ in 0..4 {
        let again = count_now();
        if again == ticks {
            break;
        }
        ticks = again;
    }
    crate::wall_clock::set(ticks >> SHIFT, count, "the i.MX SNVS RTC");
}
