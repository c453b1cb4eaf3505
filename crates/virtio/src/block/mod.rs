//! virtio block device (device ID 2, virtio 1.2 section 5.2): one request
//! queue, requests IN, OUT, FLUSH and GET_ID, capacity from the backend.
//!
//! Offered features: VIRTIO_BLK_F_SEG_MAX (so Linux sends multi-segment
//! requests), VIRTIO_BLK_F_BLK_SIZE (512) and VIRTIO_BLK_F_FLUSH.
//!
//! The device answers what needs no storage when it takes a chain off the
//! queue (GET_ID, unsupported types, malformed or out-of-range requests);
//! reads, writes and flushes become [`Request`]s that wait in the device
//! until the hypervisor takes them ([`BlockDevice::take_requests`]), runs
//! them against the storage ([`Request::run`], `io.rs`) and returns their
//! buffers ([`crate::MmioTransport::complete`]). So the storage's time is
//! spent wherever the hypervisor chooses, not inside a register write.
//!
//! Every IN/OUT is checked against the backend's capacity when it is taken:
//! a request reaching past the end (the VM's disk region) fails with
//! VIRTIO_BLK_S_IOERR and never touches storage. A bad data buffer address
//! also fails the request with IOERR; a chain with no writable status byte
//! cannot be answered at all, so it is a queue error (the transport then
//! sets DEVICE_NEEDS_RESET).

mod backend;
pub mod config;
mod io;
pub mod request;
#[cfg(test)]
mod tests;

pub use backend::{BlockBackend, DmaBuf, IoError, SECTOR_SIZE};
pub use io::{Completion, Op, Request, Transfer, BOUNCE_SIZE};

use crate::device::{copy_config, VirtioDevice};
use crate::mem::GuestMemory;
use crate::queue::{DescriptorChain, QueueError, Virtqueue};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use config::{config_bytes, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX};
use request::*;

/// Device ID of a block device.
pub const VIRTIO_ID_BLOCK: u32 = 2;

/// QueueNumMax of the request queue.
pub const QUEUE_SIZE_MAX: u16 = 256;
/// Data segments per request: the queue size less the header and status
/// descriptors, halved so two large requests always fit at once without
/// indirect descriptors.
pub const SEG_MAX: u32 = (QUEUE_SIZE_MAX as u32 - 2) / 2;

/// A virtio-blk device over a [`BlockBackend`].
#[derive(Debug)]
pub struct BlockDevice<B: BlockBackend> {
    backend: B,
    id: [u8; VIRTIO_BLK_ID_BYTES],
    /// Requests taken off the queue, in the driver's order, for
    /// [`BlockDevice::take_request`]. At most a queue's worth: the driver
    /// cannot make more available before they are used. (A deque kept
    /// between requests: taking one allocates nothing.)
    requests: VecDeque<Request>,
}

impl<B: BlockBackend> BlockDevice<B> {
    /// A device over `backend` whose GET_ID answer is `id` (truncated to 20
    /// bytes, NUL-padded; Linux shows it as /sys/block/vda/serial).
    pub fn new(backend: B, id: &[u8]) -> Self {
        let mut id_bytes = [0u8; VIRTIO_BLK_ID_BYTES];
        let n = id.len().min(VIRTIO_BLK_ID_BYTES);
        id_bytes[..n].copy_from_slice(&id[..n]);
        BlockDevice {
            backend,
            id: id_bytes,
            requests: VecDeque::new(),
        }
    }

    /// The storage.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The storage, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Whether requests wait for the storage.
    pub fn has_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// The requests waiting for the storage, oldest first. Run them in this
    /// order (a flush covers the writes before it), then complete them on
    /// queue 0 with the transport's generation of before the take.
    pub fn take_requests(&mut self) -> Vec<Request> {
        self.requests.drain(..).collect()
    }

    /// The oldest request waiting for the storage, as
    /// [`BlockDevice::take_requests`] would give it first.
    pub fn take_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// Gives back a request taken ([`BlockDevice::take_request`]) that the
    /// storage had no room for yet: it goes first again.
    pub fn put_back(&mut self, request: Request) {
        self.requests.push_front(request);
    }

