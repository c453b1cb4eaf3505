//! The host's virtio block device (QEMU `-device virtio-blk-device`), driven
//! with the `virtio-drivers` crate, polled. Each VM with a disk gets a
//! region of it (see `vm::block`). Reads and writes wait for the device in
//! a loop of Aerie's own ([`wait_used`]), which tells the watchdog the pCPU
//! is not stuck: a VM's request runs without the machine lock, so a slow
//! host disk holds up that VM's vCPU and other disk requests, not Aerie.

use super::virtio_mmio::{self, HostHal};
use aerie_dt::HostVirtio;
use spin::Mutex;
use virtio_drivers::device::blk::{BlkReq, BlkResp, VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::DeviceType;

type Blk = VirtIOBlk<HostHal, MmioTransport<'static>>;

static DISK: Mutex<Option<Blk>> = Mutex::new(None);
static CAPACITY: Mutex<Option<u64>> = Mutex::new(None);

/// Size of the host disk in bytes, if there is one.
pub fn capacity() -> Option<u64> {
    *CAPACITY.lock()
}

/// Take the first block device among the host's virtio-mmio transports
/// (mapped by [`virtio_mmio::map`]). Returns its size in bytes.
pub fn probe(transports: &[HostVirtio]) -> Option<u64> {
    for (transport, t) in virtio_mmio::find(transports, DeviceType::Block) {
        match Blk::new(transport) {
            Ok(blk) => {
                let bytes = blk.capacity() * SECTOR_SIZE as u64;
                log::info!(
                    "host disk: virtio-blk at {:#x}, {} MiB",
                    t.region.base,
                    bytes >> 20
                );
                *DISK.lock() = Some(blk);
                *CAPACITY.lock() = Some(bytes);
                return Some(bytes);
            }
            Err(e) => log::warn!("host disk at {:#x}: {e:?}", t.region.base),
        }
    }
    None
}

/// Read whole sectors starting at `sector` of the host disk.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    let mut req = BlkReq::default();
    let mut resp = zeroed_response();
    // SAFETY: `req`, `buf` and `resp` stay borrowed, untouched, from the
    // request's start until `complete_read_blocks` takes it off the queue,
    // which waits for the device's answer first (`wait_used`).
    unsafe {
        let token = blk
            .read_blocks_nb(sector as usize, &mut req, buf, &mut resp)
            .map_err(|_| "host disk read failed")?;
        wait_used(blk, token);
        blk.complete_read_blocks(token, &req, buf, &mut resp)
    }
    .map_err(|_| "host disk read failed")
}

/// Write whole sectors starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    let mut req = BlkReq::default();
    let mut resp = zeroed_response();
    // SAFETY: as for `read`.
    unsafe {
        let token = blk
            .write_blocks_nb(sector as usize, &mut req, buf, &mut resp)
            .map_err(|_| "host disk write failed")?;
        wait_used(blk, token);
        blk.complete_write_blocks(token, &req, buf, &mut resp)
    }
    .map_err(|_| "host disk write failed")
}

/// A response for the device to fill in.
fn zeroed_response() -> BlkResp {
    // SAFETY: `BlkResp` is a `repr(C)` struct of one status byte, valid for
    // any bits (the crate derives `FromBytes` for it) and so for zeros.
    unsafe { core::mem::zeroed() }
}

/// Polls until the request `token` is back from the device, reporting
/// progress to the watchdog meanwhile: waiting for the host disk is this
/// pCPU's work, not a lock-up.
fn wait_used(blk: &mut Blk, token: u16) {
    let me = crate::sched::this_cpu();
    while blk.peek_used() != Some(token) {
        crate::irq::watchdog::progress(me);
        core::hint::spin_loop();
    }
}

/// Make written data durable on the host disk.
pub fn flush() -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    blk.flush().map_err(|_| "host disk flush failed")
}
