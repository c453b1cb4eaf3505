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
//! | `0x60` | [`PMR_REGULAR_MASKED`] | PMR "interrupts off": only pNMIs pass    |
//! | `0xA0` | [`PRIORITY_REGULAR`]   | priority of every other interrupt        |
//! | `0xF0` | [`PMR_ALL`]            | PMR "all enabled": both classes pass     |
//!
//! 0x60 sits strictly between the two priorities: `0x20 < 0x60` so pNMIs
//! are still signalled, `0xA0 >= 0x60` so regular interrupts are held
//! pending. It is a multiple of 0x20 so it survives any number of
//! implemented priority bits down to 3 (QEMU implements 5: the low 3 bits
//! are RAZ/WI); the gap on either side leaves room for a future class.
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
/// Aerie's "interrupts off".
pub const PMR_REGULAR_MASKED: u8 = 0x60;

// The whole scheme rests on this ordering; refuse to build if it breaks.
const _: () = assert!(PRIORITY_PNMI < PMR_REGULAR_MASKED);
const _: () = assert!(PMR_REGULAR_MASKED <= PRIORITY_REGULAR);
const _: () = assert!(PRIORITY_REGULAR < PMR_ALL);

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
