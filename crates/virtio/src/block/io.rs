//! The part of a block request that touches the storage. The device reads
//! and checks a request's header when it takes the chain off the queue
//! ([`super::BlockDevice`]); what is left, moving sectors between the
//! storage and the guest's buffers and writing the status byte, is a
//! [`Request`] the hypervisor runs where it likes, one of two ways:
//! - storage that answers later (DMA, an interrupt when done) takes it as
//!   a [`Transfer`] naming the guest's own buffers, and the request is
//!   answered when the storage has ([`Request::finish`]);
//! - storage driven by the CPU (an SD card's PIO) runs it through a
//!   bounce buffer ([`Request::run`]), which Aerie does without its
//!   machine lock, so a VM waiting for the disk holds up no one else.
//!
//! [`crate::MmioTransport::complete`] then returns the buffers to the
//! driver.

use super::backend::{BlockBackend, DmaBuf, IoError, SECTOR_SIZE};
use super::request::{HEADER_SIZE, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK};
use crate::mem::GuestMemory;
use crate::queue::{DescriptorChain, QueueError};
use alloc::vec::Vec;

/// The bounce buffer a hypervisor should give [`Request::run`]: a request
/// is moved in chunks of the buffer's size, one backend call each, and
/// 512 KiB holds the largest Linux makes of the device (127 segments of a
/// page), so each of its requests is one call. (A host disk request has a
/// fixed cost: with 64 KiB, 512 KiB reads under Aerie, on the host's
/// virtio-blk then, ran at 140 MB/s against 220 MB/s with 512 KiB.)
pub const BOUNCE_SIZE: usize = 512 * 1024;

/// What a request asks of the storage. Sectors and lengths are already
/// checked: whole sectors, inside the backend's capacity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// Read `len` bytes from `sector` into the chain's writable bytes.
    Read { sector: u64, len: u32 },
    /// Write the `len` bytes after the header to `sector`.
    Write { sector: u64, len: u32 },
    /// Make every completed write durable.
    Flush,
}

impl Op {
    /// The first sector it names (0 for a flush, which names none): what
    /// a failure is reported at.
    pub fn sector(&self) -> u64 {
        match *self {
            Op::Read { sector, .. } | Op::Write { sector, .. } => sector,
            Op::Flush => 0,
        }
    }
}

/// A request as storage that moves data by DMA and answers later takes it
/// ([`Request::transfer`]): Aerie's host virtio-blk. Sectors are the
/// device's (the backend's), already checked against its capacity.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Transfer {
    /// Read from `sector` into `bufs`, in order.
    Read { sector: u64, bufs: Vec<DmaBuf> },
    /// Write `bufs`, in order, to `sector`.
    Write { sector: u64, bufs: Vec<DmaBuf> },
    /// Make every completed write durable.
    Flush,
}

/// A request taken off the queue whose storage work is still to be done.
#[derive(Debug)]
pub struct Request {
    chain: DescriptorChain,
    op: Op,
    /// Offset of the status byte in the chain's writable bytes (the last).
    status_at: u32,
}

/// A request that has run: what goes into the used ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Completion {
    /// The chain's head, the used element's id.
    pub head: u16,
    /// Bytes written into the chain, status byte included; or why the
    /// status byte could not be written, which leaves the driver no way to
    /// learn the outcome: the queue is unusable.
    pub used: Result<u32, QueueError>,
    /// The storage's failure, if it failed (the guest sees IOERR).
    pub error: Option<IoError>,
}

impl Request {
    pub(super) fn new(chain: DescriptorChain, op: Op, status_at: u32) -> Request {
        Request {
            chain,
            op,
            status_at,
        }
    }

    /// What it asks of the storage.
    pub fn op(&self) -> Op {
        self.op
    }

    /// Moves the data between `backend` and the guest's buffers through
    /// `bounce` (a non-empty multiple of 512 bytes; [`BOUNCE_SIZE`] is what
    /// the device was sized for), then writes the status byte.
    pub fn run<B: BlockBackend + ?Sized>(
        &self,
        backend: &mut B,
        mem: &mut dyn GuestMemory,
        bounce: &mut [u8],
    ) -> Completion {
        let (status, written, error) = match self.op {
            Op::Read { sector, len } => read(backend, sector, &self.chain, len, mem, bounce),
            Op::Write { sector, len } => {
                let (status, error) = write(backend, sector, &self.chain, len, mem, bounce);
                (status, 0, error)
            }
            Op::Flush => match backend.flush() {
                Ok(()) => (VIRTIO_BLK_S_OK, 0, None),
                Err(e) => (VIRTIO_BLK_S_IOERR, 0, Some(e)),
            },
        };
        self.answer(mem, status, written, error)
    }

