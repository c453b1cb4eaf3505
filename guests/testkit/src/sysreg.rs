//! System register access. Each read/write is a single MRS/MSR: the only way to
//! reach these registers, and harmless at EL1 for the registers the testkit uses.

/// Reads a system register by its assembler name (or `s<op0>_<op1>_c<n>_c<m>_<op2>`).
macro_rules! read_sysreg {
    ($name:tt) => {{
        let value: u64;
        // SAFETY: reading an EL1/EL0-accessible system register has no memory
        // side effects; callers only name registers that exist at EL1.
        unsafe {
            core::arch::asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack, preserves_flags));
        }
        value
    }};
}

/// Writes a system register by its assembler name.
macro_rules! write_sysreg {
    ($name:tt, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: callers only write EL1-owned control registers (timer, GIC CPU
        // interface) whose effects the testkit manages; no Rust memory is touched.
        unsafe {
            core::arch::asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nostack, preserves_flags));
        }
    }};
}

/// Instruction synchronisation barrier: makes earlier system register writes visible.
pub fn isb() {
    // SAFETY: a barrier has no operands and no memory effects beyond ordering.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// Full-system data synchronisation barrier.
pub fn dsb_sy() {
    // SAFETY: a barrier only orders memory accesses.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Wait for event (a bounded-loop helper: callers re-check their condition).
pub fn wfe() {
    // SAFETY: WFE only suspends until an event; no state is changed.
    unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// Send event to all PEs, waking any `wfe`.
pub fn sev() {
    // SAFETY: SEV only signals an event.
    unsafe { core::arch::asm!("sev", options(nomem, nostack, preserves_flags)) };
}

/// Wait for interrupt (wakes on a pending interrupt even when PSTATE masks it).
pub fn wfi() {
    // SAFETY: WFI only suspends until a wake-up event; no state is changed.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// MPIDR_EL1 affinity fields Aff3..Aff0 (bits [39:32] and [23:0]).
pub fn mpidr_affinity() -> u64 {
    read_sysreg!("mpidr_el1") & 0xff_00ff_ffff
}

pub(crate) use {read_sysreg, write_sysreg};
