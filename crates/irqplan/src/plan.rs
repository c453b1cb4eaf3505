//! The priority plan: which interrupts are pseudo-NMIs, and the PMR values
//! that mean "all enabled" and "regular interrupts off".
//!
//! GICv3 priorities are "lower number = more urgent". The CPU interface
//! signals an interrupt only if its priority is *strictly* lower (more
//! urgent) than ICC_PMR_EL1, and it preempts an active one only if its group
//! priority is strictly lower than the running priority (ICC_RPR_EL1).
//!
//! | value  | name                   | meaning                                  |
//! |--------|------------------------|------------------------------------------|
//! | `0x20` | [`PRIORITY_PNMI`]      | priority of every pseudo-NMI             |
//! | `0xA0` | [`PRIORITY_REGULAR`]   | priority of every other interrupt        |
//! | `0xA0` | [`PMR_REGULAR_MASKED`] | PMR "interrupts off": only pNMIs pass    |
//! | `0xF0` | [`PMR_ALL`]            | PMR "all enabled": both classes pass     |
//!
//! **Two views of a priority.** On a GIC with two security states
//! (GICD_CTLR.DS = 0: boards with secure firmware at EL3), a Non-secure
//! write of priority `p` to the distributor or a redistributor is stored
//! as [`non_secure`]`(p)` = `(p >> 1) | 0x80`. The CPU interface shows
//! Non-secure software the same shifted view for ICC_PMR_EL1 and
//! ICC_RPR_EL1 when Group 0 belongs to EL3 (SCR_EL3.FIQ = 1, what secure
//! firmware sets up), so everything matches; but when EL3 left Group 0 to
//! the Non-secure side (SCR_EL3.FIQ = 0, as QEMU's direct kernel boot of a
//! machine with EL3 does), ICC_PMR_EL1 and ICC_RPR_EL1 hold the raw
//! values, which must then be compared with the stored, shifted ones.
//! Linux detects that case and translates. Aerie picks values that are
//! right in both views instead, with no translation in its hot paths:
//! `0x20` and `0xA0` are stored as `0x90` and `0xD0`, and the mask `0xA0`
//! lets `0x20` and `0x90` through and holds `0xA0` and `0xD0` back;
//! a running priority below `0xA0` is a pseudo-NMI's in either view
//! ([`crate::classify`]). Every value is a multiple of 0x20 or, shifted,
//! of 0x10, so each survives any number of implemented priority bits down
//! to 4 (QEMU implements 5: the low 3 bits are RAZ/WI); with 3, the shifted
//! ones round down to `0x80` and `0xC0`, still on the right sides.
//!
//! Aerie leaves ICC_BPR1_EL1 at its reset (minimum) value, so every
//! implemented priority bit is group priority and "priority" and "group
//! priority" are the same number for all values above.

/// Priority of the pseudo-NMIs: [`SGI_STOP`], [`PPI_PMU`], [`PPI_WATCHDOG`].
pub const PRIORITY_PNMI: u8 = 0x20;
/// Priority of every other interrupt Aerie takes.
pub const PRIORITY_REGULAR: u8 = 0xA0;
/// ICC_PMR_EL1 value with every interrupt enabled.
pub const PMR_ALL: u8 = 0xF0;
/// ICC_PMR_EL1 value with regular interrupts masked and pNMIs enabled:
/// Aerie's "interrupts off". The lowest mask that holds regular interrupts
/// back, so that the pNMIs' Non-secure-range priority passes it too.
pub const PMR_REGULAR_MASKED: u8 = 0xA0;

/// Where a Non-secure write of priority `p` lands on a GIC with two
/// security states: the Non-secure half, below the Secure priorities.
pub const fn non_secure(p: u8) -> u8 {
    (p >> 1) | 0x80
}

// The whole scheme rests on this ordering, in both views; refuse to build
// if it breaks.
const _: () = assert!(PRIORITY_PNMI < PMR_REGULAR_MASKED);
const _: () = assert!(PMR_REGULAR_MASKED <= PRIORITY_REGULAR);
const _: () = assert!(PRIORITY_REGULAR < PMR_ALL);
const _: () = assert!(non_secure(PRIORITY_PNMI) < PMR_REGULAR_MASKED);
const _: () = assert!(PMR_REGULAR_MASKED <= non_secure(PRIORITY_REGULAR));
const _: () = assert!(non_secure(PRIORITY_REGULAR) < PMR_ALL);

/// SGI 0: kick another pCPU (something changed for a vCPU it runs). Regular.
pub const SGI_KICK: u32 = 0;
/// SGI 1: stop / dump request. Pseudo-NMI, so it reaches a CPU that sits
/// with interrupts off.
pub const SGI_STOP: u32 = 1;
/// PPI 23: PMU overflow, the sampling profiler's tick. Pseudo-NMI, so
/// samples land inside interrupts-off regions too.
pub const PPI_PMU: u32 = 23;
/// PPI 25: GIC maintenance interrupt. Regular.
pub const PPI_MAINTENANCE: u32 = 25;
/// PPI 26: EL2 physical timer (time slices, wake-ups). Regular.
pub const PPI_HYP_TIMER: u32 = 26;
/// PPI 27: EL1 virtual timer of the running guest. Regular.
pub const PPI_VIRTUAL_TIMER: u32 = 27;
/// PPI 30: EL1 physical timer, used as Aerie's lockup watchdog. Pseudo-NMI.
/// Aerie may own it because guests are denied the physical timer
/// (CNTHCTL_EL2 traps it).
pub const PPI_WATCHDOG: u32 = 30;

/// The private interrupts (SGIs and PPIs) Aerie enables on every pCPU.
pub const PRIVATE_INTIDS: [u32; 7] = [
    SGI_KICK,
    SGI_STOP,
    PPI_PMU,
    PPI_MAINTENANCE,
    PPI_HYP_TIMER,
    PPI_VIRTUAL_TIMER,
    PPI_WATCHDOG,
];

/// Whether the plan makes `intid` a pseudo-NMI.
pub const fn is_pseudo_nmi(intid: u32) -> bool {
    matches!(intid, SGI_STOP | PPI_PMU | PPI_WATCHDOG)
}

/// The priority Aerie programs for `intid` (GICD_IPRIORITYR /
/// GICR_IPRIORITYR).
pub const fn priority_of(intid: u32) -> u8 {
    if is_pseudo_nmi(intid) {
        PRIORITY_PNMI
    } else {
        PRIORITY_REGULAR
    }
}
