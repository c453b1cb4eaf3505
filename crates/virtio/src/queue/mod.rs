//! Split virtqueues (virtio 1.2 section 2.7), device side.
//!
//! Layout in guest memory, all little-endian:
//! - descriptor table: `size` x 16-byte [`Descriptor`]s, 16-byte aligned;
//! - available ring (driver area): `flags: u16, idx: u16, ring: [u16; size]`
//!   (+ `used_event` with EVENT_IDX, which is not offered), 2-byte aligned;
//! - used ring (device area): `flags: u16, idx: u16, ring: [{id: u32,
//!   len: u32}; size]`, 4-byte aligned.
//!
//! Indices are free-running u16 counters taken modulo `size`, which is why
//! `size` must be a power of two: otherwise the wrap at 65536 would skip
//! ring slots.

mod chain;
pub mod descriptor;
mod error;
#[cfg(test)]
mod tests;

pub use chain::{DescriptorChain, Segment};
pub use descriptor::Descriptor;
pub use error::QueueError;

use crate::mem::{read_u16, write_u16, write_u32, GuestMemory};
use core::sync::atomic::{fence, Ordering};
use descriptor::DESC_SIZE;

/// `avail.flags`: the driver asks not to be interrupted for used buffers.
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Offset of `idx` in both rings.
const RING_IDX: u64 = 2;
/// Offset of `ring[0]` in both rings.
const RING_ENTRIES: u64 = 4;
/// Size of one used-ring element.
const USED_ELEM_SIZE: u64 = 8;

/// One virtqueue's transport-visible configuration plus the device's
/// private cursors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Virtqueue {
    /// QueueNum: number of descriptors (power of two once ready).
    pub size: u16,
    /// QueueReady.
    pub ready: bool,
    /// QueueDesc: descriptor table address.
    pub desc_table: u64,
    /// QueueDriver: available ring address.
    pub avail_ring: u64,
    /// QueueDevice: used ring address.
    pub used_ring: u64,
    last_avail_idx: u16,
    used_idx: u16,
}

impl Virtqueue {
    /// Whether the configuration is one a split virtqueue can use, given
    /// the device's QueueNumMax.
    pub fn config_valid(&self, max_size: u16) -> bool {
        self.size != 0
            && self.size <= max_size
            && self.size.is_power_of_two()
            && self.desc_table.is_multiple_of(16)
            && self.avail_ring.is_multiple_of(2)
            && self.used_ring.is_multiple_of(4)
    }

    /// Next available-ring index the device will consume.
    pub fn last_avail_idx(&self) -> u16 {
        self.last_avail_idx
    }

    /// Value the device last published in `used.idx`.
    pub fn used_idx(&self) -> u16 {
        self.used_idx
    }

    /// The driver's `avail.idx`: how many chains it has made available, ever
    /// (modulo 2^16).
    pub fn avail_idx(&self, mem: &dyn GuestMemory) -> Result<u16, QueueError> {
        Ok(read_u16(mem, self.avail_ring + RING_IDX)?)
    }

    /// Takes the next available chain, or `None` when the driver has not
    /// made any new buffer available. The chain's shape is fully validated
    /// here so devices only deal with well-formed streams.
    pub fn pop(&mut self, mem: &dyn GuestMemory) -> Result<Option<DescriptorChain>, QueueError> {
        let avail_idx = self.avail_idx(mem)?;
        let pending = avail_idx.wrapping_sub(self.last_avail_idx);
        if pending == 0 {
            return Ok(None);
        }
        if pending > self.size {
            return Err(QueueError::AvailOverrun {
                avail_idx,
                last_avail_idx: self.last_avail_idx,
                size: self.size,
            });
        }
        // Pairs with the driver's write barrier between filling the ring
        // entry and bumping avail.idx: don't read the entry early.
        fence(Ordering::Acquire);
        let slot = u64::from(self.last_avail_idx % self.size);
        let head = read_u16(mem, self.avail_ring + RING_ENTRIES + 2 * slot)?;
        let chain = self.walk_chain(mem, head)?;
        self.last_avail_idx = self.last_avail_idx.wrapping_add(1);
        Ok(Some(chain))
    }

