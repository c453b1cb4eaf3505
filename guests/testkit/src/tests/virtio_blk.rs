//! The VM's virtio-blk disk, driven the plainest way (one split queue,
//! polled, no interrupts): a write read back, then a reset of the device
//! by vCPU 1 while vCPU 0's large read may be moving data. Aerie serves a
//! disk without its machine lock, so a reset can arrive mid-transfer; it
//! must not take effect until the transfer is over, or the transfer would
//! go on writing into buffers the driver has taken back. So: once vCPU 1's
//! reset write returns, nothing may change the read's buffer or the used
//! ring any more. Last, vCPU 1 adds a request of its own while vCPU 0's
//! large read is under way: where the host disk answers later (`virt`'s
//! virtio-blk) Aerie sends it beside the other; on a board's SD card it
//! hands it to the pCPU already serving the disk (or, once that pCPU's
//! turn is over, to the VM's next tick, which on an SD card it always
//! is). Both must complete with the right data.
//!
//! Every request also notes whether its notify returned before the
//! request was done: with a host disk that answers later the vCPU goes
//! back to its guest while the data moves, so (nearly) every one does;
//! with an SD card, whose transfer runs in the notify, none does.
//! Skipped where the VM has no disk.
//!
//! The testkit runs with its MMU off: addresses are physical (what the
//! device is given) and all memory is Device memory, so every access here
//! is aligned and the rings are read and written with volatile accesses.

use core::cell::UnsafeCell;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::TestResult;
use crate::counter;
use crate::detail::{detail, fail};
use crate::machine::Machine;
use crate::secondary::{self, Progress};
use crate::sysreg;

use super::virtio_mmio::{Queue, Transport, QUEUE_NOTIFY, STATUS, T_IN, T_OUT};

/// Descriptors: two requests' three each (header, data, status), the
/// second from descriptor [`SLOT_DESCS`] on.
const QUEUE: usize = 8;
const SLOT_DESCS: usize = 4;
/// The small request's buffers: one page.
const PAGE: usize = 4096;
/// The large read, long enough (several of Aerie's 64 KiB bounce chunks,
/// each a host disk request) for vCPU 1's reset to land during it.
const BIG: usize = 256 * 1024;
/// Where on the VM's disk: clear of sector 0 (nothing of Aerie's is on a
/// VM's region, but a guest might keep a label there).
const SECTOR: u64 = 64;
const TIMEOUT_MS: u64 = 2000;
/// What vCPU 1 writes into the large buffer once its reset has returned.
const SENTINEL: u64 = 0x5e17_1e15_5e17_1e15;

/// The queue, with two request slots.
type Ring = Queue<QUEUE, 2>;

#[repr(C, align(4096))]
struct Buffers {
    ring: Ring,
    page: [u8; PAGE],
    big: [u8; BIG],
}

/// Shared with the device (by physical address) and with vCPU 1.
struct Shared(UnsafeCell<Buffers>);

// SAFETY: vCPU 0 owns the buffers; vCPU 1 writes `big` only after its reset
// of the device returned, while vCPU 0 waits for it (Progress), and the
// device writes them only as the driver's descriptors allow.
unsafe impl Sync for Shared {}

static BUFFERS: Shared = Shared(UnsafeCell::new(Buffers {
    ring: Ring::EMPTY,
    page: [0; PAGE],
    big: [0; BIG],
}));

/// The transport vCPU 1 resets, and when (counter values around its write).
static TRANSPORT: AtomicU64 = AtomicU64::new(0);
static NOTIFYING: AtomicU32 = AtomicU32::new(0);
static RESET_TOOK: AtomicU64 = AtomicU64::new(0);
/// How long vCPU 1 waits after vCPU 0 says it notifies (counter ticks).
static DELAY: AtomicU64 = AtomicU64::new(0);
/// used.idx as vCPU 1 saw it right after its reset returned.
static USED_AFTER_RESET: AtomicU32 = AtomicU32::new(0);
static RESETTER: Progress = Progress::new();
static ADDER: Progress = Progress::new();

fn buffers() -> *mut Buffers {
    BUFFERS.0.get()
}

fn ring() -> *mut Ring {
    // SAFETY: only the address is taken.
    unsafe { &raw mut (*buffers()).ring }
}

/// Brings `t` up with queue 0 over `BUFFERS`'s ring (emptied first).
fn bring_up(t: &Transport) -> Result<(), crate::detail::Detail> {
    // SAFETY: the device was reset or never given the ring.
    t.bring_up(unsafe { Ring::reset(ring()) })
}

/// used.idx.
fn used_idx() -> u16 {
    // SAFETY: the ring in `BUFFERS`.
    unsafe { Ring::used(ring()) }
}

