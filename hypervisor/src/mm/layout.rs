//! Aerie's EL2 virtual address map (48-bit, TTBR0_EL2 only, E2H = 0).
//!
//! | range                      | what                                   |
//! |----------------------------|----------------------------------------|
//! | `[0, 2^39)`                | user worlds (C6), empty for now        |
//! | `0x8000_0000_0000 + pa`    | direct map: RAM (normal) and devices   |
//! | `0xffff_c000_0000`         | the image at its link address (linker.ld) |
//! | `0xffff_d000_0000`         | RAM a device reads and writes by DMA without snooping the caches: a second mapping, as Device memory (`KernelSpace::map_uncached`) |
//! | `0xffff_e000_0000`         | the boot device tree, read-only        |
//!
//! Everything Aerie maps lies above 2^39, out of reach of the 39-bit EL1&0
//! regime that user worlds will run in.

/// Base of the direct map of physical memory.
pub const DIRECT_MAP_VA: u64 = 0x8000_0000_0000;
/// The window for uncached mappings of RAM, and how big it is.
pub const UNCACHED_WINDOW_VA: u64 = 0xffff_d000_0000;
pub const UNCACHED_WINDOW_SIZE: u64 = 256 << 20;
/// Where the boot device tree is mapped, and how big it may be.
pub const DTB_WINDOW_VA: u64 = 0xffff_e000_0000;
pub const DTB_WINDOW_SIZE: u64 = 2 << 20;

/// The direct-map address of physical address `pa`.
#[inline(always)]
pub const fn phys_to_virt(pa: u64) -> u64 {
    DIRECT_MAP_VA + pa
}

use core::sync::atomic::{AtomicU64, Ordering};

/// `link_va - load_pa` of the image, set once at boot.
static IMAGE_DELTA: AtomicU64 = AtomicU64::new(0);

/// Record where the image was loaded (for [`virt_to_phys`]).
pub fn set_image_delta(delta: u64) {
    IMAGE_DELTA.store(delta, Ordering::Relaxed);
}

/// The physical address behind a kernel virtual address: the direct map,
/// or the image (its statics, the heap's seed).
pub fn virt_to_phys(va: u64) -> u64 {
    if (DIRECT_MAP_VA..DTB_WINDOW_VA).contains(&va) && va < 0xffff_0000_0000 {
        va - DIRECT_MAP_VA
    } else {
        va.wrapping_sub(IMAGE_DELTA.load(Ordering::Relaxed))
    }
}
