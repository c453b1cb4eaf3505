//! Emulated devices as pure state machines: they never touch hardware. The
//! hypervisor feeds them decoded MMIO accesses and host input, and gives
//! them a [`ByteSink`] for output; interrupt lines are read back as levels.
//! The Ethernet switch between the VMs' network cards is here too: it
//! decides where frames go, and the hypervisor carries them.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod line;
pub mod mmio;
pub mod mux;
pub mod pl011;
pub mod pl031;
pub mod pl061;
pub mod primecell;
pub mod switch;

pub use line::{LineEditor, LINE_MAX};
pub use mmio::{ByteSink, MmioError};
pub use mux::{InputMux, MuxEvent};
pub use pl011::Pl011;
pub use pl031::Pl031;
pub use pl061::Pl061;
pub use switch::{Card, DropReason, PortDrops, Route, Switch};
