//! The storage behind a block device: for Aerie, the VM's region of the
//! host's disk. Sectors are 512 bytes and numbered from the start of the
//! region. The device checks every request against
//! [`BlockBackend::capacity_sectors`] before calling in, so a backend only
//! ever sees in-range requests.

use core::fmt;

/// Size of a virtio-blk sector (spec 5.2.6: always 512, whatever blk_size).
pub const SECTOR_SIZE: usize = 512;

/// A failed backend transfer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IoError {
    /// First sector of the failed transfer (region-relative).
    pub sector: u64,
    /// What went wrong, for the log.
    pub reason: &'static str,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "I/O error at sector {}: {}", self.sector, self.reason)
    }
}

/// A guest buffer storage moves data to or from directly (a
/// [`super::Transfer`]): its address as [`crate::GuestMemory::dma_address`]
/// gave it, and its length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DmaBuf {
    pub addr: u64,
    pub len: u32,
}

/// Sector storage.
pub trait BlockBackend {
    /// Reads `buf.len() / 512` sectors starting at `sector` (`buf.len()` is
    /// a non-zero multiple of 512).
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Writes `buf.len() / 512` sectors starting at `sector`.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError>;
    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<(), IoError>;
    /// Size of the storage in 512-byte sectors.
    fn capacity_sectors(&self) -> u64;
}
