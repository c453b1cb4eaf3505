//! virtio-mmio register offsets, version 2 ("modern") layout, virtio 1.2
//! section 4.2.2. All control registers are 32 bits wide.

/// R: 0x74726976, "virt" in little-endian ASCII.
pub const MAGIC_VALUE: u64 = 0x000;
/// R: 2 for the modern interface.
pub const VERSION: u64 = 0x004;
/// R: device type.
pub const DEVICE_ID: u64 = 0x008;
/// R: subsystem vendor.
pub const VENDOR_ID: u64 = 0x00c;
/// R: 32 feature bits selected by DeviceFeaturesSel.
pub const DEVICE_FEATURES: u64 = 0x010;
/// W: which 32-bit word DeviceFeatures shows.
pub const DEVICE_FEATURES_SEL: u64 = 0x014;
/// W: 32 accepted feature bits selected by DriverFeaturesSel.
pub const DRIVER_FEATURES: u64 = 0x020;
/// W: which 32-bit word DriverFeatures sets.
pub const DRIVER_FEATURES_SEL: u64 = 0x024;
/// W: which queue the Queue* registers address.
pub const QUEUE_SEL: u64 = 0x030;
/// R: maximum queue size, 0 if the queue does not exist.
pub const QUEUE_NUM_MAX: u64 = 0x034;
/// W: queue size the driver chose.
pub const QUEUE_NUM: u64 = 0x038;
/// RW: queue enabled.
pub const QUEUE_READY: u64 = 0x044;
/// W: queue index with new buffers.
pub const QUEUE_NOTIFY: u64 = 0x050;
/// R: pending interrupt reasons.
pub const INTERRUPT_STATUS: u64 = 0x060;
/// W: clears InterruptStatus bits.
pub const INTERRUPT_ACK: u64 = 0x064;
/// RW: device status; writing 0 resets.
pub const STATUS: u64 = 0x070;
/// W: descriptor table address, low 32 bits.
pub const QUEUE_DESC_LOW: u64 = 0x080;
/// W: descriptor table address, high 32 bits.
pub const QUEUE_DESC_HIGH: u64 = 0x084;
/// W: available ring (driver area) address, low 32 bits.
pub const QUEUE_DRIVER_LOW: u64 = 0x090;
/// W: available ring address, high 32 bits.
pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
/// W: used ring (device area) address, low 32 bits.
pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
/// W: used ring address, high 32 bits.
pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
/// W: shared memory region selector.
pub const SHM_SEL: u64 = 0x0ac;
/// R: selected shared memory region length, low 32 bits.
pub const SHM_LEN_LOW: u64 = 0x0b0;
/// R: selected shared memory region length, high 32 bits.
pub const SHM_LEN_HIGH: u64 = 0x0b4;
/// R: configuration atomicity value.
pub const CONFIG_GENERATION: u64 = 0x0fc;
/// Start of the device-specific configuration space.
pub const CONFIG: u64 = 0x100;

/// Size of one transport window (QEMU `virt` spaces them 0x200 apart).
pub const WINDOW: u64 = 0x200;

/// The MagicValue register's contents.
pub const MAGIC: u32 = 0x7472_6976;
/// Version of the register layout implemented.
pub const MMIO_VERSION: u32 = 2;
/// VendorID: the ASCII bytes "AERI" read as a little-endian u32, the way
/// QEMU reports "QEMU" (0x554d4551). Linux only prints it.
pub const AERIE_VENDOR_ID: u32 = u32::from_le_bytes(*b"AERI");

/// InterruptStatus bit 0: a used buffer was added to some queue.
pub const INT_VRING: u32 = 1;
/// InterruptStatus bit 1: the configuration (or DEVICE_NEEDS_RESET) changed.
pub const INT_CONFIG: u32 = 2;
