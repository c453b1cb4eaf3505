extern crate std;
use super::config::*;
use super::*;
use crate::features::VIRTIO_F_VERSION_1;
use crate::mmio::regs;
use crate::mmio::{MmioTransport, Notify};
use crate::status::DEVICE_NEEDS_RESET;
use crate::testutil::*;
use std::vec;
use std::vec::Vec;

const SECTORS: u64 = 1024;

/// In-memory disk that counts every call.
struct MemDisk {
    data: Vec<u8>,
    calls: usize,
    flushes: usize,
    fail: bool,
}

impl MemDisk {
    fn new() -> MemDisk {
        MemDisk {
            data: vec![0; SECTORS as usize * SECTOR_SIZE],
            calls: 0,
            flushes: 0,
            fail: false,
        }
    }

    fn range(&self, sector: u64, len: usize) -> core::ops::Range<usize> {
        let start = sector as usize * SECTOR_SIZE;
        assert!(len.is_multiple_of(SECTOR_SIZE) && len > 0);
        assert!(
            start + len <= self.data.len(),
            "device let an out-of-range request through"
        );
        start..start + len
    }
}

impl BlockBackend for MemDisk {
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.calls += 1;
        if self.fail {
            return Err(IoError {
                sector,
                reason: "media error",
            });
        }
        let r = self.range(sector, buf.len());
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
        self.calls += 1;
        let r = self.range(sector, buf.len());
        self.data[r].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.flushes += 1;
        Ok(())
    }
    fn capacity_sectors(&self) -> u64 {
        SECTORS
    }
}

const HDR: u64 = RAM_BASE + 0x7_0000;
/// The rig's bounce buffer: smaller than the hypervisor's ([`BOUNCE_SIZE`]),
/// so that requests the fake memory holds still come in several chunks.
const RIG_BOUNCE: usize = 64 * 1024;
const STATUS: u64 = RAM_BASE + 0x7_1000;

struct Rig {
    t: MmioTransport<BlockDevice<MemDisk>>,
    mem: FakeMemory,
    q: DriverQueue,
    /// The storage's failures the completions reported.
    errors: Vec<IoError>,
}

impl Rig {
    fn new() -> Rig {
        let mut t = MmioTransport::new(BlockDevice::new(MemDisk::new(), b"aerie-vm0-disk"));
        let mut mem = FakeMemory::new();
        let mut qs = bring_up(&mut t, &mut mem, &[128]);
        Rig {
            t,
            mem,
            q: qs.remove(0),
            errors: Vec::new(),
        }
    }

    /// QueueNotify, then what the hypervisor does after it: run the
    /// requests the device took against its disk and complete them.
    fn notify(&mut self) -> Notify {
        let generation = self.t.generation();
        let n = self.q.notify(&mut self.t, &mut self.mem);
        n.merge(self.serve(generation))
    }

    /// Runs the waiting requests, in order, and completes them on queue 0
    /// for the device as it was at `generation`.
    fn serve(&mut self, generation: u32) -> Notify {
        let requests = self.t.device_mut().take_requests();
        let mut bounce = vec![0u8; RIG_BOUNCE];
        let disk = self.t.device_mut().backend_mut();
        let done: Vec<Completion> = requests
            .iter()
            .map(|r| r.run(disk, &mut self.mem, &mut bounce))
            .collect();
        self.errors.extend(done.iter().filter_map(|c| c.error));
        let used = done.iter().map(|c| c.used.map(|len| (c.head, len)));
        self.t.complete(0, generation, used, &mut self.mem)
    }

