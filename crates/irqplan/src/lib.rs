//! The decision logic of Aerie's EL2 interrupt handling, as pure functions.
//!
//! Aerie uses GICv3 priorities to build *pseudo-NMIs*: a few interrupts get a
//! priority high enough to pass the priority mask (ICC_PMR_EL1) that regular
//! code uses as its "interrupts off" switch, so they can interrupt code that
//! has regular interrupts masked (a stuck CPU, a CPU holding a lock, the
//! regular interrupt handler itself). The hypervisor's assembly and Rust only
//! *execute* what this crate decides:
//!
//! 1. acknowledge (ICC_IAR1_EL1), read the running priority (ICC_RPR_EL1),
//!    and [`classify`] the interrupt;
//! 2. [`on_irq`] says which PMR to program and whether to clear PSTATE.I;
//! 3. after the handler, [`eoi_for`] says which of priority drop
//!    (ICC_EOIR1_EL1) and deactivation (ICC_DIR_EL1) to perform (EOImode = 1),
//!    then the PMR goes back to [`Entry::saved_pmr`].
//!
//! See [`plan`] for the priority table.
#![cfg_attr(not(test), no_std)]

mod classify;
mod entry;
mod eoi;
pub mod plan;

pub use classify::{classify, Class};
pub use entry::{on_irq, Entry};
pub use eoi::{eoi_for, eoi_sequence, Step};
pub use plan::{
    is_pseudo_nmi, non_secure, priority_of, PMR_ALL, PMR_REGULAR_MASKED, PPI_HYP_TIMER,
    PPI_MAINTENANCE, PPI_PMU, PPI_VIRTUAL_TIMER, PPI_WATCHDOG, PRIORITY_PNMI, PRIORITY_REGULAR,
    PRIVATE_INTIDS, SGI_KICK, SGI_STOP,
};

#[cfg(test)]
mod tests;