/// Puts a request (`kind`, `sector`, `len` bytes at `data`) on the ring as
/// request slot `slot`'s three descriptors and makes it available; the
/// caller notifies.
fn post(slot: usize, kind: u32, sector: u64, data: u64, len: usize) {
    // SAFETY: this slot's descriptors, written by one vCPU at a time while
    // the device has no request of the slot.
    unsafe {
        Ring::post(
            ring(),
            slot,
            slot * SLOT_DESCS,
            kind,
            sector,
            &[(data, len as u32)],
        )
    }
}

/// The status byte of request slot `slot`'s last request.
fn status_byte(slot: usize) -> u8 {
    // SAFETY: the ring in `BUFFERS`.
    unsafe { Ring::status(ring(), slot) }
}

fn request(
    t: &Transport,
    kind: u32,
    sector: u64,
    data: u64,
    len: usize,
) -> Result<(), crate::detail::Detail> {
    let before = used_idx();
    post(0, kind, sector, data, len);
    t.write(QUEUE_NOTIFY, 0);
    note_return(before);
    // SAFETY: the ring in `BUFFERS`.
    unsafe { Ring::wait_one(ring(), 0, before, kind, sector, TIMEOUT_MS) }
}

/// Notifies, and of them those that returned before their request was
/// used.
static NOTIFIES: AtomicU32 = AtomicU32::new(0);
static RETURNED_BEFORE: AtomicU32 = AtomicU32::new(0);

/// Right after a notify: counts it, and whether the used ring still shows
/// `before` (the request not done yet).
fn note_return(before: u16) {
    let early = used_idx() == before;
    NOTIFIES.fetch_add(1, Ordering::SeqCst);
    RETURNED_BEFORE.fetch_add(u32::from(early), Ordering::SeqCst);
}

fn page_addr() -> u64 {
    // SAFETY: only the address is taken.
    unsafe { &raw mut (*buffers()).page as u64 }
}

fn big_addr() -> u64 {
    // SAFETY: only the address is taken.
    unsafe { &raw mut (*buffers()).big as u64 }
}

/// The large buffer's 64-bit words, read or written one at a time.
fn big_word(i: usize) -> *mut u64 {
    (big_addr() as *mut u64).wrapping_add(i)
}

pub fn virtio_blk(machine: &Machine) -> TestResult {
    let Some(t) = super::virtio_mmio::disks(machine).next() else {
        return Ok(detail!("skipped: no virtio-blk disk"));
    };
    bring_up(&t)?;
    NOTIFIES.store(0, Ordering::SeqCst);
    RETURNED_BEFORE.store(0, Ordering::SeqCst);
    let sectors = t.capacity();
    if sectors < SECTOR + (BIG / 512) as u64 {
        fail!("disk of {sectors} sectors: too small for the test");
    }
    // A page written, then read back into the large buffer.
    let page = page_addr();
    for i in 0..PAGE / 8 {
        // SAFETY: aligned words of vCPU 0's page buffer.
        unsafe { write_volatile((page as *mut u64).add(i), pattern(i)) };
    }
    request(&t, T_OUT, SECTOR, page, PAGE)?;
    request(&t, T_IN, SECTOR, big_addr(), PAGE)?;
    check_pattern("read back", big_addr())?;
    // How long the large read takes, so that vCPU 1 can aim for its middle.
    let start = counter::now();
    request(&t, T_IN, SECTOR, big_addr(), BIG)?;
    let read_took = counter::now() - start;
    DELAY.store(read_took / 2, Ordering::SeqCst);
    let took = reset_mid_read(machine, &t)?;
    // The device works again after its reset.
    bring_up(&t)?;
    request(&t, T_IN, SECTOR, page, PAGE)?;
    check_pattern("read after the reset", page)?;
    let both = request_mid_read(machine, &t)?;
    let us = |ticks: u64| ticks * 1_000_000 / counter::frequency();
    Ok(detail!(
        "write/read back ok; a {} KiB read takes {} us, a reset in its middle took {} us, nothing moved after it; a request added in its middle done with it in {} us; {} of {} notifies returned early",
        BIG / 1024,
        us(read_took),
        us(took),
        us(both),
        RETURNED_BEFORE.load(Ordering::SeqCst),
        NOTIFIES.load(Ordering::SeqCst)
    ))
}

/// Word `i` of the page the check writes.
fn pattern(i: usize) -> u64 {
    0xa5a5_0000_0000_0000 | i as u64
}

/// The page at `addr` holds [`pattern`].
fn check_pattern(what: &str, addr: u64) -> Result<(), crate::detail::Detail> {
    for i in 0..PAGE / 8 {
        // SAFETY: aligned words of one of the check's buffers, which the
        // device finished with (its request was used).
        let got = unsafe { read_volatile((addr as *const u64).add(i)) };
        if got != pattern(i) {
            fail!("{what}: word {i} is {got:#x}");
        }
    }
    Ok(())
}

/// vCPU 1's job in [`request_mid_read`]: half-way through vCPU 0's large
/// read, a page read of its own in request slot 1, notified.
fn adder() {
    let t = half_way_into_the_read();
    post(1, T_IN, SECTOR, page_addr(), PAGE);
    t.write(QUEUE_NOTIFY, 0);
    ADDER.publish(Progress::DONE);
}