    /// Follows `next` links from `head`, reading each descriptor once (so a
    /// guest changing the table concurrently cannot make us see two
    /// versions) and bounding the walk by the table size.
    fn walk_chain(&self, mem: &dyn GuestMemory, head: u16) -> Result<DescriptorChain, QueueError> {
        let mut chain = DescriptorChain::new(head);
        let mut index = head;
        let mut seen_writable = false;
        for _ in 0..self.size {
            let desc = self.descriptor(mem, index)?;
            if desc.is_indirect() {
                return Err(QueueError::IndirectNotNegotiated { head });
            }
            if desc.addr.checked_add(u64::from(desc.len)).is_none() {
                return Err(QueueError::BadLength { head });
            }
            let writable = desc.is_write_only();
            if seen_writable && !writable {
                return Err(QueueError::ReadableAfterWritable { head });
            }
            seen_writable |= writable;
            let seg = Segment {
                addr: desc.addr,
                len: desc.len,
            };
            chain
                .push(seg, writable)
                .ok_or(QueueError::BadLength { head })?;
            if !desc.has_next() {
                return Ok(chain);
            }
            index = desc.next;
        }
        Err(QueueError::ChainTooLong { head })
    }

    fn descriptor(&self, mem: &dyn GuestMemory, index: u16) -> Result<Descriptor, QueueError> {
        if index >= self.size {
            return Err(QueueError::DescriptorIndex {
                index,
                size: self.size,
            });
        }
        let mut raw = [0u8; DESC_SIZE as usize];
        mem.read(self.desc_table + DESC_SIZE * u64::from(index), &mut raw)?;
        Ok(Descriptor::from_bytes(&raw))
    }

    /// Gives back the last `n` chains [`pop`](Self::pop) took and the
    /// device has not used: the next pops take them again, read afresh
    /// from the rings. For a device that found, only after taking them,
    /// that they cannot hold what it has yet (a packet spread over several
    /// receive buffers).
    pub fn unpop(&mut self, n: u16) {
        self.last_avail_idx = self.last_avail_idx.wrapping_sub(n);
    }

    /// Returns a chain to the driver: writes the used element, then
    /// publishes it by bumping `used.idx`. `len` is the number of bytes the
    /// device wrote into the chain's writable buffers.
    pub fn push_used(
        &mut self,
        mem: &mut dyn GuestMemory,
        head: u16,
        len: u32,
    ) -> Result<(), QueueError> {
        self.push_used_all(mem, &[(head, len)])
    }

    /// Returns several chains to the driver at once, `(head, len)` each as
    /// in [`push_used`](Self::push_used): all their used elements are
    /// written before one bump of `used.idx` publishes them together (a
    /// driver reading the first of a packet's buffers finds the others
    /// there too).
    pub fn push_used_all(
        &mut self,
        mem: &mut dyn GuestMemory,
        used: &[(u16, u32)],
    ) -> Result<(), QueueError> {
        if self.size == 0 {
            return Err(QueueError::BadQueueConfig { size: 0 });
        }
        let mut next = self.used_idx;
        for &(head, len) in used {
            let slot = u64::from(next % self.size);
            let elem = self.used_ring + RING_ENTRIES + USED_ELEM_SIZE * slot;
            write_u32(mem, elem, u32::from(head))?;
            write_u32(mem, elem + 4, len)?;
            next = next.wrapping_add(1);
        }
        // The driver may read used.idx on another CPU at any time: the
        // elements must be visible before the index that publishes them.
        fence(Ordering::Release);
        write_u16(mem, self.used_ring + RING_IDX, next)?;
        self.used_idx = next;
        Ok(())
    }

    /// Whether the driver wants a used-buffer notification now, i.e. it has
    /// not set VIRTQ_AVAIL_F_NO_INTERRUPT (EVENT_IDX is not offered, so the
    /// flag is the only suppression mechanism; spec 2.7.7).
    pub fn wants_interrupt(&self, mem: &dyn GuestMemory) -> Result<bool, QueueError> {
        fence(Ordering::SeqCst);
        let flags = read_u16(mem, self.avail_ring)?;
        Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
    }

    /// Back to the reset state: not ready, no addresses, cursors at zero.
    pub fn reset(&mut self) {
        *self = Virtqueue::default();
    }
}
