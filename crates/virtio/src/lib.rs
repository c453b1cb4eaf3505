//! virtio 1.2 (OASIS) device models as pure state machines: the virtio-mmio
//! transport (version 2 register layout, spec 4.2), split virtqueues (2.7),
//! a block device (5.2), a console device (5.3) and a network device (5.1).
//!
//! Nothing here touches hardware. Guest RAM is reached through
//! [`GuestMemory`] and disk storage through [`BlockBackend`], both
//! implemented by the hypervisor; network frames cross as byte vectors
//! ([`NetDevice::take_outbound`], [`MmioTransport::deliver`]). A QueueNotify
//! write processes the available buffers (on the network card's transmit
//! queue, at most a queue's worth) before the write returns, and the
//! returned [`Notify`] tells the hypervisor whether to pulse the device's
//! interrupt. The one exception is the storage: the block device leaves
//! reads, writes and flushes as [`block::Request`]s for the hypervisor to
//! run when and where it likes, then hand back through
//! [`MmioTransport::complete`].
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
pub mod net;
pub mod queue;
pub mod status;

#[cfg(test)]
mod testutil;

pub use aerie_vdev::{ByteSink, MmioError};
pub use block::{BlockBackend, BlockDevice, Completion, DmaBuf, IoError, Op, Request, Transfer};
pub use console::ConsoleDevice;
pub use device::VirtioDevice;
pub use mem::{GuestMemory, MemError};
pub use mmio::{MmioTransport, Notify, VirtioFault};
pub use net::{Mac, NetDevice, NetStats};
pub use queue::{DescriptorChain, QueueError, Virtqueue};
