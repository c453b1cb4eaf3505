//! What a virtio device type provides to its transport. The transport owns
//! the generic machinery (status, feature negotiation, queue registers,
//! interrupts); the device owns its feature bits, its configuration space
//! and what a buffer on each of its queues means.

use crate::mem::GuestMemory;
use crate::queue::{QueueError, Virtqueue};

/// QueueNumMax every device here reports unless it says otherwise: large
/// enough that Linux never runs out of descriptors in practice.
pub const DEFAULT_QUEUE_SIZE_MAX: u16 = 256;

/// A virtio device type (block, console, ...).
pub trait VirtioDevice {
    /// Device ID (virtio 1.2 section 5): 1 = network, 2 = block, 3 = console.
    fn device_id(&self) -> u32;

    /// Device-type feature bits offered (bits 0..=23). The transport adds
    /// VIRTIO_F_VERSION_1.
    fn features(&self) -> u64;

    /// Number of virtqueues.
    fn num_queues(&self) -> usize;

    /// QueueNumMax for `queue` (a power of two).
    fn queue_max_size(&self, _queue: usize) -> u16 {
        DEFAULT_QUEUE_SIZE_MAX
    }

    /// Fills `data` from the device configuration space at `offset`. Bytes
    /// past the end of the structure read as zero.
    fn read_config(&self, offset: usize, data: &mut [u8]);

    /// A driver write to the configuration space. Most fields are
    /// read-only, so the default ignores it.
    fn write_config(&mut self, _offset: usize, _data: &[u8]) {}

    /// Processes what is available on `queue` (notified by the driver, or
    /// the device has new data for it). Returns whether any used buffer was
    /// added. An error means the queue is unusable: the transport then sets
    /// DEVICE_NEEDS_RESET.
    fn process_queue(
        &mut self,
        queue: usize,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError>;

    /// The driver's accepted features, once FEATURES_OK holds (until the
    /// next reset): for a device whose buffers mean more with some of them.
    fn negotiated(&mut self, _features: u64) {}

    /// Device reset (status written 0): back to the initial state.
    fn reset(&mut self);
}

/// Copies the part of a configuration image at `offset` into `data`; bytes
/// past the image read as zero, so a driver probing fields of features that
/// were not offered sees zeros rather than a fault.
pub(crate) fn copy_config(image: &[u8], offset: usize, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = offset
            .checked_add(i)
            .and_then(|at| image.get(at))
            .copied()
            .unwrap_or(0);
    }
}
