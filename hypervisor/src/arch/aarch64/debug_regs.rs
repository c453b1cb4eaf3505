//! The hardware debug registers Aerie writes on a guest's behalf: the
//! breakpoint and watchpoint registers, MDSCR_EL1 and the OS lock. A
//! guest's access to a debug register traps (MDCR_EL2.TDA, TDOSA, TDRA) and
//! is served from the vCPU's `aerie_trap::VirtualDebug`, and the hardware
//! holds the sanitised image that type computes; except that a VM with no
//! backdoor may own the registers TDA covers while its vCPU is loaded
//! ([`give_to_guest`], [`take_from_guest`]).

use super::sysreg::{isb, read_sysreg, write_sysreg};
use aerie_trap::debug_regs::MDCCINT_SLOT;
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
        /// DBGBVR<n>_EL1 and DBGBCR<n>_EL1 as the hardware holds them.
        fn read_breakpoint(n: usize) -> (u64, u64) {
            let (mut bvr, mut bcr) = (0, 0);
            match n {
                $( $n => {
                    // SAFETY: reading breakpoint registers of a number the
                    // caller checked exists has no side effects.
                    unsafe {
                        core::arch::asm!(
                            concat!("mrs {}, dbgbvr", $n, "_el1"), out(reg) bvr,
                            options(nomem, nostack, preserves_flags));
                        core::arch::asm!(
                            concat!("mrs {}, dbgbcr", $n, "_el1"), out(reg) bcr,
                            options(nomem, nostack, preserves_flags));
                    }
                } )*
                _ => {}
            }
            (bvr, bcr)
        }
        /// DBGWVR<n>_EL1 and DBGWCR<n>_EL1 as the hardware holds them.
        fn read_watchpoint(n: usize) -> (u64, u64) {
            let (mut wvr, mut wcr) = (0, 0);
            match n {
                $( $n => {
                    // SAFETY: as for breakpoints.
                    unsafe {
                        core::arch::asm!(
                            concat!("mrs {}, dbgwvr", $n, "_el1"), out(reg) wvr,
                            options(nomem, nostack, preserves_flags));
                        core::arch::asm!(
                            concat!("mrs {}, dbgwcr", $n, "_el1"), out(reg) wcr,
                            options(nomem, nostack, preserves_flags));
                    }
                } )*
                _ => {}
            }
            (wvr, wcr)
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

/// Hand the registers MDCR_EL2.TDA traps to the loaded guest (a VM with no
/// backdoor: nothing of Aerie's rides on them): its breakpoints and
/// watchpoints, MDSCR_EL1, MDCCINT_EL1 and claim tags go into the hardware
/// as it wrote them, and its accesses to them stop trapping. Its debug
/// target stays EL1 (MDCR_EL2.TDE clear), and a debug exception is never
/// generated at a higher exception level than its target, so even points
/// the guest aims at EL2 cannot fire in Aerie. The OS lock registers stay
/// trapped (TDOSA): a guest must not double-lock the CPU.
pub fn give_to_guest(d: &VirtualDebug) {
    let (brps, wrps) = counts();
    for n in 0..brps {
        write_breakpoint(n, d.bvr[n], d.bcr[n]);
    }
    for n in 0..wrps {
        write_watchpoint(n, d.wvr[n], d.wcr[n]);
    }
    write_sysreg!(mdscr_el1, d.mdscr);
    write_sysreg!(mdccint_el1, d.storage[MDCCINT_SLOT]);
    write_sysreg!(dbgclaimclr_el1, 0xff);
    write_sysreg!(dbgclaimset_el1, d.claim);
    super::el2::set_debug_register_traps(false);
    isb();
}

/// Take them back from the guest that owned them (it leaves its pCPU): the
/// hardware's values into the image as if the guest had written them, then
/// the hardware emptied for whatever runs here next, and trapping again.
/// Emptying includes the DCC's state the guest may have left (DTR contents,
/// RXfull, TXfull, with the OS lock held as for a save): no other guest can
/// read it. The next vCPU's load sets the OS lock as that guest has it.
pub fn take_from_guest(d: &mut VirtualDebug) {
    let (brps, wrps) = counts();
    let mut used = d.points_used;
    for n in 0..brps {
        let (bvr, bcr) = read_breakpoint(n);
        (d.bvr[n], d.bcr[n]) = (bvr, bcr);
        used |= bvr | bcr != 0;
    }
    for n in 0..wrps {
        let (wvr, wcr) = read_watchpoint(n);
        (d.wvr[n], d.wcr[n]) = (wvr, wcr);
        used |= wvr | wcr != 0;
    }
    d.points_used = used;
    d.mdscr = live_mdscr();
    d.storage[MDCCINT_SLOT] = read_sysreg!(mdccint_el1);
    d.claim = read_sysreg!(dbgclaimclr_el1) & 0xff;
    empty();
}

/// MDSCR_EL1 as a guest that owns it wrote it: the hardware's, without the
/// DCC's status flags (RXfull, TXfull, RXO, TXU), which belong to the
/// channel Aerie emulates as empty when the guest does not own it.
pub fn live_mdscr() -> u64 {
    const DCC_FLAGS: u64 = (1 << 30) | (1 << 29) | (1 << 27) | (1 << 26);
    read_sysreg!(mdscr_el1) & !DCC_FLAGS
}

/// Leave nothing of a guest that owned the debug registers in the
/// hardware, and trap them again: points disabled, MDSCR_EL1 (with the
/// DCC's flags, writable while the OS lock is held), MDCCINT_EL1, the claim
/// tags, the OS lock's exception catch and the DTR contents cleared. Also
/// for a vCPU whose state is discarded rather than saved.
pub fn empty() {
    clear_points();
    write_sysreg!(mdccint_el1, 0);
    write_sysreg!(dbgclaimclr_el1, 0xff);
    write_sysreg!(oslar_el1, 1);
    isb();
    write_sysreg!(mdscr_el1, 0);
    write_sysreg!(osdtrrx_el1, 0);
    write_sysreg!(osdtrtx_el1, 0);
    write_sysreg!(oseccr_el1, 0);
    super::el2::set_debug_register_traps(true);
    isb();
}
