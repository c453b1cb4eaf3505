//! Test doubles: guest RAM as a Vec at a base IPA, and a driver that walks
//! the transport through the same steps as Linux's virtio_mmio.c and
//! virtio_ring.c (split ring).
extern crate std;

use crate::device::VirtioDevice;
use crate::features::VIRTIO_F_VERSION_1;
use crate::mem::{GuestMemory, MemError};
use crate::mmio::regs::*;
use crate::mmio::{MmioTransport, Notify};
use crate::queue::descriptor::{VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use crate::status::*;
use std::vec;
use std::vec::Vec;

/// Guest RAM base, as on QEMU `virt`.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Test RAM size.
pub const RAM_SIZE: usize = 1 << 20;
/// Where test data buffers live.
pub const DATA: u64 = RAM_BASE + 0x8_0000;

pub struct FakeMemory {
    pub bytes: Vec<u8>,
    /// Writes through [`GuestMemory`].
    pub accesses: usize,
    /// Reads through [`GuestMemory`].
    pub reads: core::cell::Cell<usize>,
    /// Where RAM is for a device's DMA ([`GuestMemory::dma_address`]:
    /// RAM_BASE maps here), if the memory offers it.
    pub dma_base: Option<u64>,
}

impl FakeMemory {
    pub fn new() -> FakeMemory {
        FakeMemory {
            bytes: vec![0; RAM_SIZE],
            accesses: 0,
            reads: core::cell::Cell::new(0),
            dma_base: None,
        }
    }

    fn range(&self, ipa: u64, len: usize) -> Result<core::ops::Range<usize>, MemError> {
        let err = MemError { ipa, len };
        let start = ipa.checked_sub(RAM_BASE).ok_or(err)?;
        let end = start.checked_add(len as u64).ok_or(err)?;
        if end > self.bytes.len() as u64 {
            return Err(err);
        }
        Ok(start as usize..end as usize)
    }

    pub fn slice(&self, ipa: u64, len: usize) -> &[u8] {
        let r = self.range(ipa, len).unwrap();
        &self.bytes[r]
    }

    pub fn put(&mut self, ipa: u64, data: &[u8]) {
        let r = self.range(ipa, data.len()).unwrap();
        self.bytes[r].copy_from_slice(data);
    }

    pub fn u16_at(&self, ipa: u64) -> u16 {
        let s = self.slice(ipa, 2);
        u16::from_le_bytes([s[0], s[1]])
    }

    pub fn u32_at(&self, ipa: u64) -> u32 {
        let s = self.slice(ipa, 4);
        u32::from_le_bytes([s[0], s[1], s[2], s[3]])
    }
}

impl GuestMemory for FakeMemory {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let r = self.range(ipa, buf.len())?;
        self.reads.set(self.reads.get() + 1);
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, ipa: u64, buf: &[u8]) -> Result<(), MemError> {
        let r = self.range(ipa, buf.len())?;
        self.accesses += 1;
        self.bytes[r].copy_from_slice(buf);
        Ok(())
    }

    fn dma_address(&self, ipa: u64, len: usize) -> Option<u64> {
        let r = self.range(ipa, len).ok()?;
        Some(self.dma_base? + r.start as u64)
    }
}

pub fn rd<D: VirtioDevice>(t: &mut MmioTransport<D>, off: u64) -> u32 {
    t.read(off, 4).unwrap()
}

pub fn wr<D: VirtioDevice>(
    t: &mut MmioTransport<D>,
    mem: &mut FakeMemory,
    off: u64,
    v: u32,
) -> Notify {
    t.write(off, 4, v, mem).unwrap()
}

