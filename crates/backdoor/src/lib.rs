//! The VMware guest backdoor, as the arm64 VMware guest tools (open-vm-tools)
//! speak it, served per VM.
//!
//! The hypervisor traps a guest `mrs xN, MDCCSR_EL0` or `brk #imm` (see
//! ARCHITECTURE.md section 5), copies x0..x7 into [`Regs`], asks
//! [`is_backdoor_request`] / [`Backdoor::handle`], writes the registers back
//! and steps past the instruction. Everything here is pure protocol logic: no
//! hardware access, bounded memory, never panics on guest input.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod abi;
mod backdoor;
mod channel;
pub mod guestinfo;
pub mod guestlib;
mod message;
pub mod nicinfo;
pub mod rpci;
mod tclo;

pub use abi::{is_backdoor_request, IoFlags, Regs};
pub use backdoor::{
    Backdoor, BackdoorConfig, BackdoorError, GuestVa, Host, HostTime, Outcome, CHANNEL_IDLE_US,
    MAX_CHANNELS,
};
pub use channel::MAX_MESSAGE_LEN;
pub use guestinfo::{GuestInfo, GuestInfoError};
pub use rpci::ToolsState;
pub use tclo::{PowerOp, PowerOpError};

#[cfg(test)]
mod tests;