    /// Linux's framing: header, data segments, status, each its own
    /// descriptor. Returns (status byte, used len).
    fn request(&mut self, kind: u32, sector: u64, data: &[(u64, u32)]) -> (u8, u32) {
        let mut hdr = [0u8; 16];
        hdr[..4].copy_from_slice(&kind.to_le_bytes());
        hdr[8..].copy_from_slice(&sector.to_le_bytes());
        self.mem.put(HDR, &hdr);
        self.mem.put(STATUS, &[0xff]);
        let device_writes = kind != request::VIRTIO_BLK_T_OUT;
        let mut bufs = vec![(HDR, 16, false)];
        bufs.extend(data.iter().map(|&(a, l)| (a, l, device_writes)));
        bufs.push((STATUS, 1, true));
        let head = self.q.add(&mut self.mem, &bufs);
        let before = self.q.used_idx(&self.mem);
        let n = self.notify();
        assert!(n.raise_irq);
        assert_eq!(n.fault, None);
        assert_eq!(self.q.used_idx(&self.mem), before.wrapping_add(1));
        let (id, len) = self.q.used_elem(&self.mem, before);
        assert_eq!(id, u32::from(head));
        (self.mem.slice(STATUS, 1)[0], len)
    }

    fn disk(&self) -> &MemDisk {
        self.t.device().backend()
    }
}

#[test]
fn offers_flush_blk_size_seg_max_and_version_1() {
    let t = MmioTransport::new(BlockDevice::new(MemDisk::new(), b""));
    let f = t.device_features();
    assert_eq!(f, VIRTIO_F_VERSION_1 | 1 << 9 | 1 << 6 | 1 << 2);
    assert_eq!(f & VIRTIO_BLK_F_RO, 0);
}

#[test]
fn config_space_holds_capacity_seg_max_and_blk_size() {
    let mut t = MmioTransport::new(BlockDevice::new(MemDisk::new(), b""));
    assert_eq!(rd(&mut t, regs::DEVICE_ID), 2);
    // virtio_cread64 on MMIO: two 32-bit reads, low word first.
    assert_eq!(t.read(0x100, 4), Ok(SECTORS as u32));
    assert_eq!(t.read(0x104, 4), Ok(0));
    assert_eq!(t.read(0x100 + SEG_MAX_OFFSET as u64, 4), Ok(127));
    assert_eq!(t.read(0x100 + BLK_SIZE_OFFSET as u64, 4), Ok(512));
}

#[test]
fn write_then_read_round_trip() {
    let mut r = Rig::new();
    let pattern: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
    r.mem.put(DATA, &pattern[..512]);
    r.mem.put(DATA + 0x1000, &pattern[512..]);
    let (st, len) = r.request(
        request::VIRTIO_BLK_T_OUT,
        5,
        &[(DATA, 512), (DATA + 0x1000, 512)],
    );
    assert_eq!((st, len), (request::VIRTIO_BLK_S_OK, 1));
    assert_eq!(&r.disk().data[5 * 512..7 * 512], &pattern[..]);

    let (st, len) = r.request(request::VIRTIO_BLK_T_IN, 5, &[(DATA + 0x4000, 1024)]);
    assert_eq!((st, len), (request::VIRTIO_BLK_S_OK, 1025));
    assert_eq!(r.mem.slice(DATA + 0x4000, 1024), &pattern[..]);
    assert_eq!(r.t.interrupt_status(), 1);
}

#[test]
fn large_requests_are_chunked_through_the_bounce_buffer() {
    let mut r = Rig::new();
    let len = 3 * RIG_BOUNCE as u32 / 2;
    let pattern: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    r.mem.put(DATA, &pattern);
    let (st, _) = r.request(request::VIRTIO_BLK_T_OUT, 100, &[(DATA, len)]);
    assert_eq!(st, request::VIRTIO_BLK_S_OK);
    assert_eq!(r.disk().calls, 2);
    r.mem.put(DATA, &vec![0u8; len as usize]);
    let (st, used) = r.request(request::VIRTIO_BLK_T_IN, 100, &[(DATA, len)]);
    assert_eq!((st, used), (request::VIRTIO_BLK_S_OK, len + 1));
    assert_eq!(r.mem.slice(DATA, len as usize), &pattern[..]);
}

