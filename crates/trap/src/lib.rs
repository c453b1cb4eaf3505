//! Trap decoding and exception injection for Aerie's EL2 exit path.
//!
//! - [`decode`] turns `ESR_EL2` into an [`Exit`] (HVC, SMC, WFx, MSR/MRS,
//!   data/instruction aborts, debug).
//! - [`sanitize_id_register`] is the guest's view of a TID3-trapped ID
//!   register.
//! - [`inject_undefined`], [`inject_data_abort`], [`inject_instr_abort`]
//!   and [`inject_sync`] compute the EL1 register values that deliver a
//!   synchronous exception to the guest; [`inject_debug`] re-injects a
//!   debug exception that MDCR_EL2.TDE routed to EL2.
//!
//! Everything is pure and allocation-free; nothing here touches a register.
#![cfg_attr(not(test), no_std)]

pub mod abort;
pub mod debug;
pub mod debug_regs;
pub mod esr;
pub mod exit;
pub mod id_regs;
pub mod inject;
pub mod par;
pub mod pstate;
pub mod sysreg;

pub use abort::{fsc, DataAbort, MmioAccess};
pub use debug::inject_debug;
pub use debug_regs::{DebugReg, HwUpdate, VirtualDebug};
pub use esr::{ec, Esr};
pub use exit::{decode, Exit, WfxKind};
pub use id_regs::sanitize_id_register;
pub use inject::{inject_data_abort, inject_instr_abort, inject_sync, inject_undefined, Injection};
pub use sysreg::{SysReg, SysRegAccess};

#[cfg(test)]
mod tests {
    mod storm;
}
