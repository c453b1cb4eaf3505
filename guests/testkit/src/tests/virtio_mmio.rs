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

/// A split queue of `Q` descriptors (virtio 1.2, 2.7), laid out as the
/// device reads it (descriptor table, available ring, used ring, one page
/// aligned block), with the headers and status bytes of `R` block
/// requests after it. Shared with the device by physical address, so
/// reached through raw pointers and volatile accesses only.
#[repr(C, align(4096))]
pub struct Queue<const Q: usize, const R: usize> {
    desc: [Desc; Q],
    avail_flags: u16,
    avail_idx: u16,
    avail_ring: [u16; Q],
    used_event: u16,
    /// The used ring is 4-byte aligned (Q is even).
    _pad: u16,
    used_flags: u16,
    used_idx: u16,
    used_ring: [[u32; 2]; Q],
    avail_event: u16,
    header: [[u64; 2]; R],
    status: [u32; R],
}

impl<const Q: usize, const R: usize> Queue<Q, R> {
    pub const EMPTY: Self = Queue {
        desc: [Desc {
            addr: 0,
            len: 0,
            flags: 0,
            next: 0,
        }; Q],
        avail_flags: 0,
        avail_idx: 0,
        avail_ring: [0; Q],
        used_event: 0,
        _pad: 0,
        used_flags: 0,
        used_idx: 0,
        used_ring: [[0; 2]; Q],
        avail_event: 0,
        header: [[0; 2]; R],
        status: [0; R],
    };

    /// Empties the rings of the queue at `q` (for a device about to be
    /// given it) and says where its parts are.
    ///
    /// # Safety
    /// `q` must point at a queue no device uses now.
    pub unsafe fn reset(q: *mut Self) -> Rings {
        // SAFETY: as the caller promises.
        unsafe {
            write_volatile(&raw mut (*q).avail_idx, 0);
            write_volatile(&raw mut (*q).avail_flags, 0);
            write_volatile(&raw mut (*q).used_idx, 0);
            write_volatile(&raw mut (*q).used_flags, 0);
            Rings {
                size: Q,
                desc: &raw mut (*q).desc as u64,
                avail: &raw mut (*q).avail_flags as u64,
                used: &raw mut (*q).used_flags as u64,
            }
        }
    }

    /// The used ring's index: how many requests the device has returned.
    ///
    /// # Safety
    /// `q` must point at a queue.
    pub unsafe fn used(q: *const Self) -> u16 {
        // SAFETY: an aligned field the device writes.
        unsafe { read_volatile(&raw const (*q).used_idx) }
    }

    /// Request slot `slot`'s status byte, as the device last wrote it.
    ///
    /// # Safety
    /// `q` must point at a queue.
    pub unsafe fn status(q: *const Self, slot: usize) -> u8 {
        // SAFETY: an aligned field the device writes.
        unsafe { read_volatile(&raw const (*q).status[slot]) as u8 }
    }

    /// Waits up to `ms` for the request of slot `slot` (`kind` at
    /// `sector`), posted while the used index was `before`, to come back,
    /// and requires its status OK.
    ///
    /// # Safety
    /// `q` must point at a queue.
    pub unsafe fn wait_one(
        q: *const Self,
        slot: usize,
        before: u16,
        kind: u32,
        sector: u64,
        ms: u64,
    ) -> Result<(), crate::detail::Detail> {
        // SAFETY: as the caller promises.
        if !crate::counter::spin_until(ms, || unsafe { Self::used(q) } != before) {
            fail!("request type {kind} at sector {sector}: not used within {ms} ms");
        }
        // SAFETY: as the caller promises.
        let status = unsafe { Self::status(q, slot) };
        if status != 0 {
            fail!("request type {kind} at sector {sector}: status {status}");
        }
        Ok(())
    }

    /// Puts a block request (`kind` at `sector`, its data in the buffers
    /// `data`, device-writable for a read) on the ring as request slot
    /// `slot`'s descriptors from `first` on (header, the data, status),
    /// and makes it available; the caller notifies.
    ///
    /// # Safety
    /// `q` must point at a queue this vCPU alone writes now, and the
    /// descriptors from `first` must not be the device's.
    pub unsafe fn post(
        q: *mut Self,
        slot: usize,
        first: usize,
        kind: u32,
        sector: u64,
        data: &[(u64, u32)],
    ) {
        let data_flags = if kind == T_IN { DESC_WRITE } else { 0 };
        // SAFETY: as the caller promises; the device reads the request
        // only after avail.idx moves, which comes last.
        unsafe {
            write_volatile(&raw mut (*q).header[slot], [u64::from(kind), sector]);
            write_volatile(&raw mut (*q).status[slot], 0xff);
            let header = &raw mut (*q).header[slot] as u64;
            let status = &raw mut (*q).status[slot] as u64;
            let put = |i: usize, addr: u64, len: u32, flags: u16| {
                let next = if flags & DESC_NEXT != 0 {
                    first + i + 1
                } else {
                    0
                };
                let desc = Desc {
                    addr,
                    len,
                    flags,
                    next: next as u16,
                };
                write_volatile(&raw mut (*q).desc[first + i], desc);
            };
            put(0, header, 16, DESC_NEXT);
            for (i, &(addr, len)) in data.iter().enumerate() {
                put(1 + i, addr, len, data_flags | DESC_NEXT);
            }
            put(1 + data.len(), status, 1, DESC_WRITE);
            let idx = read_volatile(&raw const (*q).avail_idx);
            write_volatile(&raw mut (*q).avail_ring[usize::from(idx) % Q], first as u16);
            crate::sysreg::dsb_sy();
            write_volatile(&raw mut (*q).avail_idx, idx.wrapping_add(1));
            crate::sysreg::dsb_sy();
        }
    }
}
