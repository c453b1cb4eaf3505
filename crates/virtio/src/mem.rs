//! Guest physical memory as the devices see it. The hypervisor implements
//! [`GuestMemory`] over the VM's RAM; every address a device uses comes from
//! the guest, so the implementer bounds-checks and the devices treat a
//! [`MemError`] as "the driver gave us a bad address".

use core::fmt;

/// A guest physical range that is not (entirely) backed by the VM's RAM.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemError {
    /// First intermediate physical address of the access.
    pub ipa: u64,
    /// Length of the access in bytes.
    pub len: usize,
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guest range {:#x}+{:#x} is not guest RAM",
            self.ipa, self.len
        )
    }
}

/// Byte-granular access to a VM's RAM by intermediate physical address.
///
/// Implementations must reject (not clamp, not wrap) any range that is not
/// wholly inside guest RAM, and must not panic on any input.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes starting at `ipa` into `buf`.
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), MemError>;
    /// Copies `buf` into guest RAM starting at `ipa`.
    fn write(&mut self, ipa: u64, buf: &[u8]) -> Result<(), MemError>;
    /// Where guest RAM `[ipa, ipa + len)` is for a device that moves data
    /// itself (the host disk's DMA), in the address space the hypervisor's
    /// backends use; None when the range is not wholly guest RAM, or where
    /// the hypervisor offers no such access (data then goes through
    /// [`GuestMemory::read`] and [`GuestMemory::write`]).
    fn dma_address(&self, _ipa: u64, _len: usize) -> Option<u64> {
        None
    }
}

/// Little-endian scalar helpers: virtio 1.x structures are little-endian
/// regardless of the guest's endianness (spec 1.4).
pub(crate) fn read_u16(mem: &dyn GuestMemory, ipa: u64) -> Result<u16, MemError> {
    let mut b = [0u8; 2];
    mem.read(ipa, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

pub(crate) fn write_u16(mem: &mut dyn GuestMemory, ipa: u64, v: u16) -> Result<(), MemError> {
    mem.write(ipa, &v.to_le_bytes())
}

pub(crate) fn write_u32(mem: &mut dyn GuestMemory, ipa: u64, v: u32) -> Result<(), MemError> {
    mem.write(ipa, &v.to_le_bytes())
}