    /// Takes one chain: answers it at once if it needs no storage (returns
    /// the used length, status byte included), else keeps it as a
    /// [`Request`] (returns None).
    fn take(
        &mut self,
        chain: DescriptorChain,
        mem: &mut dyn GuestMemory,
    ) -> Result<Option<u32>, QueueError> {
        let status_at = chain
            .writable_len()
            .checked_sub(1)
            .ok_or(QueueError::NoStatusByte { head: chain.head() })?;
        match self.decode(&chain, status_at, mem) {
            Ok(op) => {
                self.requests.push_back(Request::new(chain, op, status_at));
                Ok(None)
            }
            Err((status, written)) => {
                chain.write_at(mem, status_at, &[status])?;
                Ok(Some(written + 1))
            }
        }
    }

    /// What the request asks of the storage, or the answer of one that
    /// needs none: its status and how many data bytes were written. The
    /// data-in area is the first `data_in` writable bytes.
    fn decode(
        &self,
        chain: &DescriptorChain,
        data_in: u32,
        mem: &mut dyn GuestMemory,
    ) -> Result<Op, (u8, u32)> {
        let mut raw = [0u8; HEADER_SIZE as usize];
        if chain.read_at(mem, 0, &mut raw) != Ok(raw.len()) {
            return Err((VIRTIO_BLK_S_IOERR, 0));
        }
        let header = RequestHeader::from_bytes(&raw);
        let sector = header.sector;
        match header.kind {
            VIRTIO_BLK_T_IN if self.in_range(sector, data_in) => Ok(Op::Read {
                sector,
                len: data_in,
            }),
            VIRTIO_BLK_T_OUT => {
                let len = chain.readable_len() - HEADER_SIZE;
                if self.in_range(sector, len) {
                    Ok(Op::Write { sector, len })
                } else {
                    Err((VIRTIO_BLK_S_IOERR, 0))
                }
            }
            VIRTIO_BLK_T_IN => Err((VIRTIO_BLK_S_IOERR, 0)),
            VIRTIO_BLK_T_FLUSH => Ok(Op::Flush),
            VIRTIO_BLK_T_GET_ID => {
                let n = (data_in as usize).min(VIRTIO_BLK_ID_BYTES);
                match chain.write_at(mem, 0, &self.id[..n]) {
                    Ok(done) => Err((VIRTIO_BLK_S_OK, done as u32)),
                    Err(_) => Err((VIRTIO_BLK_S_IOERR, 0)),
                }
            }
            _ => Err((VIRTIO_BLK_S_UNSUPP, 0)),
        }
    }

    /// Whether `len` bytes from `sector` are whole sectors inside the
    /// backend (spec 5.2.6.1: data length must be a multiple of 512).
    fn in_range(&self, sector: u64, len: u32) -> bool {
        (len as usize).is_multiple_of(SECTOR_SIZE)
            && sector
                .checked_add(u64::from(len) / SECTOR_SIZE as u64)
                .is_some_and(|end| end <= self.backend.capacity_sectors())
    }
}

impl<B: BlockBackend> VirtioDevice for BlockDevice<B> {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn queue_max_size(&self, _queue: usize) -> u16 {
        QUEUE_SIZE_MAX
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        let image = config_bytes(self.backend.capacity_sectors(), SEG_MAX, SECTOR_SIZE as u32);
        copy_config(&image, offset, data);
    }

    fn process_queue(
        &mut self,
        _queue: usize,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        let mut used = false;
        while let Some(chain) = vq.pop(mem)? {
            let head = chain.head();
            if let Some(len) = self.take(chain, mem)? {
                vq.push_used(mem, head, len)?;
                used = true;
            }
        }
        Ok(used)
    }

    fn reset(&mut self) {
        // Requests not yet taken are forgotten with the queue they came
        // from; the hypervisor must not let a reset complete while a taken
        // one still moves data (the driver may reuse its buffers), and the
        // transport's generation keeps it from completing them after. The
        // backend keeps its data.
        self.requests.clear();
    }
}
