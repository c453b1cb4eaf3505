//! What every emulated MMIO device shares: the error type for accesses the
//! device refuses, and where character output goes.

use core::fmt;

/// An access the device does not accept. The hypervisor answers it with a
/// synchronous external abort into the guest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MmioError {
    /// Access width the device's bus does not support.
    UnsupportedSize {
        /// Offset within the device.
        offset: u64,
        /// Access size in bytes.
        size: u8,
    },
    /// Offset not aligned to a register boundary.
    Misaligned {
        /// Offset within the device.
        offset: u64,
        /// Access size in bytes.
        size: u8,
    },
    /// Offset beyond the device's register window.
    OutOfRange {
        /// Offset within the device.
        offset: u64,
    },
}

impl fmt::Display for MmioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MmioError::UnsupportedSize { offset, size } => {
                write!(f, "unsupported {size}-byte access at offset {offset:#x}")
            }
            MmioError::Misaligned { offset, size } => {
                write!(f, "misaligned {size}-byte access at offset {offset:#x}")
            }
            MmioError::OutOfRange { offset } => write!(f, "offset {offset:#x} out of range"),
        }
    }
}

/// Where a device's transmitted bytes go (the host console, a log buffer).
pub trait ByteSink {
    /// Accepts one byte. Must not block the trap path for long.
    fn write_byte(&mut self, b: u8);
}
