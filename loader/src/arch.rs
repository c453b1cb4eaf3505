//! The loader's only assembly: reading the exception level and the
//! counter, and the jump into Aerie with the caches cleaned.

use core::arch::asm;

/// The exception level the firmware runs this program at.
pub fn current_el() -> u64 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack)) };
    (el >> 2) & 3
}

/// The generic counter (CNTPCT_EL0), which Aerie reads too.
pub fn counter() -> u64 {
    let count: u64;
    // SAFETY: reading the counter has no side effects; the ISB keeps the
    // read from being taken early.
    unsafe { asm!("isb", "mrs {}, cntpct_el0", out(reg) count, options(nomem, nostack)) };
    count
}

/// Starts Aerie at `entry` (physical, identity-mapped by the firmware) with
/// x0 = `dtb` and x1..x3 = 0, interrupts masked, the MMU still on. Every
/// range in `written` is first cleaned and invalidated to the point of
/// coherency: Aerie turns its MMU and caches off on entry, and from then on
/// reads memory, not this CPU's caches.
///
/// # Safety
/// Boot services must have been exited; `entry` must be an Aerie image
/// placed by its header, and `dtb` a device tree that stays where it is.
pub unsafe fn enter(entry: u64, dtb: u64, written: &[(u64, u64)]) -> ! {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    // CTR_EL0.DminLine: log2 of the smallest data cache line, in words.
    let line = 4u64 << ((ctr >> 16) & 0xf);
    for &(base, len) in written {
        let mut va = base & !(line - 1);
        while va < base + len {
            // SAFETY: cleaning and invalidating a line of memory the loader
            // wrote changes no contents, only where they are held.
            unsafe { asm!("dc civac, {}", in(reg) va, options(nostack)) };
            va += line;
        }
    }
    // SAFETY: the caller hands this CPU over to Aerie; nothing of the loader
    // runs again. The I-cache is invalidated because the image is new code.
    unsafe {
        asm!(
            "dsb sy",
            "ic iallu",
            "dsb sy",
            "isb",
            "msr daifset, #0xf",
            "br {entry}",
            entry = in(reg) entry,
            in("x0") dtb,
            in("x1") 0u64,
            in("x2") 0u64,
            in("x3") 0u64,
            options(noreturn, nostack),
        )
    }
}
