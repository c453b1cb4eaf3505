//! The host's virtio block device (QEMU `-device virtio-blk-device`),
//! polled. Each VM with a disk gets a region of it (see `vm::block`).
//!
//! `virtio-drivers` provides the transport and the split queue; the block
//! requests are Aerie's own (header, data buffers, status byte), because a
//! VM's request goes to the device with its data buffers as they are in
//! guest RAM ([`transfer_direct`]): as many buffers as the
//! guest's chain has, one request, no copy. (The crate's block driver takes
//! one buffer a request, so a VM's data had to be copied through one.)
//! Requests go one at a time, so a request's chain has the whole ring: up
//! to 254 buffers with the header and the status byte.
//!
//! Reads and writes wait for the device in a loop of Aerie's own
//! ([`wait_used`]), which tells the watchdog the pCPU is not stuck: a VM's
//! request runs without the machine lock, so a slow host disk holds up that
//! VM's vCPU and other disk requests, not Aerie.

use alloc::vec::Vec;

use super::virtio_mmio::{self, HostHal};
use crate::mm::layout::phys_to_virt;
use aerie_dt::HostVirtio;
use aerie_virtio::DmaBuf;
use spin::Mutex;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::{DeviceType, Transport};

/// Sector size of every virtio block device.
const SECTOR_SIZE: u64 = 512;
/// Descriptors: one request at a time, so this bounds a request's buffers
/// (header and status included). QEMU's virtio-blk offers 256, a guest's
/// request has at most 127 (`aerie_virtio::block::SEG_MAX`).
const QUEUE_SIZE: usize = 256;

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
}

static DISK: Mutex<Option<HostBlk>> = Mutex::new(None);
static CAPACITY: Mutex<Option<u64>> = Mutex::new(None);

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
        })
    }

    /// One request: header (`kind`, `sector`), then `data` (device-readable
    /// for a write, device-writable otherwise), then the status byte; sent,
    /// waited for, and taken back.
    ///
    /// # Safety
    /// The data must stay valid and untouched by Aerie until this returns
    /// (the device reads or writes it meanwhile); guest buffers as
    /// [`guest_slice`] requires.
    unsafe fn request(&mut self, kind: u32, sector: u64, data: Data) -> Result<(), &'static str> {
        let mut header = [0u8; 16];
        header[..4].copy_from_slice(&kind.to_le_bytes());
        header[8..].copy_from_slice(&sector.to_le_bytes());
        let mut status = [0xffu8];
        let write = kind == T_OUT;
        {
            let n = data.len();
            let mut inputs: Vec<&[u8]> = Vec::with_capacity(if write { 1 + n } else { 1 });
            let mut outputs: Vec<&mut [u8]> = Vec::with_capacity(if write { 1 } else { 1 + n });
            inputs.push(&header[..]);
            match data {
                Data::None => {}
                Data::In(buf) => outputs.push(buf),
                Data::Out(buf) => inputs.push(buf),
                Data::Guest(bufs) => {
                    for b in bufs {
                        // SAFETY: guest buffers, as the caller promises.
                        let buf = unsafe { guest_slice(b) };
                        if write {
                            inputs.push(buf);
                        } else {
                            outputs.push(buf);
                        }
                    }
                }
            }
            outputs.push(&mut status[..]);
            // SAFETY: the header, the status byte and (by the caller's
            // promise) the data stay put and untouched until `pop_used`
            // below, which runs only after the device returned the request.
            unsafe {
                let token = self
                    .queue
                    .add(&inputs, &mut outputs)
                    .map_err(|_| "cannot queue the request")?;
                if self.queue.should_notify() {
                    self.transport.notify(0);
                }
                wait_used(&self.queue, token);
                self.queue
                    .pop_used(token, &inputs, &mut outputs)
                    .map_err(|_| "the device returned another request")?;
            }
        }
        match status[0] {
            S_OK => Ok(()),
            _ => Err("the host disk failed the request"),
        }
    }
}

/// A request's data.
enum Data<'a> {
    None,
    /// Aerie's own buffer, for the device to fill (a read).
    In(&'a mut [u8]),
    /// Aerie's own buffer, for the device to take (a write).
    Out(&'a [u8]),
    /// A guest's buffers (host physical addresses), in the request's
    /// direction.
    Guest(&'a [DmaBuf]),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::None => 0,
            Data::In(_) | Data::Out(_) => 1,
            Data::Guest(bufs) => bufs.len(),
        }
    }
}

/// Polls until the request `token` is back from the device, reporting
/// progress to the watchdog meanwhile: waiting for the host disk is this
/// pCPU's work, not a lock-up.
fn wait_used(queue: &VirtQueue<HostHal, QUEUE_SIZE>, token: u16) {
    let me = crate::sched::this_cpu();
    while queue.peek_used() != Some(token) {
        crate::irq::watchdog::progress(me);
        core::hint::spin_loop();
    }
}

/// `kind` at `sector` with `data`, on the host disk.
///
/// # Safety
/// As for [`HostBlk::request`].
unsafe fn transfer(kind: u32, sector: u64, data: Data) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    // SAFETY: passed on from the caller.
    unsafe { blk.request(kind, sector, data) }
}

/// Read whole sectors starting at `sector` of the host disk.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    // SAFETY: `buf` is borrowed for the whole call.
    unsafe { transfer(T_IN, sector, Data::In(buf)) }
}

/// Write whole sectors starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    // SAFETY: `buf` is borrowed for the whole call.
    unsafe { transfer(T_OUT, sector, Data::Out(buf)) }
}

/// Guest buffer `b` (a host physical address, from `VmRam::dma_address`)
/// as a slice of the direct map.
///
/// # Safety
/// The buffer must be guest RAM, mapped in the direct map, that stays
/// allocated while the slice is used. The guest may access the memory
/// meanwhile: the slice is only handed to the device, never read or
/// written by Aerie, and what the guest does only affects the data.
unsafe fn guest_slice(b: &DmaBuf) -> &'static mut [u8] {
    // SAFETY: as the caller promises.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(b.addr) as *mut u8, b.len as usize) }
}

/// Write (`write`) sectors at `sector` from the guest buffers `bufs`, or
/// read them into the buffers, with no copy; None when the buffers are
/// more than a request holds (the caller copies).
///
/// # Safety
/// As for [`guest_slice`]: `bufs` are guest RAM that stays allocated until
/// this returns (`vm::block` serves only while a vCPU of the VM is on a
/// pCPU, so its memory stays).
pub unsafe fn transfer_direct(
    write: bool,
    sector: u64,
    bufs: &[DmaBuf],
) -> Option<Result<(), &'static str>> {
    if bufs.len() + 2 > QUEUE_SIZE {
        return None;
    }
    let kind = if write { T_OUT } else { T_IN };
    // SAFETY: passed on from the caller.
    Some(unsafe { transfer(kind, sector, Data::Guest(bufs)) })
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
    unsafe { blk.request(T_FLUSH, 0, Data::None) }
}
