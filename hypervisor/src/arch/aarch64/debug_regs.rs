//! The hardware debug registers Aerie writes on a guest's behalf: the
//! breakpoint and watchpoint registers, MDSCR_EL1 and the OS lock. Every
//! guest access to a debug register traps (MDCR_EL2.TDA, TDOSA, TDRA) and
//! is served from the vCPU's `aerie_trap::VirtualDebug`; the hardware only
//! ever holds the sanitised image that type computes.

use super::sysreg::{isb, read_sysreg, write_sysreg};
use aerie_trap::{HwUpdate, VirtualDebug};

macro_rules! point_writes {
    ($($n:literal),* $(,)?) => {
        /// DBGBVR<n>_EL1 and DBGBCR<n>_EL1.
        fn write_breakpoint(n: usize, bvr: u64, bcr: u64) {
            match n {
                $( $n => {
                    // SAFETY: breakpoint registers of a number the caller
                    // checked exists (ID_AA64DFR0_EL1.BRPs); they only affect
                    // debug events of the guest's EL1 and EL0 (HMC/SSC clear).
                    unsafe {
                        core::arch::asm!(
                            concat!("msr dbgbvr", $n, "_el1, {}"), in(reg) bvr,
                            options(nostack, preserves_flags));
                        core::arch::asm!(
                            concat!("msr dbgbcr", $n, "_el1, {}"), in(reg) bcr,
                            options(nostack, preserves_flags));
                    }
                } )*
                _ => {}
            }
        }
        /// DBGWVR<n>_EL1 and DBGWCR<n>_EL1.
        fn write_watchpoint(n: usize, wvr: u64, wcr: u64) {
            match n {
                $( $n => {
                    // SAFETY: as for breakpoints (ID_AA64DFR0_EL1.WRPs).
                    unsafe {
                        core::arch::asm!(
                            concat!("msr dbgwvr", $n, "_el1, {}"), in(reg) wvr,
                            options(nostack, preserves_flags));
                        core::arch::asm!(
                            concat!("msr dbgwcr", $n, "_el1, {}"), in(reg) wcr,
                            options(nostack, preserves_flags));
                    }
                } )*
                _ => {}
            }
        }
    };
}

point_writes!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

/// (breakpoints, watchpoints) this CPU implements.
pub fn counts() -> (usize, usize) {
    let dfr0 = read_sysreg!(id_aa64dfr0_el1);
    let brps = ((dfr0 >> 12) & 0xf) as usize + 1;
    let wrps = ((dfr0 >> 20) & 0xf) as usize + 1;
    (brps, wrps)
}

/// Breakpoint `n` as the guest's image says.
pub fn load_breakpoint(d: &VirtualDebug, n: usize) {
    write_breakpoint(n, d.bvr[n], d.hw_bcr(n));
}

/// Watchpoint `n` as the guest's image says.
pub fn load_watchpoint(d: &VirtualDebug, n: usize) {
    write_watchpoint(n, d.wvr[n], d.hw_wcr(n));
}

/// What a guest's write to the image (`VirtualDebug::write`) changed, from
/// the image into the hardware.
pub fn load(d: &VirtualDebug, update: HwUpdate) {
    match update {
        HwUpdate::None => {}
        HwUpdate::Bvr(n) | HwUpdate::Bcr(n) => load_breakpoint(d, n),
        HwUpdate::Wvr(n) | HwUpdate::Wcr(n) => load_watchpoint(d, n),
        HwUpdate::Mdscr => load_mdscr(d),
        HwUpdate::OsLock => load_os_lock(d),
    }
}

/// Every breakpoint and watchpoint from the image.
pub fn load_points(d: &VirtualDebug) {
    let (brps, wrps) = counts();
    for n in 0..brps {
        load_breakpoint(d, n);
    }
    for n in 0..wrps {
        load_watchpoint(d, n);
    }
    isb();
}

/// Disable every breakpoint and watchpoint (no guest's image is loaded).
pub fn clear_points() {
    let (brps, wrps) = counts();
    for n in 0..brps {
        write_breakpoint(n, 0, 0);
    }
    for n in 0..wrps {
        write_watchpoint(n, 0, 0);
    }
    isb();
}

/// MDSCR_EL1 from the image.
pub fn load_mdscr(d: &VirtualDebug) {
    write_sysreg!(mdscr_el1, d.hw_mdscr());
}

/// The OS lock from the image: while the guest holds it, the hardware
/// generates no breakpoint, watchpoint or step exception for it.
pub fn load_os_lock(d: &VirtualDebug) {
    write_sysreg!(oslar_el1, u64::from(d.os_lock));
}
