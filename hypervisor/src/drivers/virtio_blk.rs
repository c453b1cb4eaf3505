//! The host's virtio block device (QEMU `-device virtio-blk-device`).
//! Each VM with a disk gets a region of it (see `vm::block`).
//!
//! `virtio-drivers` provides the transport and the split queue; the block
//! requests are Aerie's own (header, data buffers, status byte), because a
//! VM's request goes to the device with its data buffers as they are in
//! guest RAM: as many buffers as the guest's chain has, one request, no
//! copy. (The crate's block driver takes one buffer a request, so a VM's
//! data had to be copied through one.)
//!
//! A VM's requests are answered later ([`submit`], [`take_done`]): queued
//! on the device and notified, then the VM's vCPU goes back to its guest,
//! and the device's interrupt says when requests are back. Several
//! requests, of one VM or of several, are with the device at once, as many
//! as the ring's 256 descriptors hold. Aerie's own requests (the partition
//! table at boot) wait for their answer in a loop ([`read`], [`write`]),
//! which tells the watchdog the pCPU is not stuck.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

use super::virtio_mmio::{self, HostHal};
use crate::mm::layout::phys_to_virt;
use aerie_dt::HostVirtio;
use aerie_virtio::{DmaBuf, Transfer};
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::{DeviceType, Transport};

/// Sector size of every virtio block device.
const SECTOR_SIZE: u64 = 512;
/// Descriptors, shared by the requests with the device: a request takes
/// its buffers' and two more (header, status). QEMU's virtio-blk offers
/// 256, a guest's request has at most 127 buffers
/// (`aerie_virtio::block::SEG_MAX`), so two of the largest fit at once.
const QUEUE_SIZE: usize = 256;
/// The tag of Aerie's own requests, which no VM's can have (see `vm::block`).
const OWN: u64 = u64::MAX;

/// Request types and the OK status (virtio 1.2, 5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const S_OK: u8 = 0;

bitflags::bitflags! {
    /// The feature bits Aerie asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const FLUSH = 1 << 9;
        const VERSION_1 = 1 << 32;
    }
}

struct HostBlk {
    transport: MmioTransport<'static>,
    queue: VirtQueue<HostHal, QUEUE_SIZE>,
    /// Sectors.
    capacity: u64,
    flush: bool,
    /// The requests with the device, by their first descriptor (the
    /// queue's token).
    with_device: Vec<Option<Pending>>,
    /// Requests back from the device, kept for the next: sending one
    /// allocates nothing once there are as many as were ever out at once.
    spare: Vec<Pending>,
    /// Requests the device has returned whose owner has not taken them
    /// yet ([`take_done`]): their tags and outcomes.
    done: Vec<(u64, Result<(), &'static str>)>,
}

/// A request's header and status byte, which the device reads and writes
/// where they are: an allocation of its own, reached through a raw
/// pointer, so the slices the queue is given of it stay valid however its
/// [`Pending`] moves.
#[repr(C)]
struct Frame {
    header: [u8; 16],
    status: u8,
}

/// A request with the device, or a spare one: its frame, its buffers as
/// the queue took them (device-readable: the header, a write's data;
/// device-writable: a read's data, the status), which `pop_used` wants
/// again, and whose it is.
struct Pending {
    frame: NonNull<Frame>,
    inputs: Vec<&'static [u8]>,
    outputs: Vec<&'static mut [u8]>,
    tag: u64,
}

// SAFETY: the frame is this Pending's alone (freed in its drop), and the
// buffers are memory the device may use from any pCPU; HostBlk, which holds
// every Pending, is behind a lock.
unsafe impl Send for Pending {}

impl Pending {
    fn new() -> Pending {
        let frame = Box::new(Frame {
            header: [0; 16],
            status: 0,
        });
        Pending {
            frame: NonNull::from(Box::leak(frame)),
            inputs: Vec::new(),
            outputs: Vec::new(),
            tag: 0,
        }
    }

