//! Reserved (transport and ring) feature bits, virtio 1.2 section 6. Device
//! types define bits 0..=23 themselves (see the block and console modules).

/// Bit 32: the device complies with virtio 1.x (no legacy interface). Every
/// device here offers it and refuses a driver that does not accept it,
/// because the legacy (version 1) MMIO layout is not implemented.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;
/// Bit 28: indirect descriptors. Not offered.
pub const VIRTIO_F_INDIRECT_DESC: u64 = 1 << 28;
/// Bit 29: used/avail event index notification suppression. Not offered.
pub const VIRTIO_F_EVENT_IDX: u64 = 1 << 29;

/// Feature bits the transport adds to every device's own bits.
pub const TRANSPORT_FEATURES: u64 = VIRTIO_F_VERSION_1;
