//! The host's virtio block device (QEMU `-device virtio-blk-device`).
//! Each VM with a disk gets a region of it (see `vm::block`).
//!
//! `virtio-drivers` provides the transport and the split queue; the block
//! requests are Aerie's own (header, data buffers, status byte), because a
//! VM's request goes to the device with its data buffers as they are in
//! guest RAM: as many buffers as the guest's chain has, one request, no
//! copy. (The crate's block driver takes one buffer a request, so a VM's
//! data had to be copied through one.)
//!
//! A VM's requests are answered later ([`submit`], [`take_done`]): queued
//! on the device and notified, then the VM's vCPU goes back to its guest,
//! and the device's interrupt says when requests are back. Several
//! requests, of one VM or of several, are with the device at once, as many
//! as the ring's 256 descriptors hold. Aerie's own requests (the partition
//! table at boot) wait for their answer in a loop ([`read`], [`write`]),
//! which tells the watchdog the pCPU is not stuck.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::virtio_mmio::{self, HostHal};
use crate::mm::layout::phys_to_virt;
use aerie_dt::HostVirtio;
use aerie_virtio::{DmaBuf, Transfer};
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::{DeviceType, Transport};

/// Sector size of every virtio block device.
const SECTOR_SIZE: u64 = 512;
/// Descriptors, shared by the requests with the device: a request takes
/// its buffers' and two more (header, status). QEMU's virtio-blk offers
/// 256, a guest's request has at most 127 buffers
/// (`aerie_virtio::block::SEG_MAX`), so two of the largest fit at once.
const QUEUE_SIZE: usize = 256;
/// The tag of Aerie's own requests, which no VM's can have (see `vm::block`).
const OWN: u64 = u64::MAX;

/// Request types and the OK status (virtio 1.2, 5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const S_OK: u8 = 0;

bitflags::bitflags! {
    /// The feature bits Aerie asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const FLUSH = 1 << 9;
        const VERSION_1 = 1 << 32;
    }
}