/// Linux's probe up to and including FEATURES_OK: returns the status read
/// back after setting FEATURES_OK (Linux fails the probe if the bit did not
/// stick).
pub fn negotiate<D: VirtioDevice>(
    t: &mut MmioTransport<D>,
    mem: &mut FakeMemory,
    accept: impl Fn(u64) -> u64,
) -> u32 {
    assert_eq!(rd(t, MAGIC_VALUE), 0x7472_6976);
    assert_eq!(rd(t, VERSION), 2);
    let _ = wr(t, mem, STATUS, 0);
    assert_eq!(rd(t, STATUS), 0);
    let _ = wr(t, mem, STATUS, ACKNOWLEDGE);
    let _ = wr(t, mem, STATUS, ACKNOWLEDGE | DRIVER);
    let _ = wr(t, mem, DEVICE_FEATURES_SEL, 1);
    let mut offered = u64::from(rd(t, DEVICE_FEATURES)) << 32;
    let _ = wr(t, mem, DEVICE_FEATURES_SEL, 0);
    offered |= u64::from(rd(t, DEVICE_FEATURES));
    let accepted = accept(offered);
    let _ = wr(t, mem, DRIVER_FEATURES_SEL, 1);
    let _ = wr(t, mem, DRIVER_FEATURES, (accepted >> 32) as u32);
    let _ = wr(t, mem, DRIVER_FEATURES_SEL, 0);
    let _ = wr(t, mem, DRIVER_FEATURES, accepted as u32);
    let _ = wr(t, mem, STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    rd(t, STATUS)
}

/// A driver-side split ring in FakeMemory.
pub struct DriverQueue {
    pub index: u32,
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    next_desc: u16,
    avail_idx: u16,
}

impl DriverQueue {
    pub fn new(index: u32, size: u16) -> DriverQueue {
        let area = RAM_BASE + 0x1_0000 * u64::from(index + 1);
        DriverQueue {
            index,
            size,
            desc: area,
            avail: area + 0x4000,
            used: area + 0x8000,
            next_desc: 0,
            avail_idx: 0,
        }
    }

    /// vm_setup_vq: select, check not ready, read max, program, enable.
    pub fn setup<D: VirtioDevice>(&self, t: &mut MmioTransport<D>, mem: &mut FakeMemory) {
        let _ = wr(t, mem, QUEUE_SEL, self.index);
        assert_eq!(rd(t, QUEUE_READY), 0);
        assert!(rd(t, QUEUE_NUM_MAX) >= u32::from(self.size));
        let _ = wr(t, mem, QUEUE_NUM, u32::from(self.size));
        let _ = wr(t, mem, QUEUE_DESC_LOW, self.desc as u32);
        let _ = wr(t, mem, QUEUE_DESC_HIGH, (self.desc >> 32) as u32);
        let _ = wr(t, mem, QUEUE_DRIVER_LOW, self.avail as u32);
        let _ = wr(t, mem, QUEUE_DRIVER_HIGH, (self.avail >> 32) as u32);
        let _ = wr(t, mem, QUEUE_DEVICE_LOW, self.used as u32);
        let _ = wr(t, mem, QUEUE_DEVICE_HIGH, (self.used >> 32) as u32);
        let _ = wr(t, mem, QUEUE_READY, 1);
        assert_eq!(rd(t, QUEUE_READY), 1);
    }

    /// Writes a raw descriptor.
    pub fn set_desc(
        &self,
        mem: &mut FakeMemory,
        i: u16,
        addr: u64,
        len: u32,
        flags: u16,
        next: u16,
    ) {
        let at = self.desc + 16 * u64::from(i);
        mem.put(at, &addr.to_le_bytes());
        mem.put(at + 8, &len.to_le_bytes());
        mem.put(at + 12, &flags.to_le_bytes());
        mem.put(at + 14, &next.to_le_bytes());
    }

    /// Makes head `head` available (ring entry, then idx).
    pub fn publish(&mut self, mem: &mut FakeMemory, head: u16) {
        let slot = u64::from(self.avail_idx % self.size);
        mem.put(self.avail + 4 + 2 * slot, &head.to_le_bytes());
        self.avail_idx = self.avail_idx.wrapping_add(1);
        mem.put(self.avail + 2, &self.avail_idx.to_le_bytes());
    }

    /// Builds a chain from `(addr, len, writable)` buffers and publishes it.
    pub fn add(&mut self, mem: &mut FakeMemory, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.next_desc;
        for (k, &(addr, len, writable)) in bufs.iter().enumerate() {
            let i = (self.next_desc + k as u16) % self.size;
            let last = k + 1 == bufs.len();
            let mut flags = if writable { VIRTQ_DESC_F_WRITE } else { 0 };
            if !last {
                flags |= VIRTQ_DESC_F_NEXT;
            }
            self.set_desc(mem, i, addr, len, flags, (i + 1) % self.size);
        }
        self.next_desc = (self.next_desc + bufs.len() as u16) % self.size;
        self.publish(mem, head);
        head
    }

    pub fn used_idx(&self, mem: &FakeMemory) -> u16 {
        mem.u16_at(self.used + 2)
    }

    /// Used element `n`: (id, len).
    pub fn used_elem(&self, mem: &FakeMemory, n: u16) -> (u32, u32) {
        let at = self.used + 4 + 8 * u64::from(n % self.size);
        (mem.u32_at(at), mem.u32_at(at + 4))
    }

    pub fn notify<D: VirtioDevice>(
        &self,
        t: &mut MmioTransport<D>,
        mem: &mut FakeMemory,
    ) -> Notify {
        wr(t, mem, QUEUE_NOTIFY, self.index)
    }
}

/// Full Linux-style bring-up accepting everything offered; returns the
/// queues, set up.
pub fn bring_up<D: VirtioDevice>(
    t: &mut MmioTransport<D>,
    mem: &mut FakeMemory,
    sizes: &[u16],
) -> Vec<DriverQueue> {
    bring_up_accepting(t, mem, sizes, |offered| offered)
}

/// [`bring_up`] by a driver that accepts `accept(offered)`.
pub fn bring_up_accepting<D: VirtioDevice>(
    t: &mut MmioTransport<D>,
    mem: &mut FakeMemory,
    sizes: &[u16],
    accept: impl Fn(u64) -> u64,
) -> Vec<DriverQueue> {
    let st = negotiate(t, mem, accept);
    assert_ne!(st & FEATURES_OK, 0);
    assert_ne!(t.driver_features() & VIRTIO_F_VERSION_1, 0);
    let queues: Vec<DriverQueue> = sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| DriverQueue::new(i as u32, s))
        .collect();
    for q in &queues {
        q.setup(t, mem);
    }
    let _ = wr(
        t,
        mem,
        STATUS,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    );
    queues
}

