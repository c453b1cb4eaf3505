//! What Aerie's drivers for the host's virtio devices share: DMA memory for
//! the `virtio-drivers` crate, and finding a device among QEMU's virtio-mmio
//! transports (the disk: `virtio_blk`; the uplink: `virtio_net`).

use crate::mm::frames;
use crate::mm::kernel_map::KernelSpace;
use crate::mm::layout::{phys_to_virt, virt_to_phys};
use aerie_dt::HostVirtio;
use aerie_pagetable::PAGE_SIZE;
use core::ptr::NonNull;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::DeviceType;
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

/// Map the host's virtio-mmio transports (small, 0x200 each, sharing
/// pages: their whole span at once). False if there are none or the span
/// cannot be mapped.
pub fn map(transports: &[HostVirtio], space: &mut KernelSpace) -> bool {
    let Some(start) = transports.iter().map(|t| t.region.base).min() else {
        return false;
    };
    let end = transports
        .iter()
        .map(|t| t.region.base + t.region.size)
        .max()
        .unwrap_or(start);
    match space.map_device(start, end - start) {
        Ok(_) => true,
        Err(e) => {
            log::warn!("cannot map the virtio-mmio transports: {e}");
            false
        }
    }
}

/// The transports (mapped by [`map`]) with a device of type `kind` behind
/// them, in tree order.
///
/// The type is read from the registers first: a `virtio-drivers` transport
/// resets its device when dropped, so one made only to look at another
/// driver's device would reset that device under it.
pub fn find(
    transports: &[HostVirtio],
    kind: DeviceType,
) -> impl Iterator<Item = (MmioTransport<'static>, HostVirtio)> + '_ {
    transports.iter().filter_map(move |t| {
        if device_id(t) != Some(kind as u32) {
            return None;
        }
        let header = NonNull::new(phys_to_virt(t.region.base) as *mut VirtIOHeader)?;
        // SAFETY: `map` mapped this transport's registers as device memory,
        // and each driver takes only the transports of its own device type,
        // so nothing else in Aerie touches them.
        let transport = unsafe { MmioTransport::new(header, t.region.size as usize) }.ok()?;
        Some((transport, *t))
    })
}

/// The DeviceID register of a transport with the virtio magic (0 = no
/// device), or None without the magic.
fn device_id(t: &HostVirtio) -> Option<u32> {
    const MAGIC: u32 = 0x7472_6976; // "virt"
    let base = phys_to_virt(t.region.base) as *const u32;
    // SAFETY: `map` mapped the transport's registers (at least 0x100 bytes)
    // as device memory; MagicValue (0x0) and DeviceID (0x8) are read-only
    // 32-bit registers whose reads have no side effect.
    let (magic, id) = unsafe {
        (
            core::ptr::read_volatile(base),
            core::ptr::read_volatile(base.add(2)),
        )
    };
    (magic == MAGIC).then_some(id)
}