    /// The request as storage that answers later takes it: a [`Transfer`]
    /// straight between the storage and the guest's buffers (addresses from
    /// [`GuestMemory::dma_address`]). None when a data buffer is not guest
    /// RAM as a whole: then [`Request::refuse`] answers it.
    pub fn transfer(&self, mem: &dyn GuestMemory) -> Option<Transfer> {
        Some(match self.op {
            Op::Read { sector, len } => Transfer::Read {
                sector,
                bufs: dma_bufs(&self.chain, mem, true, 0, len)?,
            },
            Op::Write { sector, len } => Transfer::Write {
                sector,
                bufs: dma_bufs(&self.chain, mem, false, HEADER_SIZE, len)?,
            },
            Op::Flush => Transfer::Flush,
        })
    }

    /// Answers it once its [`Transfer`] is over: `result` is the storage's.
    pub fn finish(&self, mem: &mut dyn GuestMemory, result: Result<(), IoError>) -> Completion {
        match (result, self.op) {
            (Ok(()), Op::Read { len, .. }) => self.answer(mem, VIRTIO_BLK_S_OK, len, None),
            (Ok(()), _) => self.answer(mem, VIRTIO_BLK_S_OK, 0, None),
            (Err(e), _) => self.answer(mem, VIRTIO_BLK_S_IOERR, 0, Some(e)),
        }
    }

    /// Answers it failed without the storage: a data buffer it cannot
    /// reach ([`Request::transfer`] gave None). The guest sees IOERR, as
    /// from [`Request::run`] when such a buffer stops the copy.
    pub fn refuse(&self, mem: &mut dyn GuestMemory) -> Completion {
        self.answer(mem, VIRTIO_BLK_S_IOERR, 0, None)
    }

    /// Writes the status byte after `written` data bytes.
    fn answer(
        &self,
        mem: &mut dyn GuestMemory,
        status: u8,
        written: u32,
        error: Option<IoError>,
    ) -> Completion {
        let used = self
            .chain
            .write_at(mem, self.status_at, &[status])
            .map(|_| written + 1)
            .map_err(QueueError::from);
        Completion {
            head: self.chain.head(),
            used,
            error,
        }
    }
}

/// The chunks a transfer of `len` bytes from `sector` moves through
/// `bounce`, one backend call each: `(offset in the data, bytes, first
/// sector)`. A chunk is as much of the buffer as whole sectors fill, at
/// most 1 MiB.
fn chunks(sector: u64, len: u32, bounce: &[u8]) -> impl Iterator<Item = (u32, u32, u64)> {
    let whole = bounce.len().min(1 << 20) / SECTOR_SIZE * SECTOR_SIZE;
    assert!(whole > 0, "a bounce buffer holds at least one sector");
    let step = whole as u32;
    (0..len).step_by(whole).map(move |done| {
        let at = sector + u64::from(done) / SECTOR_SIZE as u64;
        (done, (len - done).min(step), at)
    })
}

/// The guest buffers of `len` bytes of `chain`'s readable (`writable`
/// false) or writable stream from `offset`, as storage reaches them
/// directly; None if any is not guest RAM as a whole.
fn dma_bufs(
    chain: &DescriptorChain,
    mem: &dyn GuestMemory,
    writable: bool,
    offset: u32,
    len: u32,
) -> Option<Vec<DmaBuf>> {
    let pieces = chain.pieces(writable, offset, len);
    if pieces.iter().map(|p| u64::from(p.len)).sum::<u64>() != u64::from(len) {
        return None;
    }
    // By value: the list's allocation is reused for the answer.
    pieces
        .into_iter()
        .map(|p| {
            Some(DmaBuf {
                addr: mem.dma_address(p.addr, p.len as usize)?,
                len: p.len,
            })
        })
        .collect()
}

/// Returns the status, the data bytes written to the chain and the
/// storage's error.
fn read<B: BlockBackend + ?Sized>(
    backend: &mut B,
    sector: u64,
    chain: &DescriptorChain,
    len: u32,
    mem: &mut dyn GuestMemory,
    bounce: &mut [u8],
) -> (u8, u32, Option<IoError>) {
    for (done, n, at) in chunks(sector, len, bounce) {
        let buf = &mut bounce[..n as usize];
        if let Err(e) = backend.read(at, buf) {
            return (VIRTIO_BLK_S_IOERR, done, Some(e));
        }
        if chain.write_at(mem, done, buf).is_err() {
            return (VIRTIO_BLK_S_IOERR, done, None);
        }
    }
    (VIRTIO_BLK_S_OK, len, None)
}

fn write<B: BlockBackend + ?Sized>(
    backend: &mut B,
    sector: u64,
    chain: &DescriptorChain,
    len: u32,
    mem: &mut dyn GuestMemory,
    bounce: &mut [u8],
) -> (u8, Option<IoError>) {
    for (done, n, at) in chunks(sector, len, bounce) {
        let buf = &mut bounce[..n as usize];
        if chain.read_at(mem, HEADER_SIZE + done, buf) != Ok(buf.len()) {
            return (VIRTIO_BLK_S_IOERR, None);
        }
        if let Err(e) = backend.write(at, buf) {
            return (VIRTIO_BLK_S_IOERR, Some(e));
        }
    }
    (VIRTIO_BLK_S_OK, None)
}