/// What the devices' storm tests share: how a broken driver scribbles.
pub mod storm {
    use super::{DriverQueue, FakeMemory, DATA, RAM_BASE, RAM_SIZE};
    use crate::queue::descriptor::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
    use aerie_testrng::Rng;

    /// A guest physical address: in RAM, straddling its end, or anywhere.
    pub fn address(rng: &mut Rng) -> u64 {
        match rng.below(4) {
            0 | 1 => DATA + rng.below(0x4_0000),
            2 => RAM_BASE + RAM_SIZE as u64 - rng.below(64),
            _ => rng.next_u64(),
        }
    }

    /// Overwrites up to 5 descriptors of `q` with random addresses, flags,
    /// next links and lengths drawn by `length`.
    pub fn scribble_descriptors(
        rng: &mut Rng,
        q: &mut DriverQueue,
        mem: &mut FakeMemory,
        length: fn(&mut Rng) -> u32,
    ) {
        let size = u64::from(q.size);
        for _ in 0..rng.below(6) {
            let i = rng.below(size) as u16;
            let flags = match rng.below(4) {
                0 => VIRTQ_DESC_F_NEXT,
                1 => VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
                2 => VIRTQ_DESC_F_WRITE,
                _ => rng.next_u64() as u16 | VIRTQ_DESC_F_INDIRECT,
            };
            // Mostly a next index inside the table, sometimes one past it.
            let next = rng.below(size + 4) as u16;
            q.set_desc(mem, i, address(rng), length(rng), flags, next);
        }
    }

    /// Makes random heads available, or sets the avail index anywhere (far
    /// ahead of what was published).
    pub fn scribble_avail(rng: &mut Rng, q: &mut DriverQueue, mem: &mut FakeMemory) {
        if rng.chance(70) {
            q.publish(mem, rng.below(u64::from(q.size) + 2) as u16);
        } else {
            let idx = rng.next_u64() as u16;
            mem.put(q.avail + 2, &idx.to_le_bytes());
        }
    }
}
