//! virtio-blk feature bits and configuration space (virtio 1.2 sections
//! 5.2.3 and 5.2.4). `struct virtio_blk_config` starts with
//! `capacity: u64` at 0, `size_max: u32` at 8, `seg_max: u32` at 12,
//! `geometry` at 16 and `blk_size: u32` at 20; later fields belong to
//! features not offered and read as zero.

/// Maximum number of segments in a request is in `seg_max`.
pub const VIRTIO_BLK_F_SEG_MAX: u64 = 1 << 2;
/// Device is read-only. Not offered.
pub const VIRTIO_BLK_F_RO: u64 = 1 << 5;
/// Block size of the disk is in `blk_size`.
pub const VIRTIO_BLK_F_BLK_SIZE: u64 = 1 << 6;
/// Cache flush command support.
pub const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;

/// Offset of `capacity` (in 512-byte sectors).
pub const CAPACITY_OFFSET: usize = 0;
/// Offset of `seg_max`.
pub const SEG_MAX_OFFSET: usize = 12;
/// Offset of `blk_size`.
pub const BLK_SIZE_OFFSET: usize = 20;
/// Bytes of the structure this device fills in.
pub const CONFIG_SIZE: usize = 24;

/// Builds the configuration space image.
pub fn config_bytes(capacity: u64, seg_max: u32, blk_size: u32) -> [u8; CONFIG_SIZE] {
    let mut c = [0u8; CONFIG_SIZE];
    c[CAPACITY_OFFSET..CAPACITY_OFFSET + 8].copy_from_slice(&capacity.to_le_bytes());
    c[SEG_MAX_OFFSET..SEG_MAX_OFFSET + 4].copy_from_slice(&seg_max.to_le_bytes());
    c[BLK_SIZE_OFFSET..BLK_SIZE_OFFSET + 4].copy_from_slice(&blk_size.to_le_bytes());
    c
}
