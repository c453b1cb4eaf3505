//! The host's virtio block device (QEMU `-device virtio-blk-device`), driven
//! with the `virtio-drivers` crate, polled. Each VM with a disk gets a
//! region of it (see `vm::disk`).

use super::virtio_mmio::{self, HostHal};
use aerie_dt::HostVirtio;
use spin::Mutex;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
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
    blk.read_blocks(sector as usize, buf)
        .map_err(|_| "host disk read failed")
}

/// Write whole sectors starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    blk.write_blocks(sector as usize, buf)
        .map_err(|_| "host disk write failed")
}

/// Make written data durable on the host disk.
pub fn flush() -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    blk.flush().map_err(|_| "host disk flush failed")
}
