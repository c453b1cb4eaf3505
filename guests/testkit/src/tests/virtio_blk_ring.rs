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

use super::virtio_mmio::{self, Queue, Transport, QUEUE_NOTIFY, T_IN, T_OUT};
use super::TestResult;
use crate::counter;
use crate::detail::{detail, fail, Detail};
use crate::machine::Machine;

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

/// One disk's queue, a request slot for each of its requests.
type Ring = Queue<QUEUE, REQUESTS>;

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

static AREA: Shared = Shared(UnsafeCell::new(Area {
    rings: [Ring::EMPTY; DISKS],
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
    // SAFETY: disk d's ring.
    unsafe { Ring::used(ring(d)) }
}

/// Puts request `r` of disk `d` (`kind` at its sectors, its data buffer
/// cut into [`SEGMENTS`] pages) on the ring from descriptor `r * 128` and
/// makes it available; the caller notifies.
fn post(d: usize, r: usize, kind: u32) {
    let sector = SECTOR + (r * BYTES / 512) as u64;
    let base = data(d, r) as u64;
    let pages: [(u64, u32); SEGMENTS] =
        core::array::from_fn(|s| (base + (s * SEGMENT) as u64, SEGMENT as u32));
    // SAFETY: disk d's ring, which this vCPU alone writes; the device has
    // no request of slot r now.
    unsafe { Ring::post(ring(d), r, r * (SEGMENTS + 2), kind, sector, &pages) }
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
            // SAFETY: disk d's ring.
            let status = unsafe { Ring::status(ring(d), r) };
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
        // SAFETY: the device was never given this ring.
        t.bring_up(unsafe { Ring::reset(ring(d)) })?;
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
