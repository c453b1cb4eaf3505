//! A virtio-mmio transport as the disk checks drive it (virtio 1.2, 4.2.2):
//! modern (version 2), VERSION_1 alone negotiated, one queue whose rings
//! the check provides, polled.

use core::ptr::{read_volatile, write_volatile};

use crate::detail::fail;
use crate::machine::Machine;

const MAGIC: u64 = 0x000;
const VERSION: u64 = 0x004;
const DEVICE_ID: u64 = 0x008;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
pub const QUEUE_READY: u64 = 0x044;
pub const QUEUE_NOTIFY: u64 = 0x050;
pub const STATUS: u64 = 0x070;
const QUEUE_DESC_LOW: u64 = 0x080;
const QUEUE_DESC_HIGH: u64 = 0x084;
const QUEUE_DRIVER_LOW: u64 = 0x090;
const QUEUE_DRIVER_HIGH: u64 = 0x094;
const QUEUE_DEVICE_LOW: u64 = 0x0a0;
const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
/// A block device's capacity in sectors (its config space's first field).
const CAPACITY: u64 = 0x100;

const ACKNOWLEDGE: u32 = 1;
const DRIVER: u32 = 2;
const DRIVER_OK: u32 = 4;
const FEATURES_OK: u32 = 8;

/// The virtio ID of a block device.
const BLOCK: u32 = 2;

/// Block request types (virtio 1.2, 5.2.6).
pub const T_IN: u32 = 0;
pub const T_OUT: u32 = 1;

/// A split queue's descriptor (virtio 1.2, 2.7.5) and its flags.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

pub const DESC_NEXT: u16 = 1;
pub const DESC_WRITE: u16 = 2;

/// Where a queue's three parts are (physical addresses: the testkit runs
/// with its MMU off), and its size.
pub struct Rings {
    pub size: usize,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
}

pub struct Transport(u64);

impl Transport {
    /// The transport whose registers start at `base`.
    pub fn at(base: u64) -> Transport {
        Transport(base)
    }

    pub fn base(&self) -> u64 {
        self.0
    }

    pub fn read(&self, reg: u64) -> u32 {
        // SAFETY: a virtio-mmio window the device tree gave this VM.
        unsafe { read_volatile((self.0 + reg) as *const u32) }
    }

    pub fn write(&self, reg: u64, value: u32) {
        // SAFETY: as for read.
        unsafe { write_volatile((self.0 + reg) as *mut u32, value) }
    }

    /// Reset, negotiate VERSION_1 alone, set up queue 0 over `rings`
    /// (zeroed by the caller).
    pub fn bring_up(&self, rings: Rings) -> Result<(), crate::detail::Detail> {
        self.write(STATUS, 0);
        if self.read(STATUS) != 0 {
            fail!("status still {:#x} after the reset", self.read(STATUS));
        }
        self.write(STATUS, ACKNOWLEDGE | DRIVER);
        self.write(DEVICE_FEATURES_SEL, 1);
        if self.read(DEVICE_FEATURES) & 1 == 0 {
            fail!("no VIRTIO_F_VERSION_1 offered");
        }
        self.write(DRIVER_FEATURES_SEL, 0);
        self.write(DRIVER_FEATURES, 0);
        self.write(DRIVER_FEATURES_SEL, 1);
        self.write(DRIVER_FEATURES, 1);
        self.write(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
        if self.read(STATUS) & FEATURES_OK == 0 {
            fail!("FEATURES_OK refused");
        }
        self.write(QUEUE_SEL, 0);
        if (self.read(QUEUE_NUM_MAX) as usize) < rings.size {
            fail!("queue 0 holds {} descriptors", self.read(QUEUE_NUM_MAX));
        }
        self.write(QUEUE_NUM, rings.size as u32);
        for (low, high, addr) in [
            (QUEUE_DESC_LOW, QUEUE_DESC_HIGH, rings.desc),
            (QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, rings.avail),
            (QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, rings.used),
        ] {
            self.write(low, addr as u32);
            self.write(high, (addr >> 32) as u32);
        }
        self.write(QUEUE_READY, 1);
        self.write(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        Ok(())
    }

    /// The block device's capacity in sectors.
    pub fn capacity(&self) -> u64 {
        u64::from(self.read(CAPACITY)) | u64::from(self.read(CAPACITY + 4)) << 32
    }
}

/// The virtio-blk transports the device tree lists, in its order.
pub fn disks(machine: &Machine) -> impl Iterator<Item = Transport> + '_ {
    machine
        .virtio_windows()
        .iter()
        .map(|&(base, _)| Transport(base))
        .filter(|t| {
            t.read(MAGIC) == 0x7472_6976 && t.read(VERSION) == 2 && t.read(DEVICE_ID) == BLOCK
        })
}
