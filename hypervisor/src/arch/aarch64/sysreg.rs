//! System register access. The only way the rest of Aerie reads or writes a
//! system register is through these macros and the typed helpers in this
//! module's siblings.

/// Read a system register by name: `read_sysreg!(esr_el2)`.
macro_rules! read_sysreg {
    ($name:ident) => {{
        let value: u64;
        // SAFETY: reading a system register has no side effects on memory;
        // every register named in Aerie is readable at EL2.
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", stringify!($name)), out(reg) value,
                options(nomem, nostack, preserves_flags));
        }
        value
    }};
}

/// Write a system register by name: `write_sysreg!(vttbr_el2, value)`.
/// Callers that change translation or exception routing follow with `isb()`.
macro_rules! write_sysreg {
    ($name:ident, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: the registers Aerie writes configure EL2 itself or hold a
        // guest's EL1 state while that guest is not running at EL1; the
        // caller is responsible for the configuration being valid.
        unsafe {
            core::arch::asm!(concat!("msr ", stringify!($name), ", {}"), in(reg) value,
                options(nostack, preserves_flags));
        }
    }};
}

pub(crate) use read_sysreg;
pub(crate) use write_sysreg;

/// Instruction synchronisation barrier.
#[inline(always)]
pub fn isb() {
    // SAFETY: a barrier has no effect beyond ordering.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) }
}

/// Full-system data synchronisation barrier.
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: a barrier has no effect beyond ordering.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) }
}

/// Signal an event to every CPU (those waiting in WFE wake).
#[inline(always)]
pub fn sev() {
    // SAFETY: an event signal; no memory effects.
    unsafe { core::arch::asm!("sev", options(nomem, nostack, preserves_flags)) }
}

/// Wait for an event (or the event stream).
#[inline(always)]
pub fn wfe() {
    // SAFETY: waits; no memory effects.
    unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) }
}

/// Cache maintenance `$op` (a `dc` operation by VA to the point of
/// coherency) on every 64-byte line of `[va, va + len)`, then a DSB.
macro_rules! dcache_range {
    ($op:literal, $va:expr, $len:expr) => {{
        let (va, len): (u64, u64) = ($va, $len);
        let mut line = va & !63;
        while line < va + len {
            // SAFETY: cache maintenance by VA on mapped memory; no data
            // changes (a dirty line is written back before it is dropped).
            unsafe {
                core::arch::asm!(
                    concat!("dc ", $op, ", {}"),
                    in(reg) line,
                    options(nostack, preserves_flags),
                )
            }
            line += 64;
        }
        dsb_sy();
    }};
}

/// Clean and invalidate `[va, va + len)` to the point of coherency: what
/// Aerie wrote there reaches memory, and its next read comes from memory,
/// for a guest that maps the range non-cacheable (an SCMI channel, which
/// Linux maps as Device memory).
pub fn clean_invalidate_dcache_range(va: u64, len: u64) {
    dcache_range!("civac", va, len)
}

/// Clean `[va, va + len)` to the point of coherency, so an agent reading
/// memory with its caches off (a secondary CPU before its MMU is on) sees it.
pub fn clean_dcache_range(va: u64, len: u64) {
    dcache_range!("cvac", va, len)
}