#[test]
fn out_of_range_requests_fail_without_touching_the_backend() {
    let mut r = Rig::new();
    // Last sector plus one past the end.
    let (st, _) = r.request(request::VIRTIO_BLK_T_IN, SECTORS - 1, &[(DATA, 1024)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    let (st, len) = r.request(request::VIRTIO_BLK_T_OUT, SECTORS, &[(DATA, 512)]);
    assert_eq!((st, len), (request::VIRTIO_BLK_S_IOERR, 1));
    // A sector number that would wrap when the length is added.
    let (st, _) = r.request(request::VIRTIO_BLK_T_OUT, u64::MAX, &[(DATA, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    assert_eq!(r.disk().calls, 0);
    // The very last sector is fine.
    let (st, _) = r.request(request::VIRTIO_BLK_T_IN, SECTORS - 1, &[(DATA, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_OK);
    assert_eq!(r.disk().calls, 1);
}

#[test]
fn partial_sector_lengths_fail() {
    let mut r = Rig::new();
    let (st, _) = r.request(request::VIRTIO_BLK_T_OUT, 0, &[(DATA, 100)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn flush_reaches_the_backend() {
    let mut r = Rig::new();
    let (st, len) = r.request(request::VIRTIO_BLK_T_FLUSH, 0, &[]);
    assert_eq!((st, len), (request::VIRTIO_BLK_S_OK, 1));
    assert_eq!(r.disk().flushes, 1);
}

#[test]
fn get_id_answers_nul_padded_20_bytes() {
    let mut r = Rig::new();
    r.mem.put(DATA, &[0xaa; 20]);
    let (st, len) = r.request(request::VIRTIO_BLK_T_GET_ID, 0, &[(DATA, 20)]);
    assert_eq!((st, len), (request::VIRTIO_BLK_S_OK, 21));
    assert_eq!(r.mem.slice(DATA, 20), b"aerie-vm0-disk\0\0\0\0\0\0");
}

#[test]
fn unknown_request_types_are_unsupported() {
    let mut r = Rig::new();
    // VIRTIO_BLK_T_DISCARD: feature not offered.
    let (st, _) = r.request(11, 0, &[(DATA, 16)]);
    assert_eq!(st, request::VIRTIO_BLK_S_UNSUPP);
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn backend_failure_is_ioerr_and_reported() {
    let mut r = Rig::new();
    r.t.device_mut().backend_mut().fail = true;
    let (st, _) = r.request(request::VIRTIO_BLK_T_IN, 0, &[(DATA, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    assert_eq!(
        r.errors,
        [IoError {
            sector: 0,
            reason: "media error"
        }]
    );
}

#[test]
fn data_buffer_outside_guest_ram_is_ioerr_and_device_keeps_working() {
    let mut r = Rig::new();
    let (st, _) = r.request(request::VIRTIO_BLK_T_IN, 0, &[(0x1000, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    let (st, _) = r.request(request::VIRTIO_BLK_T_OUT, 0, &[(0x1000, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_IOERR);
    assert_eq!(r.t.status() & DEVICE_NEEDS_RESET, 0);
    let (st, _) = r.request(request::VIRTIO_BLK_T_IN, 0, &[(DATA, 512)]);
    assert_eq!(st, request::VIRTIO_BLK_S_OK);
}

#[test]
fn data_and_status_may_share_a_descriptor() {
    let mut r = Rig::new();
    r.t.device_mut().backend_mut().data[512..1024].fill(0x5a);
    let mut hdr = [0u8; 16];
    hdr[8..].copy_from_slice(&1u64.to_le_bytes());
    r.mem.put(HDR, &hdr);
    r.q.add(&mut r.mem, &[(HDR, 16, false), (DATA, 513, true)]);
    let _ = r.notify();
    assert_eq!(r.q.used_elem(&r.mem, 0).1, 513);
    assert_eq!(r.mem.slice(DATA, 512), &[0x5a; 512][..]);
    assert_eq!(r.mem.slice(DATA + 512, 1)[0], request::VIRTIO_BLK_S_OK);
}

#[test]
fn short_header_is_ioerr() {
    let mut r = Rig::new();
    r.mem.put(STATUS, &[0xff]);
    r.q.add(&mut r.mem, &[(HDR, 8, false), (STATUS, 1, true)]);
    let _ = r.notify();
    assert_eq!(r.mem.slice(STATUS, 1)[0], request::VIRTIO_BLK_S_IOERR);
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn missing_status_byte_needs_reset() {
    let mut r = Rig::new();
    r.q.add(&mut r.mem, &[(HDR, 16, false), (DATA, 512, false)]);
    let n = r.notify();
    assert_eq!(
        n.fault.map(|f| f.error),
        Some(QueueError::NoStatusByte { head: 0 })
    );
    assert!(n.raise_irq);
    assert_ne!(r.t.status() & DEVICE_NEEDS_RESET, 0);
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn status_byte_outside_guest_ram_needs_reset() {
    let mut r = Rig::new();
    r.mem.put(HDR, &[0u8; 16]);
    r.q.add(
        &mut r.mem,
        &[(HDR, 16, false), (DATA, 512, true), (0x10, 1, true)],
    );
    let n = r.notify();
    assert!(matches!(
        n.fault.map(|f| f.error),
        Some(QueueError::Memory(_))
    ));
    assert_ne!(r.t.status() & DEVICE_NEEDS_RESET, 0);
}

#[test]
fn descriptor_table_outside_guest_ram_needs_reset() {
    let mut t = MmioTransport::new(BlockDevice::new(MemDisk::new(), b""));
    let mut mem = FakeMemory::new();
    negotiate(&mut t, &mut mem, |o| o);
    let q = DriverQueue::new(0, 8);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_NUM, 8);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0x1000);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DRIVER_LOW, q.avail as u32);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DEVICE_LOW, q.used as u32);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_READY, 1);
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0xf);
    let mut q = q;
    q.publish(&mut mem, 0);
    let n = q.notify(&mut t, &mut mem);
    assert!(matches!(
        n.fault.map(|f| f.error),
        Some(QueueError::Memory(_))
    ));
    assert_eq!(t.device().backend().calls, 0);
}

/// Puts a request on the ring without notifying: header, one data buffer,
/// status byte. Returns its head.
fn queue_request(r: &mut Rig, kind: u32, sector: u64, hdr_at: u64, data: (u64, u32)) -> u16 {
    let mut hdr = [0u8; 16];
    hdr[..4].copy_from_slice(&kind.to_le_bytes());
    hdr[8..].copy_from_slice(&sector.to_le_bytes());
    r.mem.put(hdr_at, &hdr);
    let device_writes = kind != request::VIRTIO_BLK_T_OUT;
    let mut bufs = vec![(hdr_at, 16, false)];
    if data.1 > 0 {
        bufs.push((data.0, data.1, device_writes));
    }
    bufs.push((hdr_at + 0x100, 1, true));
    r.q.add(&mut r.mem, &bufs)
}

#[test]
fn storage_requests_wait_for_the_hypervisor_and_keep_their_order() {
    let mut r = Rig::new();
    r.mem.put(DATA, &[0x77; 512]);
    queue_request(&mut r, request::VIRTIO_BLK_T_OUT, 9, HDR, (DATA, 512));
    queue_request(&mut r, request::VIRTIO_BLK_T_FLUSH, 0, HDR + 0x200, (0, 0));
    queue_request(
        &mut r,
        request::VIRTIO_BLK_T_IN,
        9,
        HDR + 0x400,
        (DATA + 0x1000, 512),
    );
    // GET_ID needs no storage: answered on the spot, ahead of the others.
    r.mem.put(DATA + 0x2000, &[0xaa; 20]);
    let id = queue_request(
        &mut r,
        request::VIRTIO_BLK_T_GET_ID,
        0,
        HDR + 0x600,
        (DATA + 0x2000, 20),
    );
    let generation = r.t.generation();
    let n = r.q.notify(&mut r.t, &mut r.mem);
    assert!(n.raise_irq);
    assert_eq!(r.q.used_idx(&r.mem), 1);
    assert_eq!(r.q.used_elem(&r.mem, 0), (u32::from(id), 21));
    assert_eq!(
        r.disk().calls + r.disk().flushes,
        0,
        "nothing ran in the notify"
    );
    assert!(r.t.device().has_requests());
    let ops: Vec<Op> = {
        let taken = r.t.device_mut().take_requests();
        let ops = taken.iter().map(Request::op).collect();
        // Put them back the way the hypervisor would run them: in order.
        let mut bounce = vec![0u8; 4096];
        let disk = r.t.device_mut().backend_mut();
        let done: Vec<Completion> = taken
            .iter()
            .map(|q| q.run(disk, &mut r.mem, &mut bounce))
            .collect();
        let n = r.t.complete(
            0,
            generation,
            done.iter().map(|c| c.used.map(|l| (c.head, l))),
            &mut r.mem,
        );
        assert!(n.raise_irq);
        ops
    };
    assert_eq!(
        ops,
        [
            Op::Write {
                sector: 9,
                len: 512
            },
            Op::Flush,
            Op::Read {
                sector: 9,
                len: 512
            }
        ]
    );
    assert!(!r.t.device().has_requests());
    assert_eq!(r.q.used_idx(&r.mem), 4);
    assert_eq!(
        r.mem.slice(DATA + 0x1000, 512),
        &[0x77; 512][..],
        "the read saw the write"
    );
    assert_eq!(r.disk().flushes, 1);
}

#[test]
fn work_taken_before_a_reset_is_not_completed_after_it() {
    let mut r = Rig::new();
    queue_request(&mut r, request::VIRTIO_BLK_T_IN, 0, HDR, (DATA, 512));
    let generation = r.t.generation();
    let _ = r.q.notify(&mut r.t, &mut r.mem);
    let taken = r.t.device_mut().take_requests();
    assert_eq!(taken.len(), 1);
    // The driver resets the device and sets it up again meanwhile.
    let _ = wr(&mut r.t, &mut r.mem, regs::STATUS, 0);
    r.q = bring_up(&mut r.t, &mut r.mem, &[128]).remove(0);
    let mut bounce = vec![0u8; BOUNCE_SIZE];
    let done = taken[0].run(r.t.device_mut().backend_mut(), &mut r.mem, &mut bounce);
    let n = r.t.complete(
        0,
        generation,
        [done.used.map(|l| (done.head, l))],
        &mut r.mem,
    );
    assert_eq!(n, Notify::NONE);
    assert_eq!(r.q.used_idx(&r.mem), 0, "the new ring is untouched");
    assert_eq!(r.t.interrupt_status(), 0);
    // Requests taken off the queue but never handed out go with the reset.
    queue_request(&mut r, request::VIRTIO_BLK_T_IN, 0, HDR, (DATA, 512));
    let _ = r.q.notify(&mut r.t, &mut r.mem);
    let _ = wr(&mut r.t, &mut r.mem, regs::STATUS, 0);
    assert!(!r.t.device().has_requests());
}

#[test]
fn a_bounce_buffer_of_one_sector_still_moves_a_large_request() {
    let mut r = Rig::new();
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
    r.t.device_mut().backend_mut().data[..4096].copy_from_slice(&pattern);
    queue_request(&mut r, request::VIRTIO_BLK_T_IN, 0, HDR, (DATA, 4096));
    let generation = r.t.generation();
    let _ = r.q.notify(&mut r.t, &mut r.mem);
    let taken = r.t.device_mut().take_requests();
    let mut bounce = [0u8; 700];
    let done = taken[0].run(r.t.device_mut().backend_mut(), &mut r.mem, &mut bounce);
    assert_eq!(done.used, Ok(4097));
    assert_eq!(r.disk().calls, 8);
    let _ = r.t.complete(
        0,
        generation,
        [done.used.map(|l| (done.head, l))],
        &mut r.mem,
    );
    assert_eq!(r.mem.slice(DATA, 4096), &pattern[..]);
}

mod later;
mod storm;

#[test]
fn more_answers_than_a_batch_reach_the_used_ring_in_order() {
    // 40 reads completed at once: three batches of used elements.
    let mut r = Rig::new();
    let heads: Vec<u16> = (0..40u64)
        .map(|i| {
            queue_request(
                &mut r,
                request::VIRTIO_BLK_T_IN,
                i,
                HDR + i * 0x200,
                (DATA + i * 0x200, 512),
            )
        })
        .collect();
    let n = r.notify();
    assert!(n.raise_irq);
    assert_eq!(n.fault, None);
    assert_eq!(r.q.used_idx(&r.mem), 40);
    for (i, &head) in heads.iter().enumerate() {
        assert_eq!(
            r.q.used_elem(&r.mem, i as u16),
            (u32::from(head), 513),
            "used element {i}"
        );
    }
}
