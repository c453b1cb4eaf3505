//! The Aerie boot module and the Linux arm64 `Image` header.
//!
//! The boot module is the one blob that carries every VM's configuration and guest
//! images to the hypervisor. QEMU loads it with `-initrd FILE`; Aerie finds it
//! through `/chosen/linux,initrd-start` and `linux,initrd-end` in the host device
//! tree. See [`format`] for the byte layout.
//!
//! The parser ([`BootModule`]) borrows the module's bytes and never allocates, so
//! the EL2 kernel can use it before it has a heap. The writer ([`write`]) needs
//! `std` and is enabled by the `std` feature (xtask uses it).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod arm64_image;
mod error;
pub mod format;
mod parse;
#[cfg(any(test, feature = "std"))]
mod write;

pub use error::{BootModuleError, VmField, VmFieldError};
pub use parse::BootModule;
#[cfg(any(test, feature = "std"))]
pub use write::write;

/// One VM as the boot module describes it; every slice borrows the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmImage<'a> {
    /// 1..=31 bytes of UTF-8.
    pub name: &'a str,
    /// Number of virtual CPUs, at least 1.
    pub vcpus: u32,
    /// Guest RAM size in bytes.
    pub memory: u64,
    /// The guest kernel (an arm64 `Image` or any flat binary loaded like one).
    pub kernel: &'a [u8],
    /// Optional initial RAM disk.
    pub initrd: Option<&'a [u8]>,
    /// Kernel command line (may be empty).
    pub cmdline: &'a str,
    /// This VM's region of the host disk, if it has a disk (format version 2).
    pub disk: Option<DiskRegion>,
}

/// A VM's share of the host disk: bytes `[offset, offset + size)`. Both are
/// multiples of [`format::DISK_SECTOR`] and `size > 0`; the VM sees the region as
/// a whole disk starting at its sector 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskRegion {
    /// First byte of the region on the host disk.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl DiskRegion {
    /// One past the last byte (the parser guarantees this does not overflow).
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// Whether two regions share at least one byte.
    pub fn overlaps(&self, other: &DiskRegion) -> bool {
        self.offset < other.end() && other.offset < self.end()
    }
}

#[cfg(test)]
mod tests;
