//! One split-virtqueue descriptor, `struct virtq_desc` (virtio 1.2 section
//! 2.7.5): 16 little-endian bytes in the descriptor table.

/// Size of one descriptor table entry in bytes.
pub const DESC_SIZE: u64 = 16;

/// `flags`: the buffer continues in the descriptor named by `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// `flags`: the buffer is device write-only (otherwise device read-only).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// `flags`: the buffer holds a table of indirect descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;

/// A decoded descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Descriptor {
    /// Guest physical address of the buffer.
    pub addr: u64,
    /// Buffer length in bytes.
    pub len: u32,
    /// VIRTQ_DESC_F_* bits.
    pub flags: u16,
    /// Next descriptor index when `flags` has NEXT.
    pub next: u16,
}

impl Descriptor {
    /// Decodes the table's wire format.
    pub fn from_bytes(b: &[u8; DESC_SIZE as usize]) -> Descriptor {
        Descriptor {
            addr: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            flags: u16::from_le_bytes([b[12], b[13]]),
            next: u16::from_le_bytes([b[14], b[15]]),
        }
    }

    /// Whether the chain continues.
    pub fn has_next(&self) -> bool {
        self.flags & VIRTQ_DESC_F_NEXT != 0
    }

    /// Whether the device may write (and must not read) this buffer.
    pub fn is_write_only(&self) -> bool {
        self.flags & VIRTQ_DESC_F_WRITE != 0
    }

    /// Whether this descriptor points at an indirect table.
    pub fn is_indirect(&self) -> bool {
        self.flags & VIRTQ_DESC_F_INDIRECT != 0
    }
}
