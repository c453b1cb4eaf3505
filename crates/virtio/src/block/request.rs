//! virtio-blk request format (virtio 1.2 section 5.2.6): a device-readable
//! header `{ type: u32, reserved: u32, sector: u64 }`, then the data (read
//! or written by the device depending on the type), then one device-writable
//! status byte at the very end.

/// Size of `struct virtio_blk_req`'s header.
pub const HEADER_SIZE: u32 = 16;

/// Read sectors into the driver's buffer.
pub const VIRTIO_BLK_T_IN: u32 = 0;
/// Write sectors from the driver's buffer.
pub const VIRTIO_BLK_T_OUT: u32 = 1;
/// Make previous writes durable.
pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// Return the device ID string.
pub const VIRTIO_BLK_T_GET_ID: u32 = 8;

/// Request completed.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// Request failed (I/O error, out of range, malformed).
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// Request type not supported.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;

/// Length of the GET_ID answer: a string NUL-padded to 20 bytes.
pub const VIRTIO_BLK_ID_BYTES: usize = 20;

/// The request header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RequestHeader {
    /// VIRTIO_BLK_T_*.
    pub kind: u32,
    /// First 512-byte sector.
    pub sector: u64,
}

impl RequestHeader {
    /// Decodes the header's little-endian wire format.
    pub fn from_bytes(b: &[u8; HEADER_SIZE as usize]) -> RequestHeader {
        RequestHeader {
            kind: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            sector: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }
}
