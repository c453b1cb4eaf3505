//! Device status field bits (virtio 1.2 section 2.1). The driver sets
//! ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK and FAILED; the device sets
//! DEVICE_NEEDS_RESET when it hits an error it cannot recover from.

/// The guest OS has found the device.
pub const ACKNOWLEDGE: u32 = 1;
/// The guest OS knows how to drive the device.
pub const DRIVER: u32 = 2;
/// The driver is set up and ready to drive the device.
pub const DRIVER_OK: u32 = 4;
/// The driver has acknowledged the features it understands; feature
/// negotiation is complete (the device clears it again if it refuses them).
pub const FEATURES_OK: u32 = 8;
/// The device has experienced an error from which it can't recover.
pub const DEVICE_NEEDS_RESET: u32 = 64;
/// Something went wrong in the guest and it has given up on the device.
pub const FAILED: u32 = 128;