    /// Makes it request `kind` at `sector` with `data` (direct-map
    /// addresses and lengths), tagged `tag`.
    ///
    /// # Safety
    /// It must hold no buffers (new, or [`Pending::clear`]ed), and the data
    /// buffers must stay valid, used by nothing but the device, until it is
    /// cleared again.
    unsafe fn fill(
        &mut self,
        kind: u32,
        sector: u64,
        data: impl Iterator<Item = (u64, u32)>,
        tag: u64,
    ) {
        let mut header = [0u8; 16];
        header[..4].copy_from_slice(&kind.to_le_bytes());
        header[8..].copy_from_slice(&sector.to_le_bytes());
        let frame = self.frame.as_ptr();
        let write = kind == T_OUT;
        // SAFETY: the frame is this Pending's and no slice of it is left
        // (the caller's promise), so it may be written, then lent to the
        // device until the next clear; the data as the caller promises.
        unsafe {
            core::ptr::addr_of_mut!((*frame).header).write(header);
            core::ptr::addr_of_mut!((*frame).status).write(0xff);
            self.inputs
                .push(&*core::ptr::addr_of!((*frame).header).cast::<[u8; 16]>());
            for (va, len) in data {
                let buf = core::slice::from_raw_parts_mut(va as *mut u8, len as usize);
                if write {
                    self.inputs.push(buf);
                } else {
                    self.outputs.push(buf);
                }
            }
            self.outputs.push(core::slice::from_raw_parts_mut(
                core::ptr::addr_of_mut!((*frame).status),
                1,
            ));
        }
        self.tag = tag;
    }

    /// The status byte, as the device left it (the last output).
    fn status(&self) -> u8 {
        self.outputs.last().map_or(0xff, |s| s[0])
    }

