//! Two disks' requests at once, more than the host disk's ring holds: on
//! each of the VM's first two virtio-blk disks, two requests of 126 data
//! buffers (504 KiB), all posted, then both disks notified back to back.
//! Written first, then read back into cleared buffers.
//!
//! Where the host disk answers later (`virt`'s virtio-blk), Aerie's ring
//! on it has 256 descriptors and these four requests want 512 (each of its
//! buffers is a descriptor there too, with the header and the status): the
//! first disk's two fill it, and the second's wait in their device until
//! answers make room. They must still be sent then, and every request must
//! come back with its own data. (One VM's disk cannot do this alone: its
//! own queue holds at most 256 descriptors.) On a board's SD card the
//! requests run one after another as always. Skipped without two disks.

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};

use super::virtio_mmio::{
    self, Desc, Rings, Transport, DESC_NEXT, DESC_WRITE, QUEUE_NOTIFY, T_IN, T_OUT,
};
use super::TestResult;
use crate::counter;
use crate::detail::{detail, fail, Detail};
use crate::machine::Machine;
use crate::sysreg;

const QUEUE: usize = 256;
const DISKS: usize = 2;
/// Requests a disk.
const REQUESTS: usize = 2;
/// A request's data buffers, one page each: with its header and status,
/// 128 descriptors, so a disk's two fill its queue.
const SEGMENTS: usize = 126;
const SEGMENT: usize = 4096;
const BYTES: usize = SEGMENTS * SEGMENT;
/// Where on each disk: past `virtio_blk`'s sectors.
const SECTOR: u64 = 2048;
const TIMEOUT_MS: u64 = 4000;

/// One disk's queue: descriptor table, available ring, used ring, and its
/// requests' headers and status bytes.
#[repr(C, align(4096))]
struct Ring {
    desc: [Desc; QUEUE],
    /// flags, idx, ring[QUEUE], used_event.
    avail: [u16; 3 + QUEUE],
    _pad: [u16; 1],
    /// flags and idx, then (id, len) pairs.
    used: [u32; 1 + 2 * QUEUE],
    header: [[u64; 2]; REQUESTS],
    status: [u32; REQUESTS],
}

#[repr(C, align(4096))]
struct Area {
    rings: [Ring; DISKS],
    /// Request r of disk d's data: `data[d * REQUESTS + r]`.
    data: [[u8; BYTES]; DISKS * REQUESTS],
}

/// Shared with the devices, by physical address.
struct Shared(UnsafeCell<Area>);

// SAFETY: only vCPU 0 runs this check; the devices write the memory only
// as its descriptors allow.
unsafe impl Sync for Shared {}

const EMPTY: Ring = Ring {
    desc: [Desc {
        addr: 0,
        len: 0,
        flags: 0,
        next: 0,
    }; QUEUE],
    avail: [0; 3 + QUEUE],
    _pad: [0],
    used: [0; 1 + 2 * QUEUE],
    header: [[0; 2]; REQUESTS],
    status: [0; REQUESTS],
};

static AREA: Shared = Shared(UnsafeCell::new(Area {
    rings: [EMPTY; DISKS],
    data: [[0; BYTES]; DISKS * REQUESTS],
}));

fn ring(d: usize) -> *mut Ring {
    // SAFETY: only the address is taken.
    unsafe { &raw mut (*AREA.0.get()).rings[d] }
}

fn data(d: usize, r: usize) -> *mut u64 {
    // SAFETY: only the address is taken.
    unsafe { (&raw mut (*AREA.0.get()).data[d * REQUESTS + r]).cast() }
}

/// Word `i` of request `r` of disk `d`.
fn pattern(d: usize, r: usize, i: usize) -> u64 {
    (d as u64) << 56 | (r as u64) << 48 | i as u64 ^ 0x00c0_ffee_0000_0000
}

fn used_idx(d: usize) -> u16 {
    // SAFETY: an aligned word of the ring the device writes.
    let word = unsafe { read_volatile(&raw const (*ring(d)).used[0]) };
    (word >> 16) as u16
}

/// Brings disk `d` up over its ring, zeroed first.
fn bring_up(d: usize, t: &Transport) -> Result<(), Detail> {
    let r = ring(d);
    // SAFETY: the rings are zeroed before the device may look at them.
    let rings = unsafe {
        write_volatile(&raw mut (*r).avail, [0; 3 + QUEUE]);
        write_volatile(&raw mut (*r).used, [0; 1 + 2 * QUEUE]);
        Rings {
            size: QUEUE,
            desc: &raw mut (*r).desc as u64,
            avail: &raw mut (*r).avail as u64,
            used: &raw mut (*r).used as u64,
        }
    };
    t.bring_up(rings)
}

