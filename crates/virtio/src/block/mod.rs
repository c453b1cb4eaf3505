//! virtio block device (device ID 2, virtio 1.2 section 5.2): one request
//! queue, requests IN, OUT, FLUSH and GET_ID, capacity from the backend.
//!
//! Offered features: VIRTIO_BLK_F_SEG_MAX (so Linux sends multi-segment
//! requests), VIRTIO_BLK_F_BLK_SIZE (512) and VIRTIO_BLK_F_FLUSH.
//!
//! Every IN/OUT is checked against the backend's capacity before the
//! backend is called: a request reaching past the end (the VM's disk region)
//! fails with VIRTIO_BLK_S_IOERR and never touches storage. A bad data
//! buffer address also fails the request with IOERR; a chain with no
//! writable status byte cannot be answered at all, so it is a queue error
//! (the transport then sets DEVICE_NEEDS_RESET).

mod backend;
pub mod config;
pub mod request;
#[cfg(test)]
mod tests;

pub use backend::{BlockBackend, IoError, SECTOR_SIZE};

use crate::device::{copy_config, VirtioDevice};
use crate::mem::GuestMemory;
use crate::queue::{DescriptorChain, QueueError, Virtqueue};
use alloc::vec;
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
/// Bytes moved per backend call: large requests are split into chunks of
/// this size, so the device needs no allocation per request.
const BOUNCE_SIZE: usize = 64 * 1024;

/// A virtio-blk device over a [`BlockBackend`].
#[derive(Debug)]
pub struct BlockDevice<B: BlockBackend> {
    backend: B,
    id: [u8; VIRTIO_BLK_ID_BYTES],
    bounce: Vec<u8>,
    last_io_error: Option<IoError>,
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
            bounce: vec![0u8; BOUNCE_SIZE],
            last_io_error: None,
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

    /// The most recent backend failure since the last call, for logging.
    pub fn take_io_error(&mut self) -> Option<IoError> {
        self.last_io_error.take()
    }

    /// Answers one request; returns the used length (bytes written to the
    /// chain, status byte included).
    fn handle(
        &mut self,
        chain: &DescriptorChain,
        mem: &mut dyn GuestMemory,
    ) -> Result<u32, QueueError> {
        let status_at = chain
            .writable_len()
            .checked_sub(1)
            .ok_or(QueueError::NoStatusByte { head: chain.head() })?;
        let (status, written) = self.execute(chain, status_at, mem);
        chain.write_at(mem, status_at, &[status])?;
        Ok(written + 1)
    }

    /// Runs the request whose data-in area is the first `data_in` writable
    /// bytes. Returns the status and how many data bytes were written.
    fn execute(
        &mut self,
        chain: &DescriptorChain,
        data_in: u32,
        mem: &mut dyn GuestMemory,
    ) -> (u8, u32) {
        let mut raw = [0u8; HEADER_SIZE as usize];
        if chain.read_at(mem, 0, &mut raw) != Ok(raw.len()) {
            return (VIRTIO_BLK_S_IOERR, 0);
        }
        let header = RequestHeader::from_bytes(&raw);
        match header.kind {
            VIRTIO_BLK_T_IN => self.read_sectors(header.sector, chain, data_in, mem),
            VIRTIO_BLK_T_OUT => {
                let data_out = chain.readable_len() - HEADER_SIZE;
                (self.write_sectors(header.sector, chain, data_out, mem), 0)
            }
            VIRTIO_BLK_T_FLUSH => match self.backend.flush() {
                Ok(()) => (VIRTIO_BLK_S_OK, 0),
                Err(e) => (self.io_failed(e), 0),
            },
            VIRTIO_BLK_T_GET_ID => {
                let n = (data_in as usize).min(VIRTIO_BLK_ID_BYTES);
                match chain.write_at(mem, 0, &self.id[..n]) {
                    Ok(done) => (VIRTIO_BLK_S_OK, done as u32),
                    Err(_) => (VIRTIO_BLK_S_IOERR, 0),
                }
            }
            _ => (VIRTIO_BLK_S_UNSUPP, 0),
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

    fn read_sectors(
        &mut self,
        sector: u64,
        chain: &DescriptorChain,
        len: u32,
        mem: &mut dyn GuestMemory,
    ) -> (u8, u32) {
        if !self.in_range(sector, len) {
            return (VIRTIO_BLK_S_IOERR, 0);
        }
        let mut done = 0u32;
        while done < len {
            let n = (len - done).min(BOUNCE_SIZE as u32);
            let buf = &mut self.bounce[..n as usize];
            let at = sector + u64::from(done) / SECTOR_SIZE as u64;
            if let Err(e) = self.backend.read(at, buf) {
                return (self.io_failed(e), done);
            }
            if chain.write_at(mem, done, buf).is_err() {
                return (VIRTIO_BLK_S_IOERR, done);
            }
            done += n;
        }
        (VIRTIO_BLK_S_OK, done)
    }

    fn write_sectors(
        &mut self,
        sector: u64,
        chain: &DescriptorChain,
        len: u32,
        mem: &mut dyn GuestMemory,
    ) -> u8 {
        if !self.in_range(sector, len) {
            return VIRTIO_BLK_S_IOERR;
        }
        let mut done = 0u32;
        while done < len {
            let n = (len - done).min(BOUNCE_SIZE as u32);
            let buf = &mut self.bounce[..n as usize];
            if chain.read_at(mem, HEADER_SIZE + done, buf) != Ok(buf.len()) {
                return VIRTIO_BLK_S_IOERR;
            }
            let at = sector + u64::from(done) / SECTOR_SIZE as u64;
            if let Err(e) = self.backend.write(at, buf) {
                return self.io_failed(e);
            }
            done += n;
        }
        VIRTIO_BLK_S_OK
    }

    fn io_failed(&mut self, e: IoError) -> u8 {
        self.last_io_error = Some(e);
        VIRTIO_BLK_S_IOERR
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
            let len = self.handle(&chain, mem)?;
            vq.push_used(mem, chain.head(), len)?;
            used = true;
        }
        Ok(used)
    }

    fn reset(&mut self) {
        // Requests complete synchronously, so nothing is in flight; the
        // backend keeps its data across a device reset.
        self.last_io_error = None;
    }
}