struct HostBlk {
    transport: MmioTransport<'static>,
    queue: VirtQueue<HostHal, QUEUE_SIZE>,
    /// Sectors.
    capacity: u64,
    flush: bool,
    /// The requests with the device, by their first descriptor (the
    /// queue's token).
    with_device: Vec<Option<Box<Pending>>>,
    /// Requests the device has returned whose owner has not taken them
    /// yet ([`take_done`]): their tags and outcomes.
    done: Vec<(u64, Result<(), &'static str>)>,
}

/// A request with the device: its header and status byte, which the device
/// reads and writes where they are (hence boxed), its data buffers (direct
/// map addresses and lengths) and whose it is.
struct Pending {
    header: [u8; 16],
    status: [u8; 1],
    data: Vec<(u64, u32)>,
    write: bool,
    tag: u64,
}

impl Pending {
    /// The buffers as the queue took them: device-readable (header, a
    /// write's data), then device-writable (a read's data, status).
    ///
    /// # Safety
    /// The data buffers must be valid for the slices' lifetime and used by
    /// nothing else meanwhile but the device ([`submit`]'s promise).
    unsafe fn buffers(&mut self) -> (Vec<&'static [u8]>, Vec<&'static mut [u8]>) {
        let n = self.data.len();
        let mut inputs: Vec<&[u8]> = Vec::with_capacity(if self.write { 1 + n } else { 1 });
        let mut outputs: Vec<&mut [u8]> = Vec::with_capacity(if self.write { 1 } else { 1 + n });
        // SAFETY: the header and status live in this box, which stays put
        // and alive while the request is with the device (`with_device`);
        // the data as the caller promises.
        unsafe {
            inputs.push(core::slice::from_raw_parts(self.header.as_ptr(), 16));
            for &(va, len) in &self.data {
                let buf = core::slice::from_raw_parts_mut(va as *mut u8, len as usize);
                if self.write {
                    inputs.push(buf);
                } else {
                    outputs.push(buf);
                }
            }
            outputs.push(core::slice::from_raw_parts_mut(self.status.as_mut_ptr(), 1));
        }
        (inputs, outputs)
    }
}

/// Why [`submit`] took no request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The ring has no room for its buffers now: try again once requests
    /// are back.
    Full,
    /// It cannot be sent at all.
    Failed(&'static str),
}

static DISK: Mutex<Option<HostBlk>> = Mutex::new(None);
static CAPACITY: Mutex<Option<u64>> = Mutex::new(None);
static INTID: AtomicU32 = AtomicU32::new(0);

/// Size of the host disk in bytes, if there is one.
pub fn capacity() -> Option<u64> {
    *CAPACITY.lock()
}

/// Take the first block device among the host's virtio-mmio transports
/// (mapped by [`virtio_mmio::map`]). Returns its size in bytes.
pub fn probe(transports: &[HostVirtio]) -> Option<u64> {
    for (transport, t) in virtio_mmio::find(transports, DeviceType::Block) {
        match HostBlk::new(transport) {
            Ok(blk) => {
                let bytes = blk.capacity * SECTOR_SIZE;
                log::info!(
                    "host disk: virtio-blk at {:#x}, {} MiB",
                    t.region.base,
                    bytes >> 20
                );
                *DISK.lock() = Some(blk);
                *CAPACITY.lock() = Some(bytes);
                INTID.store(t.intid.unwrap_or(0), Ordering::Relaxed);
                return Some(bytes);
            }
            Err(e) => log::warn!("host disk at {:#x}: {e}", t.region.base),
        }
    }
    None
}

impl HostBlk {
    fn new(mut transport: MmioTransport<'static>) -> Result<HostBlk, &'static str> {
        // VERSION_1 where the transport is a modern one (QEMU's virtio-mmio
        // is legacy unless told otherwise; the crate drives both).
        let features = transport.begin_init(Features::VERSION_1 | Features::FLUSH);
        if transport.max_queue_size(0) < QUEUE_SIZE as u32 {
            return Err("its queue holds fewer than 256 descriptors");
        }
        // virtio_blk_config: capacity (le64) first.
        let capacity = transport
            .read_consistent(|| {
                let low: u32 = transport.read_config_space(0)?;
                let high: u32 = transport.read_config_space(4)?;
                Ok(u64::from(low) | u64::from(high) << 32)
            })
            .map_err(|_| "cannot read its configuration")?;
        let queue = VirtQueue::new(&mut transport, 0, false, false)
            .map_err(|_| "cannot set up its queue")?;
        transport.finish_init();
        Ok(HostBlk {
            transport,
            queue,
            capacity,
            flush: features.contains(Features::FLUSH),
            with_device: (0..QUEUE_SIZE).map(|_| None).collect(),
            done: Vec::new(),
        })
    }

    /// Queues a request (header `kind`, `sector`; then `data`, device-
    /// readable for a write and device-writable otherwise; then the status
    /// byte) and notifies the device. `tag` names it in [`Self::reap`].
    ///
    /// # Safety
    /// The data buffers must stay valid, and untouched by Aerie, until the
    /// device has returned the request ([`Self::reap`]).
    unsafe fn submit(
        &mut self,
        kind: u32,
        sector: u64,
        data: Vec<(u64, u32)>,
        tag: u64,
    ) -> Result<(), Refused> {
        if data.len() + 2 > QUEUE_SIZE {
            return Err(Refused::Failed(
                "more buffers than the host disk's ring holds",
            ));
        }
        if self.queue.available_desc() < data.len() + 2 {
            return Err(Refused::Full);
        }
        let mut header = [0u8; 16];
        header[..4].copy_from_slice(&kind.to_le_bytes());
        header[8..].copy_from_slice(&sector.to_le_bytes());
        let mut pending = Box::new(Pending {
            header,
            status: [0xff],
            data,
            write: kind == T_OUT,
            tag,
        });
        // SAFETY: the data as the caller promises; the header and status
        // stay in the box, kept in `with_device` until `reap` has the
        // request back from the device.
        let token = unsafe {
            let (inputs, mut outputs) = pending.buffers();
            self.queue.add(&inputs, &mut outputs)
        }
        .map_err(|_| Refused::Failed("the host disk's queue refused the request"))?;
        self.with_device[usize::from(token)] = Some(pending);
        if self.queue.should_notify() {
            self.transport.notify(0);
        }
        Ok(())
    }

    /// Takes back every request the device has returned into `done`.
    fn reap(&mut self) {
        while let Some(token) = self.queue.peek_used() {
            let Some(mut pending) = self
                .with_device
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                // Nothing of Aerie's: the device is broken. Its ring stays
                // as it is (popping needs the request's buffers).
                log::error!("host disk: the device returned unknown request {token}");
                return;
            };
            // SAFETY: the buffers `submit` queued under this token.
            let popped = unsafe {
                let (inputs, mut outputs) = pending.buffers();
                self.queue.pop_used(token, &inputs, &mut outputs)
            };
            let outcome = match (popped, pending.status[0]) {
                (Err(_), _) => Err("the host disk returned the request malformed"),
                (Ok(_), S_OK) => Ok(()),
                (Ok(_), _) => Err("the host disk failed the request"),
            };
            self.done.push((pending.tag, outcome));
        }
    }