/// Puts request `r` of disk `d` (`kind` at its sectors, its data buffer
/// cut into [`SEGMENTS`] descriptors) on the ring, from descriptor
/// `r * 128`, and makes it available; the caller notifies.
fn post(d: usize, r: usize, kind: u32) {
    let ring = ring(d);
    let first = r * (SEGMENTS + 2);
    let sector = SECTOR + (r * BYTES / 512) as u64;
    let data_flags = if kind == T_IN { DESC_WRITE } else { 0 };
    // SAFETY: this request's descriptors and ring slots, written by this
    // vCPU alone; the device reads them only after avail.idx moves, which
    // comes last.
    unsafe {
        write_volatile(&raw mut (*ring).header[r], [u64::from(kind), sector]);
        write_volatile(&raw mut (*ring).status[r], 0xff);
        let header = &raw mut (*ring).header[r] as u64;
        let status = &raw mut (*ring).status[r] as u64;
        let put = move |i: usize, addr: u64, len: usize, flags: u16| {
            let next = if flags & DESC_NEXT != 0 {
                first + i + 1
            } else {
                0
            };
            let desc = Desc {
                addr,
                len: len as u32,
                flags,
                next: next as u16,
            };
            write_volatile(&raw mut (*ring).desc[first + i], desc);
        };
        put(0, header, 16, DESC_NEXT);
        for s in 0..SEGMENTS {
            let addr = data(d, r) as u64 + (s * SEGMENT) as u64;
            put(1 + s, addr, SEGMENT, data_flags | DESC_NEXT);
        }
        put(1 + SEGMENTS, status, 1, DESC_WRITE);
        let idx = read_volatile(&raw const (*ring).avail[1]);
        write_volatile(
            &raw mut (*ring).avail[2 + usize::from(idx) % QUEUE],
            first as u16,
        );
        sysreg::dsb_sy();
        write_volatile(&raw mut (*ring).avail[1], idx.wrapping_add(1));
        sysreg::dsb_sy();
    }
}

/// Every disk's requests of `kind`, posted, then both disks notified back
/// to back; waits for all, each with status 0.
fn round(disks: &[Transport; DISKS], kind: u32) -> Result<(), Detail> {
    let before = [used_idx(0), used_idx(1)];
    for d in 0..DISKS {
        for r in 0..REQUESTS {
            post(d, r, kind);
        }
    }
    for t in disks {
        t.write(QUEUE_NOTIFY, 0);
    }
    let all_used = || (0..DISKS).all(|d| used_idx(d) == before[d].wrapping_add(REQUESTS as u16));
    if !counter::spin_until(TIMEOUT_MS, all_used) {
        fail!(
            "requests of type {kind}: {} and {} of {REQUESTS} used within {TIMEOUT_MS} ms",
            used_idx(0).wrapping_sub(before[0]),
            used_idx(1).wrapping_sub(before[1])
        );
    }
    for d in 0..DISKS {
        for r in 0..REQUESTS {
            // SAFETY: an aligned word of the ring the device wrote.
            let status = unsafe { read_volatile(&raw const (*ring(d)).status[r]) };
            if status != 0 {
                fail!("disk {d} request {r} of type {kind}: status {status}");
            }
        }
    }
    Ok(())
}

pub fn virtio_blk_ring(machine: &Machine) -> TestResult {
    let mut found = virtio_mmio::disks(machine);
    let (Some(a), Some(b)) = (found.next(), found.next()) else {
        return Ok(detail!("skipped: needs two virtio-blk disks"));
    };
    let disks = [a, b];
    for (d, t) in disks.iter().enumerate() {
        let needed = SECTOR + (REQUESTS * BYTES / 512) as u64;
        if t.capacity() < needed {
            fail!(
                "disk {d} of {} sectors: too small for the test",
                t.capacity()
            );
        }
        bring_up(d, t)?;
    }
    let words = BYTES / 8;
    for d in 0..DISKS {
        for r in 0..REQUESTS {
            for i in 0..words {
                // SAFETY: aligned words of the request's buffer, which no
                // request uses now.
                unsafe { write_volatile(data(d, r).add(i), pattern(d, r, i)) };
            }
        }
    }
    let start = counter::now();
    round(&disks, T_OUT)?;
    for d in 0..DISKS {
        for r in 0..REQUESTS {
            for i in 0..words {
                // SAFETY: as above.
                unsafe { write_volatile(data(d, r).add(i), 0) };
            }
        }
    }
    round(&disks, T_IN)?;
    let took = counter::now() - start;
    for d in 0..DISKS {
        for r in 0..REQUESTS {
            for i in 0..words {
                // SAFETY: as above; the device is done with it.
                let got = unsafe { read_volatile(data(d, r).add(i)) };
                if got != pattern(d, r, i) {
                    fail!(
                        "disk {d} request {r}: word {i} read back {got:#x}, want {:#x}",
                        pattern(d, r, i)
                    );
                }
            }
        }
    }
    Ok(detail!(
        "{} requests of {SEGMENTS} buffers ({} KiB) on each of 2 disks, written and read back in {} us",
        REQUESTS,
        BYTES / 1024,
        took * 1_000_000 / counter::frequency()
    ))
}
