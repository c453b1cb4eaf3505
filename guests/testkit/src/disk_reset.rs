//! `disk-reset`: the VM resets itself while its disk reads are with the
//! host disk, and checks after the reset that none of them wrote its
//! memory then.
//!
//! Aerie reloads a VM that resets into fresh (zeroed) memory. A read the
//! host disk was still doing at the reset would otherwise land in the new
//! run's memory, over whatever it holds by then. So Aerie reloads only
//! once every request of the VM is back from the host disk. The first boot
//! (the disk's marker sector not yet written) writes a 4 MiB pattern to
//! the disk, writes the marker, then asks for 8 reads of it into one
//! 4 MiB buffer, and resets at once. A second later than it says so: the
//! integration test `testkit-disk-reset` makes QEMU's disk slow to read
//! meanwhile (16 MB/s, over QMP), as a real disk is next to a reload,
//! so that the reads are still moving data well after the reset.
//! The second boot (the marker found) waits, then requires that buffer,
//! zeroed by the reload, to be zero still: a read from before the reset
//! would have filled it with the pattern. Aerie's log says how many
//! requests the reset found with the host disk; the integration test
//! requires that line and both boots'. (Without Aerie's wait, the second
//! boot finds the pattern in the buffer.)

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};

use crate::console::println;
use crate::counter;
use crate::detail::Detail;
use crate::machine::Machine;
use crate::psci;
use crate::tests::virtio_mmio::{self, Queue, Transport, QUEUE_NOTIFY, T_IN, T_OUT};

/// Reads in flight at the reset.
const READS: usize = 8;
const QUEUE: usize = 32;
/// Request slots: the reads, and one for the marker and the pattern.
const SLOTS: usize = READS + 1;
const BYTES: usize = 4 << 20;
/// Where the pattern is on the disk, and the marker.
const PATTERN_SECTOR: u64 = 8;
const MARKER_SECTOR: u64 = 0;
/// What the first boot leaves in the marker sector's first word.
const FIRST_BOOT_DONE: u64 = 0x4145_5249_452d_5253; // "AERIE-RS"
const TIMEOUT_MS: u64 = 4000;
/// How long the second boot gives a stray read to show itself.
const SETTLE_MS: u64 = 1000;
/// How long the first boot waits before its reads, once it has said so:
/// time for the integration test to make the host disk slow (QMP).
const SLOW_DOWN_MS: u64 = 1000;

type Ring = Queue<QUEUE, SLOTS>;

#[repr(C, align(4096))]
struct Area {
    ring: Ring,
    sector: [u64; 64],
    buffer: [u64; BYTES / 8],
}

/// Shared with the device, by physical address (the testkit's MMU is off).
struct Shared(UnsafeCell<Area>);

// SAFETY: only vCPU 0 runs this mode; the device writes the memory only as
// its descriptors allow.
unsafe impl Sync for Shared {}

static AREA: Shared = Shared(UnsafeCell::new(Area {
    ring: Ring::EMPTY,
    sector: [0; 64],
    buffer: [0; BYTES / 8],
}));

fn ring() -> *mut Ring {
    // SAFETY: only the address is taken.
    unsafe { &raw mut (*AREA.0.get()).ring }
}

fn sector() -> *mut u64 {
    // SAFETY: only the address is taken.
    unsafe { (&raw mut (*AREA.0.get()).sector).cast() }
}

fn buffer() -> *mut u64 {
    // SAFETY: only the address is taken.
    unsafe { (&raw mut (*AREA.0.get()).buffer).cast() }
}

fn used() -> u16 {
    // SAFETY: the ring in `AREA`.
    unsafe { Ring::used(ring()) }
}

/// Posts a request in the last slot and waits for it.
fn request(t: &Transport, kind: u32, at: u64, data: *mut u64, len: usize) -> Result<(), Detail> {
    let before = used();
    // SAFETY: the ring in `AREA`; nothing else of the slot's is with the
    // device (each request waits for its answer).
    unsafe {
        Ring::post(
            ring(),
            READS,
            READS * 3,
            kind,
            at,
            &[(data as u64, len as u32)],
        )
    };
    t.write(QUEUE_NOTIFY, 0);
    // SAFETY: as above.
    unsafe { Ring::wait_one(ring(), READS, before, kind, at, TIMEOUT_MS) }
}

/// Word `i` of the pattern: never zero.
fn pattern(i: usize) -> u64 {
    0x5a5a_0000_0000_0000 | i as u64
}

pub fn run(machine: &Machine) {
    let Some(t) = virtio_mmio::disks(machine).next() else {
        println!("testkit: disk-reset: FAIL: no virtio-blk disk");
        psci::system_off()
    };
    // SAFETY: the device was reset or never given the ring.
    if let Err(e) = t.bring_up(unsafe { Ring::reset(ring()) }) {
        println!("testkit: disk-reset: FAIL: {e}");
        psci::system_off()
    }
    let outcome = match request(&t, T_IN, MARKER_SECTOR, sector(), 512) {
        // SAFETY: the sector buffer, which the device is done with.
        Ok(()) if unsafe { read_volatile(sector()) } == FIRST_BOOT_DONE => second_boot(&t),
        Ok(()) => first_boot(&t),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        println!("testkit: disk-reset: FAIL: {e}");
    }
    psci::system_off()
}

/// Leaves the pattern and the marker on the disk, asks for the reads and
/// resets with them in flight. Returns only on failure.
fn first_boot(t: &Transport) -> Result<(), Detail> {
    for i in 0..BYTES / 8 {
        // SAFETY: a word of the buffer, which no request uses now.
        unsafe { write_volatile(buffer().add(i), pattern(i)) };
    }
    request(t, T_OUT, PATTERN_SECTOR, buffer(), BYTES)?;
    // SAFETY: the sector buffer, which no request uses now.
    unsafe { write_volatile(sector(), FIRST_BOOT_DONE) };
    request(t, T_OUT, MARKER_SECTOR, sector(), 512)?;
    println!(
        "testkit: disk-reset: first boot: {READS} reads of 4 MiB in {SLOW_DOWN_MS} ms, then a reset at once"
    );
    counter::spin_ms(SLOW_DOWN_MS);
    for slot in 0..READS {
        // SAFETY: the ring in `AREA`; slots 0..READS are not the device's.
        unsafe {
            Ring::post(
                ring(),
                slot,
                slot * 3,
                T_IN,
                PATTERN_SECTOR,
                &[(buffer() as u64, BYTES as u32)],
            )
        };
    }
    t.write(QUEUE_NOTIFY, 0);
    psci::system_reset()
}

/// After the reset: the buffer must stay as the reload left it, zero.
fn second_boot(t: &Transport) -> Result<(), Detail> {
    // SAFETY: the sector buffer, which no request uses now.
    unsafe { write_volatile(sector(), 0) };
    request(t, T_OUT, MARKER_SECTOR, sector(), 512)?;
    counter::spin_ms(SETTLE_MS);
    for i in 0..BYTES / 8 {
        // SAFETY: a word of the buffer; no request of this run uses it.
        let got = unsafe { read_volatile(buffer().add(i)) };
        if got != 0 {
            println!(
                "testkit: disk-reset: FAIL: second boot: word {i} of the buffer is {got:#x}: a read from before the reset wrote it after"
            );
            return Ok(());
        }
    }
    println!(
        "testkit: disk-reset: PASS: second boot: the 4 MiB buffer is still zero {SETTLE_MS} ms after the reload"
    );
    Ok(())
}