    /// Lets go of its buffers, for the next request.
    fn clear(&mut self) {
        self.inputs.clear();
        self.outputs.clear();
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // SAFETY: made by Box::leak in `new`, freed once, here; a Pending
        // is dropped only back from the device (HostBlk is never dropped).
        drop(unsafe { Box::from_raw(self.frame.as_ptr()) });
    }
}

/// A request's writable buffers as `pop_used` wants them: the list and the
/// buffers borrowed for one lifetime, which for a list of 'static buffers
/// kept in the request could only be 'static. The buffers get the
/// borrow's lifetime instead.
fn for_the_call<'a>(list: &'a mut [&'static mut [u8]]) -> &'a mut [&'a mut [u8]] {
    let (at, len) = (list.as_mut_ptr(), list.len());
    // SAFETY: the same list, borrowed as long as `list`. Its buffers'
    // lifetime shrinks, which a `&mut` list does not allow by itself,
    // since the borrower could put shorter-lived buffers into it; the one
    // borrower, `pop_used`, only reads the list (each buffer goes to
    // `HostHal::unshare`, which does nothing).
    unsafe { &mut *core::ptr::slice_from_raw_parts_mut(at.cast::<&'a mut [u8]>(), len) }
}

/// Why [`submit`] took no request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The ring has no room for its buffers now: try again once requests
    /// are back.
    Full,
    /// It cannot be sent at all.
    Failed(&'static str),
}

static DISK: Mutex<Option<HostBlk>> = Mutex::new(None);
static CAPACITY: Mutex<Option<u64>> = Mutex::new(None);
static INTID: AtomicU32 = AtomicU32::new(0);

/// Size of the host disk in bytes, if there is one.
pub fn capacity() -> Option<u64> {
    *CAPACITY.lock()
}

/// Take the first block device among the host's virtio-mmio transports
/// (mapped by [`virtio_mmio::map`]). Returns its size in bytes.
pub fn probe(transports: &[HostVirtio]) -> Option<u64> {
    for (transport, t) in virtio_mmio::find(transports, DeviceType::Block) {
        match HostBlk::new(transport) {
            Ok(blk) => {
                let bytes = blk.capacity * SECTOR_SIZE;
                log::info!(
                    "host disk: virtio-blk at {:#x}, {} MiB",
                    t.region.base,
                    bytes >> 20
                );
                *DISK.lock() = Some(blk);
                *CAPACITY.lock() = Some(bytes);
                INTID.store(t.intid.unwrap_or(0), Ordering::Relaxed);
                return Some(bytes);
            }
            Err(e) => log::warn!("host disk at {:#x}: {e}", t.region.base),
        }
    }
    None
}

impl HostBlk {
    fn new(mut transport: MmioTransport<'static>) -> Result<HostBlk, &'static str> {
        // VERSION_1 where the transport is a modern one (QEMU's virtio-mmio
        // is legacy unless told otherwise; the crate drives both).
        let features = transport.begin_init(Features::VERSION_1 | Features::FLUSH);
        if transport.max_queue_size(0) < QUEUE_SIZE as u32 {
            return Err("its queue holds fewer than 256 descriptors");
        }
        // virtio_blk_config: capacity (le64) first.
        let capacity = transport
            .read_consistent(|| {
                let low: u32 = transport.read_config_space(0)?;
                let high: u32 = transport.read_config_space(4)?;
                Ok(u64::from(low) | u64::from(high) << 32)
            })
            .map_err(|_| "cannot read its configuration")?;
        let queue = VirtQueue::new(&mut transport, 0, false, false)
            .map_err(|_| "cannot set up its queue")?;
        transport.finish_init();
        Ok(HostBlk {
            transport,
            queue,
            capacity,
            flush: features.contains(Features::FLUSH),
            with_device: (0..QUEUE_SIZE).map(|_| None).collect(),
            spare: Vec::new(),
            done: Vec::new(),
        })
    }

    /// Queues a request (header `kind`, `sector`; then `data`, device-
    /// readable for a write and device-writable otherwise; then the status
    /// byte) and notifies the device. `tag` names it in [`Self::reap`].
    ///
    /// # Safety
    /// The data buffers must stay valid, and untouched by Aerie, until the
    /// device has returned the request ([`Self::reap`]).
    unsafe fn submit(
        &mut self,
        kind: u32,
        sector: u64,
        data: impl ExactSizeIterator<Item = (u64, u32)>,
        tag: u64,
    ) -> Result<(), Refused> {
        if data.len() + 2 > QUEUE_SIZE {
            return Err(Refused::Failed(
                "more buffers than the host disk's ring holds",
            ));
        }
        if self.queue.available_desc() < data.len() + 2 {
            return Err(Refused::Full);
        }
        let mut pending = self.spare.pop().unwrap_or_else(Pending::new);
        // SAFETY: spares are cleared; the data as the caller promises,
        // and the request stays in `with_device` until `reap` has it back
        // from the device and clears it.
        let token = unsafe {
            pending.fill(kind, sector, data, tag);
            self.queue.add(&pending.inputs, &mut pending.outputs)
        };
        let Ok(token) = token else {
            pending.clear();
            self.spare.push(pending);
            return Err(Refused::Failed("the host disk's queue refused the request"));
        };
        self.with_device[usize::from(token)] = Some(pending);
        if self.queue.should_notify() {
            self.transport.notify(0);
        }
        Ok(())
    }

    /// Takes back every request the device has returned into `done`.
    fn reap(&mut self) {
        while let Some(token) = self.queue.peek_used() {
            let Some(mut pending) = self
                .with_device
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                // Nothing of Aerie's: the device is broken. Its ring stays
                // as it is (popping needs the request's buffers).
                log::error!("host disk: the device returned unknown request {token}");
                return;
            };
            // SAFETY: the buffers `submit` queued under this token.
            let popped = unsafe {
                let outputs = for_the_call(&mut pending.outputs);
                self.queue.pop_used(token, &pending.inputs, outputs)
            };
            let outcome = match (popped, pending.status()) {
                (Err(_), _) => Err("the host disk returned the request malformed"),
                (Ok(_), S_OK) => Ok(()),
                (Ok(_), _) => Err("the host disk failed the request"),
            };
            self.done.push((pending.tag, outcome));
            pending.clear();
            self.spare.push(pending);
        }
    }

    /// Sends Aerie's own request and waits for it (requests of VMs the
    /// device returns meanwhile wait in `done` for their owners).
    ///
    /// # Safety
    /// As for [`Self::submit`], until this returns.
    unsafe fn request(
        &mut self,
        kind: u32,
        sector: u64,
        data: &[(u64, u32)],
    ) -> Result<(), &'static str> {
        let me = crate::sched::this_cpu();
        loop {
            // SAFETY: passed on from the caller.
            match unsafe { self.submit(kind, sector, data.iter().copied(), OWN) } {
                Ok(()) => break,
                Err(Refused::Full) => self.wait(me),
                Err(Refused::Failed(why)) => return Err(why),
            }
        }
        loop {
            if let Some(at) = self.done.iter().position(|&(tag, _)| tag == OWN) {
                return self.done.remove(at).1;
            }
            self.wait(me);
        }
    }

    /// Polls once for returned requests, reporting progress to the
    /// watchdog: waiting for the host disk is this pCPU's work, not a
    /// lock-up.
    fn wait(&mut self, me: usize) {
        crate::irq::watchdog::progress(me);
        core::hint::spin_loop();
        self.reap();
    }
}

/// Aerie's own request `kind` at `sector` with `data`, answered.
///
/// # Safety
/// As for [`HostBlk::submit`], until this returns.
unsafe fn own_request(kind: u32, sector: u64, data: &[(u64, u32)]) -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    // SAFETY: passed on from the caller.
    unsafe { blk.request(kind, sector, data) }
}

/// Read whole sectors starting at `sector` of the host disk.
pub fn read(sector: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    let data = [(buf.as_mut_ptr() as u64, buf.len() as u32)];
    // SAFETY: `buf` is borrowed, and not used, for the whole call.
    unsafe { own_request(T_IN, sector, &data) }
}

/// Write whole sectors starting at `sector` of the host disk.
pub fn write(sector: u64, buf: &[u8]) -> Result<(), &'static str> {
    let data = [(buf.as_ptr() as u64, buf.len() as u32)];
    // SAFETY: as for `read`; the device only reads a write's data.
    unsafe { own_request(T_OUT, sector, &data) }
}

/// Sends `transfer` (sectors of the host disk) straight between the disk
/// and the guest buffers it names, tagged `tag`; the answer comes later,
/// from [`take_done`], once the device's interrupt says so. A flush the
/// device has no use for (no FLUSH: no write cache) is answered at once:
/// `Ok(Some(outcome))`.
///
/// # Safety
/// The buffers must be guest RAM (`VmRam::dma_address`) that stays
/// allocated, and which Aerie does not touch, until [`take_done`] has
/// returned the request (`vm::block` keeps a VM's memory while it has
/// requests with the host disk).
pub unsafe fn submit(
    transfer: &Transfer,
    tag: u64,
) -> Result<Option<Result<(), &'static str>>, Refused> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or(Refused::Failed("no host disk"))?;
    fn guest(bufs: &[DmaBuf]) -> impl ExactSizeIterator<Item = (u64, u32)> + '_ {
        bufs.iter().map(|b| (phys_to_virt(b.addr), b.len))
    }
    // SAFETY: as the caller promises.
    unsafe {
        match transfer {
            Transfer::Read { sector, bufs } => blk.submit(T_IN, *sector, guest(bufs), tag),
            Transfer::Write { sector, bufs } => blk.submit(T_OUT, *sector, guest(bufs), tag),
            Transfer::Flush if !blk.flush => return Ok(Some(Ok(()))),
            Transfer::Flush => blk.submit(T_FLUSH, 0, core::iter::empty(), tag),
        }
    }
    .map(|()| None)
}

/// Moves the requests the device has returned, with their tags and
/// outcomes, to the end of `into` (a list the caller keeps, as the driver
/// keeps its own: no allocation once both are large enough).
pub fn take_done(into: &mut Vec<(u64, Result<(), &'static str>)>) {
    if let Some(blk) = DISK.lock().as_mut() {
        blk.reap();
        into.append(&mut blk.done);
    }
}

/// The device's interrupt: silenced (its requests are taken by
/// [`take_done`]).
pub fn acknowledge() {
    if let Some(blk) = DISK.lock().as_mut() {
        blk.transport.ack_interrupt();
    }
}

/// The device's INTID, 0 without one.
pub fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

/// Make written data durable on the host disk (nothing to do for a device
/// without a write cache to flush: it offers no FLUSH).
pub fn flush() -> Result<(), &'static str> {
    let mut disk = DISK.lock();
    let blk = disk.as_mut().ok_or("no host disk")?;
    if !blk.flush {
        return Ok(());
    }
    // SAFETY: no data.
    unsafe { blk.request(T_FLUSH, 0, &[]) }
}
