//! virtio 1.2 (OASIS) device models as pure state machines: the virtio-mmio
//! transport (version 2 register layout, spec 4.2), split virtqueues (2.7),
//! a block device (5.2) and a console device (5.3).
//!
//! Nothing here touches hardware. Guest RAM is reached through
//! [`GuestMemory`] and disk storage through [`BlockBackend`], both
//! implemented by the hypervisor. The model is synchronous: a QueueNotify
//! write processes every available buffer before the write returns, and the
//! returned [`Notify`] tells the hypervisor whether to pulse the device's
//! interrupt.
//!
//! Anything read from guest memory is untrusted: a malformed ring or a bad
//! address makes the device set DEVICE_NEEDS_RESET (or fail the request with
//! an error status), never panic.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod block;
pub mod console;
pub mod device;
pub mod features;
pub mod mem;
pub mod mmio;
pub mod queue;
pub mod status;

#[cfg(test)]
mod testutil;

pub use aerie_vdev::{ByteSink, MmioError};
pub use block::{BlockBackend, BlockDevice, IoError};
pub use console::ConsoleDevice;
pub use device::VirtioDevice;
pub use mem::{GuestMemory, MemError};
pub use mmio::{MmioTransport, Notify, VirtioFault};
pub use queue::{DescriptorChain, QueueError, Virtqueue};
