//! `aerie.test=mem`: Aerie's `memcpy` and `memset` (arch/aarch64/mem.S)
//! against byte-at-a-time references, for every length up to [`MAX_LEN`]
//! at every alignment of source and destination within 16 bytes: each
//! size's tail path, the 64-byte loop and any misalignment, with the bytes
//! around the destination checked untouched; and zeroing from 256 bytes
//! on, where memset uses DC ZVA, at every offset within a 64-byte block. (The MMU-off path runs only
//! before the MMU is on, and is not covered here.)

use alloc::format;
use alloc::string::String;

/// Longest length tried: past four loop passes, so every tail follows a
/// loop too.
const MAX_LEN: usize = 300;
/// Alignments tried, of source and destination each.
const OFFSETS: usize = 16;
/// Buffer size: the longest copy at the largest offset, with room around.
const BUF: usize = MAX_LEN + 2 * OFFSETS + 32;
/// What the destination holds before each case (never a copied byte: the
/// source pattern below skips it).
const GUARD: u8 = 0xA5;

extern "C" {
    fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dest: *mut u8, byte: i32, n: usize) -> *mut u8;
}

/// Runs every case; the number of cases, or the first that failed.
pub fn check() -> Result<usize, String> {
    let mut src = [0u8; BUF];
    for (i, b) in src.iter_mut().enumerate() {
        // No byte equals GUARD, and the pattern does not repeat within the
        // buffer (a multiplicative hash of the index, not a byte counter
        // that would repeat every 256), so a byte copied from the wrong
        // place or not at all shows.
        *b = match ((i as u32).wrapping_mul(0x9E37_79B1) >> 24) as u8 {
            GUARD => 0x5A,
            v => v,
        };
    }
    let mut dst = [0u8; BUF];
    let mut cases = 0;
    for len in 0..=MAX_LEN {
        for s in 0..OFFSETS {
            for d in 0..OFFSETS {
                fill(&mut dst, GUARD);
                // SAFETY: `d + len` and `s + len` are within BUF; the two
                // arrays are distinct, so the ranges do not overlap.
                let ret = unsafe { memcpy(dst.as_mut_ptr().add(d), src.as_ptr().add(s), len) };
                if ret != dst.as_mut_ptr().wrapping_add(d) {
                    return Err(format!(
                        "memcpy(len {len}, src +{s}, dst +{d}) returned another pointer"
                    ));
                }
                if let Some(at) = first_wrong(&dst, d, len, |i| src[s + i]) {
                    return Err(format!(
                        "memcpy(len {len}, src +{s}, dst +{d}): byte {at} of the buffer wrong"
                    ));
                }
                cases += 1;
            }
        }
        for d in 0..OFFSETS {
            for value in [0u8, 0x3C, 0xFF] {
                fill(&mut dst, GUARD);
                // SAFETY: `d + len` is within BUF.
                let ret = unsafe { memset(dst.as_mut_ptr().add(d), i32::from(value), len) };
                if ret != dst.as_mut_ptr().wrapping_add(d) {
                    return Err(format!(
                        "memset(len {len}, dst +{d}) returned another pointer"
                    ));
                }
                if let Some(at) = first_wrong(&dst, d, len, |_| value) {
                    return Err(format!(
                        "memset({value:#x}, len {len}, dst +{d}): byte {at} of the buffer wrong"
                    ));
                }
                cases += 1;
            }
        }
    }
    Ok(cases + check_long_zeroing()?)
}

/// Zeroing lengths from [`ZVA_MIN`] (DC ZVA's blocks with unaligned first
/// and last blocks), at every offset within 64 bytes, so that the start and
/// the end fall at every place in a block; and a few lengths of many blocks.
fn check_long_zeroing() -> Result<usize, String> {
    const ZVA_MIN: usize = 256;
    const LONG: [usize; 4] = [1023, 1024, 1089, LONG_BUF - 2 * 64 - 64];
    const LONG_BUF: usize = 4096;
    let mut dst = [0u8; LONG_BUF];
    let mut cases = 0;
    let lengths = (ZVA_MIN - 1..ZVA_MIN + 80).chain(LONG);
    for len in lengths {
        for d in 0..64 {
            fill(&mut dst, GUARD);
            // SAFETY: `d + len` is within LONG_BUF.
            let ret = unsafe { memset(dst.as_mut_ptr().add(d), 0, len) };
            if ret != dst.as_mut_ptr().wrapping_add(d) {
                return Err(format!(
                    "memset(0, len {len}, dst +{d}) returned another pointer"
                ));
            }
            if let Some(at) = first_wrong(&dst, d, len, |_| 0) {
                return Err(format!(
                    "memset(0, len {len}, dst +{d}): byte {at} of the buffer wrong"
                ));
            }
            cases += 1;
        }
    }
    Ok(cases)
}

/// Sets every byte of `buf` to `value` one at a time (volatile, so that the
/// compiler does not turn this into a call of the routine under test).
fn fill(buf: &mut [u8], value: u8) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference.
        unsafe { core::ptr::write_volatile(b, value) };
    }
}

/// The first byte of `buf` that is not `want(i)` inside `[at, at + len)`
/// (i counted from `at`) or not [`GUARD`] outside it.
fn first_wrong(buf: &[u8], at: usize, len: usize, want: impl Fn(usize) -> u8) -> Option<usize> {
    (0..buf.len()).find(|&i| {
        // SAFETY: `i` is in bounds; volatile for the reason `fill` gives.
        let got = unsafe { core::ptr::read_volatile(&buf[i]) };
        let expected = if (at..at + len).contains(&i) {
            want(i - at)
        } else {
            GUARD
        };
        got != expected
    })
}
