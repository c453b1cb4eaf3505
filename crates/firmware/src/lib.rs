//! SMCCC 1.1 and PSCI 1.1 as Aerie's guests see them.
//!
//! [`handle_call`] takes the caller's x0..x3 and a [`PsciPlatform`] (the
//! hypervisor's vCPU management) and says what to put back in x0..x3, or
//! that the caller does not return. [`served_owners`] tells the assembly
//! fast path which SMCCC owners are worth entering Rust for.
#![cfg_attr(not(test), no_std)]

pub mod dispatch;
pub mod fid;
pub mod idle;
pub mod status;

pub use dispatch::{
    handle_call, served_owners, CallResult, PsciPlatform, CPU_SUSPEND_FEATURES,
    MIGRATE_INFO_TYPE_NOT_PRESENT, PSCI_VERSION_1_1, SMCCC_VERSION_1_1,
};
pub use fid::{is_fast, is_smc64, owner};
pub use idle::{IdleKind, IdleState, IDLE_STATES};
pub use status::{AffinityState, PsciError, Suspended};
