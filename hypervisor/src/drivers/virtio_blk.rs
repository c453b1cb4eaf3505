//! The host's virtio block device (QEMU `-device virtio-blk-device`), driven
//! with the `virtio-drivers` crate, polled. Each VM with a disk gets a
//! region of it (see `vm::disk`).

use crate::mm::frames;
use crate::mm::kernel_map::KernelSpace;
use crate::mm::layout::{phys_to_virt, virt_to_phys};
use aerie_pagetable::PAGE_SIZE;
use core::ptr::NonNull;
use spin::Mutex;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// DMA memory and address translation for `virtio-drivers`.
pub struct HostHal;

// SAFETY: dma_alloc hands out fresh, zeroed, page-aligned frames that stay
// mapped (direct map) until dma_dealloc; share translates addresses of
// buffers that are themselves mapped and physically contiguous (the heap
// and the image are both contiguous in physical memory); nothing is copied.
unsafe impl Hal for HostHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let bytes = pages as u64 * PAGE_SIZE;
        match frames::alloc(bytes) {
            Some(pa) => {
                let va = phys_to_virt(pa) as *mut u8;
                // SAFETY: fresh frames of `bytes` bytes, mapped in the direct map.
                unsafe { core::ptr::write_bytes(va, 0, bytes as usize) };
                (pa, NonNull::new(va).expect("direct map is not null"))
            }
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        frames::free(paddr, pages as u64 * PAGE_SIZE);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(phys_to_virt(paddr) as *mut u8).expect("direct map is not null")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        virt_to_phys(buffer.as_ptr() as *mut u8 as u64)
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

type Blk = VirtIOBlk<HostHal, MmioTransport<'static>>;

static DISK: Mutex<Option<Blk>> = Mutex::new(None);
static CAPACITY: Mutex<Option<u64>> = Mutex::new(None);

/// Size of the host disk in bytes, if there is one.
pub fn capacity() -> Option<u64> {
    *CAPACITY.lock()
}

/// Look for a block device among the host's virtio-mmio transports and
/// take the first one found. Returns its size in bytes.
pub fn probe(transports: &[aerie_dt::Region], space: &mut KernelSpace) -> Option<u64> {
    // The transports are small (0x200) and share pages: map their whole
    // span once.
    let start = transports.iter().map(|t| t.base).min()?;
    let end = transports.iter().map(|t| t.base + t.size).max()?;
    if let Err(e) = space.map_device(start, end - start) {
        log::warn!("cannot map the virtio-mmio transports: {e}");
        return None;
    }
    for t in transports {
        let va = phys_to_virt(t.base);
        let header = NonNull::new(va as *mut VirtIOHeader)?;
        // SAFETY: `va` maps this transport's registers (device memory), and
        // nothing else in Aerie touches them.
        let Ok(transport) = (unsafe { MmioTransport::new(header, t.size as usize) }) else {
            continue;
        };
        if transport.device_type() != DeviceType::Block {
            continue;
        }
        match Blk::new(transport) {
            Ok(blk) => {
                let bytes = blk.capacity() * SECTOR_SIZE as u64;
                log::info!(
                    "host disk: virtio-blk at {:#x}, {} MiB",
                    t.base,
                    bytes >> 20
                );
                *DISK.lock() = Some(blk);
                *CAPACITY.lock() = Some(bytes);
                return Some(bytes);
            }
            Err(e) => log::warn!("host disk at {:#x}: {e:?}", t.base),
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