/// vCPU 0 reads the large block; vCPU 1 adds a page read in its middle.
/// Both must be used, with status 0 and the written page at the start of
/// each buffer. Returns how long both took (counter ticks).
fn request_mid_read(machine: &Machine, t: &Transport) -> Result<u64, crate::detail::Detail> {
    for addr in [page_addr(), big_addr()] {
        for i in 0..PAGE / 8 {
            // SAFETY: aligned words of the buffers, which no request uses.
            unsafe { write_volatile((addr as *mut u64).add(i), 0) };
        }
    }
    ADDER.reset();
    let before = used_idx();
    let start = counter::now();
    let other = read_beside(machine, t, adder)?;
    if ADDER.wait_for(Progress::DONE, TIMEOUT_MS) != Progress::DONE {
        fail!("vCPU 1's request was not posted within {TIMEOUT_MS} ms");
    }
    if !counter::spin_until(TIMEOUT_MS, || used_idx() == before.wrapping_add(2)) {
        fail!(
            "of the large read and vCPU 1's page read, {} used within {TIMEOUT_MS} ms",
            used_idx().wrapping_sub(before)
        );
    }
    let took = counter::now() - start;
    secondary::wait_off(other, TIMEOUT_MS)?;
    for slot in [0, 1] {
        if status_byte(slot) != 0 {
            fail!("request slot {slot}: status {}", status_byte(slot));
        }
    }
    check_pattern("the large read beside vCPU 1's", big_addr())?;
    check_pattern("vCPU 1's page read", page_addr())?;
    Ok(took)
}

/// vCPU 1's job: once vCPU 0 is about to notify, let its request get under
/// way, reset the device, and mark the large buffer.
fn resetter() {
    let t = half_way_into_the_read();
    let start = counter::now();
    t.write(STATUS, 0);
    RESET_TOOK.store(counter::now() - start, Ordering::SeqCst);
    USED_AFTER_RESET.store(u32::from(used_idx()), Ordering::SeqCst);
    for i in 0..BIG / 8 {
        // SAFETY: aligned words of the large buffer, which the device may
        // no longer write: its reset has returned.
        unsafe { write_volatile(big_word(i), SENTINEL) };
    }
    RESETTER.publish(Progress::DONE);
}

/// Returns how long vCPU 1's reset write took (counter ticks).
fn reset_mid_read(machine: &Machine, t: &Transport) -> Result<u64, crate::detail::Detail> {
    RESETTER.reset();
    let other = read_beside(machine, t, resetter)?;
    if RESETTER.wait_for(Progress::DONE, TIMEOUT_MS) != Progress::DONE {
        fail!("vCPU 1's reset did not return within {TIMEOUT_MS} ms");
    }
    secondary::wait_off(other, TIMEOUT_MS)?;
    // Give a transfer that outlived the reset time to show itself.
    counter::spin_ms(20);
    let used = used_idx();
    if u32::from(used) != USED_AFTER_RESET.load(Ordering::SeqCst) {
        fail!(
            "used.idx moved after the reset: {} then {used}",
            USED_AFTER_RESET.load(Ordering::SeqCst)
        );
    }
    for i in 0..BIG / 8 {
        // SAFETY: aligned words of the large buffer; vCPU 1 is off.
        let got = unsafe { read_volatile(big_word(i)) };
        if got != SENTINEL {
            fail!("the read's buffer changed after the reset returned: word {i} is {got:#x}");
        }
    }
    Ok(RESET_TOOK.load(Ordering::SeqCst))
}

/// vCPU 0's side of both mid-read checks: vCPU 1 started on `job`, then the
/// large read posted in request slot 0 and notified. Returns vCPU 1's MPIDR.
fn read_beside(machine: &Machine, t: &Transport, job: fn()) -> Result<u64, crate::detail::Detail> {
    let Some(&other) = machine.mpidrs[..machine.cpus].get(1) else {
        fail!("needs 2 vCPUs");
    };
    TRANSPORT.store(t.base(), Ordering::SeqCst);
    NOTIFYING.store(0, Ordering::SeqCst);
    secondary::start(other, job)?;
    post(0, T_IN, SECTOR, big_addr(), BIG);
    NOTIFYING.store(1, Ordering::SeqCst);
    sysreg::dsb_sy();
    let before = used_idx();
    t.write(QUEUE_NOTIFY, 0);
    note_return(before);
    Ok(other)
}

/// vCPU 1's start in both mid-read checks: once vCPU 0 is about to notify
/// its large read, half as long as one took when timed. The transport.
fn half_way_into_the_read() -> Transport {
    while NOTIFYING.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let soon = counter::now() + DELAY.load(Ordering::SeqCst);
    while counter::now() < soon {
        core::hint::spin_loop();
    }
    Transport::at(TRANSPORT.load(Ordering::SeqCst))
}