    /// Sends Aerie's own request and waits for it (requests of VMs the
    /// device returns meanwhile wait in `done` for their owners).
    ///
    /// # Safety
    /// As for [`Self::submit`], until this returns.
    unsafe fn request(
        &mut self,
        kind: u32,
        sector: u64,
        data: Vec<(u64, u32)>,
    ) -> Result<(), &'static str> {
        let me = crate::sched::this_cpu();
        loop {
            // SAFETY: passed on from the caller.
            match unsafe { self.submit(kind, sector, data.clone(), OWN) } {
                Ok(()) => break,
                Err(Refused::Full) => self.wait(me),
                Err(Refused::Failed(why)) => return Err(why),
            }
        }
        loop {
            if let Some(at) = self.done.iter().position(|&(tag, _)| tag == OWN) {
                return self.done.remove(at).1;
            }
            self.wait(me);
        }
    }

    /// Polls once for returned requests, reporting progress to the
    /// watchdog: waiting for the host disk is this pCPU's work, not a
    /// lock-up.
    fn wait(&mut self, me: usize) {
        crate::irq::watchdog::progress(me);
        core::hint::spin_loop();
        self.reap();
    }
}

/// Aerie's own request `kind` at `sector` with `data`, answered.
///
/// # Safety
/// As for [`HostBlk::submit`], until this returns.
unsafe fn own_request(kind: u32, sector: u64, data: Vec<(u64, u32)>) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    // SAFETY: passed on from the caller.
    unsafe { blk.request(kind, sector, data) }
}

/// Read whole sectors starting at `sector` of the host disk.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    let data = vec_of(buf.as_mut_ptr() as u64, buf.len());
    // SAFETY: `buf` is borrowed, and not used, for the whole call.
    unsafe { own_request(T_IN, sector, data) }
}

/// Write whole sectors starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    let data = vec_of(buf.as_ptr() as u64, buf.len());
    // SAFETY: as for `read`; the device only reads a write's data.
    unsafe { own_request(T_OUT, sector, data) }
}

/// One buffer of Aerie's as a request's data.
fn vec_of(va: u64, len: usize) -> Vec<(u64, u32)> {
    alloc::vec![(va, len as u32)]
}

/// Sends `transfer` (sectors of the host disk) straight between the disk
/// and the guest buffers it names, tagged `tag`; the answer comes later,
/// from [`take_done`], once the device's interrupt says so. A flush the
/// device has no use for (no FLUSH: no write cache) is answered at once:
/// `Ok(Some(outcome))`.
///
/// # Safety
/// The buffers must be guest RAM (`VmRam::dma_address`) that stays
/// allocated, and which Aerie does not touch, until [`take_done`] has
/// returned the request (`vm::block` keeps a VM's memory while it has
/// requests with the host disk).
pub unsafe fn submit(
    transfer: &Transfer,
    tag: u64,
) -> Result<Option<Result<(), &'static str>>, Refused> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or(Refused::Failed("no host disk"))?;
    let guest = |bufs: &[DmaBuf]| -> Vec<(u64, u32)> {
        bufs.iter().map(|b| (phys_to_virt(b.addr), b.len)).collect()
    };
    let (kind, sector, data) = match transfer {
        Transfer::Read { sector, bufs } => (T_IN, *sector, guest(bufs)),
        Transfer::Write { sector, bufs } => (T_OUT, *sector, guest(bufs)),
        Transfer::Flush if !blk.flush => return Ok(Some(Ok(()))),
        Transfer::Flush => (T_FLUSH, 0, Vec::new()),
    };
    // SAFETY: as the caller promises.
    unsafe { blk.submit(kind, sector, data, tag) }.map(|()| None)
}

/// The requests the device has returned, with their tags and outcomes.
pub fn take_done() -> Vec<(u64, Result<(), &'static str>)> {
    let mut disk = DISK.lock();
    let Some(blk) = disk.as_mut() else {
        return Vec::new();
    };
    blk.reap();
    core::mem::take(&mut blk.done)
}

/// The device's interrupt: silenced (its requests are taken by
/// [`take_done`]).
pub fn acknowledge() {
    if let Some(blk) = DISK.lock().as_mut() {
        blk.transport.ack_interrupt();
    }
}

/// The device's INTID, 0 without one.
pub fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

/// Make written data durable on the host disk (nothing to do for a device
/// without a write cache to flush: it offers no FLUSH).
pub fn flush() -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    if !blk.flush {
        return Ok(());
    }
    // SAFETY: no data.
    unsafe { blk.request(T_FLUSH, 0, Vec::new()) }
}
