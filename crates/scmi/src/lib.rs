//! The platform side of Arm SCMI (System Control and Management Interface,
//! DEN0056) as Aerie serves it to a guest: one agent per VM, one channel in
//! guest memory, the SMC transport (the guest writes a message into the
//! channel's shared memory and makes an SMCCC call; the reply is in the
//! same memory when the call returns).
//!
//! Two protocols: Base (what every agent must find) and Clock, with one
//! clock per vCPU. A guest's cpufreq driver (Linux's cpufreq-dt over
//! clk-scmi) sets its vCPUs' clocks to the rates it wants; the hypervisor
//! reads them back as each vCPU's requested performance (C1).
//!
//! Nothing here touches guest memory directly: [`serve`] works on a copy of
//! the channel, so the hypervisor decides how the bytes move.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod base;
pub mod clock;
pub mod message;
pub mod shmem;

pub use clock::VcpuClocks;
pub use message::{Header, Status};
pub use shmem::{opened, serve, Served, SHMEM_SIZE, WINDOW};
