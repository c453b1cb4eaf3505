//! A VM's disks: virtio-blk devices over regions of the host disk, whose
//! requests run without holding up the machine.
//!
//! The device model takes requests off the queue under the machine lock,
//! as any register access. What happens to them then depends on the host
//! disk (`drivers::disk`):
//!
//! - **A host disk that answers later** (the virtio-blk of QEMU's `virt`):
//!   the requests go to it at once, with the guest's own buffers
//!   ([`submit`]: quick, a few descriptors and a notify), and the vCPU
//!   goes back to its guest. The host disk's interrupt brings them back on
//!   whichever pCPU takes it ([`host_completions`]), which answers them in
//!   the VM's used ring; it is routed to the pCPU holding the vCPU those
//!   answers will interrupt ([`route_answers`]). Requests of several vCPUs and several VMs are
//!   with the host disk together, as many as its ring holds; what does
//!   not fit waits in the device for the next answers.
//! - **A host disk driven by the CPU** (an SD card's PIO): the pCPU whose
//!   vCPU notified the device serves them ([`serve`]): it releases the
//!   lock, moves the data between the host disk and guest RAM, and takes
//!   the lock again only to hand the buffers back and raise the interrupt.
//!   Its own vCPU waits for that, as it would for a slow device register;
//!   other pCPUs run on. A request another vCPU adds meanwhile is left to
//!   the pCPU already serving the disk, so one disk's requests run one at
//!   a time and in order (a flush follows the writes before it). A pCPU
//!   serves for a time slice at most: a VM whose vCPUs keep the disk busy
//!   would otherwise keep that pCPU from every other vCPU. The exit then
//!   lets the scheduler choose, and requests still waiting go to the VM's
//!   next tick on any pCPU ([`claim_waiting`]).
//!
//! Guest RAM stays while data moves: memory is freed or reloaded only when
//! none of the VM's vCPUs is on a pCPU and none of its requests is with
//! the host disk (`Vm::settle`); a serving vCPU is on one until it is done.
//! The driver resetting the device, or disabling its queue, while data
//! moves must not let it reuse the buffers under the transfer: that write
//! waits (the vCPU blocks, and is kicked to make it again once no pCPU
//! serves the disk and no request is with the host disk); answers to
//! requests taken before a reset are dropped (the transport's generation).

use super::virtio::{act_on, VmRam};
use super::Vm;
use crate::arch::aarch64::cpu;
use crate::drivers::disk;
use crate::sched::{self, MachineGuard, MAX_PCPUS, SLICE_MS};
use aerie_vgic::Kick;
use aerie_virtio::mmio::regs::{QUEUE_READY, STATUS};
use aerie_virtio::{
    BlockBackend, BlockDevice, Completion, DmaBuf, IoError, MmioTransport, Op, Request, Transfer,
};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Mutex;

const SECTOR: u64 = 512;

/// Each pCPU's bounce buffer for the disks it serves, kept between exits.
static BOUNCE: [Mutex<Vec<u8>>; MAX_PCPUS] = [const { Mutex::new(Vec::new()) }; MAX_PCPUS];

/// Each pCPU's list of the requests the host disk returned, kept between
/// its interrupts ([`host_completions`]).
type Returned = Vec<(u64, Result<(), &'static str>)>;
static DONE: [Mutex<Returned>; MAX_PCPUS] = [const { Mutex::new(Vec::new()) }; MAX_PCPUS];

/// Disk `n` of VM `v` as `Pcpu::disk_work` holds it (both are small: a
/// machine has a handful of VMs, a VM a handful of transports).
pub fn work(v: usize, n: usize) -> Option<(u16, u16)> {
    Some((u16::try_from(v).ok()?, u16::try_from(n).ok()?))
}

/// A VM's share of the host disk, in sectors. Requests are checked against
/// it by the block device model before they get here; the checks below are
/// a second line.
#[derive(Clone, Copy, Debug)]
pub struct DiskRegion {
    pub first_sector: u64,
    pub sectors: u64,
}

impl DiskRegion {
    /// The host sectors it covers (it holds at least one).
    pub fn host_sectors(&self) -> aerie_partition::Sectors {
        aerie_partition::Sectors {
            first: self.first_sector,
            last: self.first_sector + self.sectors - 1,
        }
    }

    /// `transfer` (region sectors) on the host disk, its sectors checked
    /// against the region.
    fn host_transfer(&self, transfer: Transfer) -> Result<Transfer, IoError> {
        let on_host = |sector: u64, bufs: &[DmaBuf]| {
            let bytes = bufs.iter().map(|b| b.len as usize).sum();
            self.host_sector(sector, bytes)
        };
        Ok(match transfer {
            Transfer::Read { sector, bufs } => Transfer::Read {
                sector: on_host(sector, &bufs)?,
                bufs,
            },
            Transfer::Write { sector, bufs } => Transfer::Write {
                sector: on_host(sector, &bufs)?,
                bufs,
            },
            Transfer::Flush => Transfer::Flush,
        })
    }

    fn host_sector(&self, sector: u64, len: usize) -> Result<u64, IoError> {
        let count = (len as u64).div_ceil(SECTOR);
        if sector
            .checked_add(count)
            .is_none_or(|end| end > self.sectors)
        {
            return Err(IoError {
                sector,
                reason: "outside the VM's disk region",
            });
        }
        Ok(self.first_sector + sector)
    }
}

impl BlockBackend for DiskRegion {
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let host = self.host_sector(sector, buf.len())?;
        disk::read(host, buf).map_err(|reason| IoError { sector, reason })
    }

    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
        let host = self.host_sector(sector, buf.len())?;
        disk::write(host, buf).map_err(|reason| IoError { sector, reason })
    }

    fn flush(&mut self) -> Result<(), IoError> {
        disk::flush().map_err(|reason| IoError { sector: 0, reason })
    }

    fn capacity_sectors(&self) -> u64 {
        self.sectors
    }
}

/// One of a VM's disks behind its virtio-mmio transport.
pub struct Disk {
    pub transport: MmioTransport<BlockDevice<DiskRegion>>,
    /// A pCPU is serving this disk's requests ([`serve`]).
    pub served: bool,
    /// vCPUs blocked until it no longer is, and no request is with the
    /// host disk: their reset or queue disable waits for the transfers
    /// ([`Disk::must_wait`]).
    waiters: Kick,
    /// Requests with a host disk that answers later ([`submit`]), by the
    /// number in their tag.
    with_host: Vec<WithHost>,
    next_id: u32,
    /// Since when requests have been with the host disk: the counter and
    /// every pCPU's exits then.
    busy_since: Option<(u64, u64)>,
    pub stats: DiskStats,
}

/// A request with the host disk: its number, itself, and the transport's
/// generation when it was taken (a reset since drops its answer).
struct WithHost {
    id: u32,
    request: Request,
    generation: u32,
}

/// What a disk did, for its VM's stop and `Ctrl-A d`.
#[derive(Clone, Copy, Default, Debug)]
pub struct DiskStats {
    pub reads: u64,
    pub read_bytes: u64,
    pub writes: u64,
    pub written_bytes: u64,
    pub flushes: u64,
    /// Requests the host disk failed.
    pub errors: u64,
    /// Times data moved with the machine lock released (a batch of the
    /// requests waiting), and the exits other pCPUs handled meanwhile: the
    /// machine going on while this disk worked.
    pub batches: u64,
    pub exits_beside: u64,
    /// Times a pCPU's turn ended with requests still waiting.
    pub handovers: u64,
    /// Counter ticks the host disk spent on this disk's batches.
    pub busy_ticks: u64,
    /// Times requests waited in the device for room on the host disk's
    /// ring (it answers later, and other requests filled it).
    pub no_room: u64,
    /// Answers of the host disk taken by the pCPU that held the vCPU the
    /// guest routes the disk's interrupt to, by another pCPU while one
    /// held it (which then had to be kicked), and with that vCPU on no
    /// pCPU (any may run it).
    pub answers_at_vcpu: u64,
    pub answers_across: u64,
    pub answers_unheld: u64,
}

impl Disk {
    pub fn new(region: DiskRegion, serial: &[u8]) -> Disk {
        Disk {
            transport: MmioTransport::new(BlockDevice::new(region, serial)),
            served: false,
            waiters: Kick::NONE,
            with_host: Vec::new(),
            next_id: 0,
            busy_since: None,
            stats: DiskStats::default(),
        }
    }

    /// Whether a guest's write of `value` at `offset` must wait: it resets
    /// the device or disables its queue while data may be moving.
    pub fn must_wait(&self, offset: u64, value: u32) -> bool {
        self.busy() && value == 0 && (offset == STATUS || offset == QUEUE_READY)
    }

    /// Data may be moving: a pCPU serves it, or requests are with the
    /// host disk.
    fn busy(&self) -> bool {
        self.served || !self.with_host.is_empty()
    }

    /// How many requests are with the host disk (the VM's memory must
    /// stay while any is).
    pub fn requests_with_host(&self) -> usize {
        self.with_host.len()
    }

    /// vCPU `c` waits (blocked) for the transfer to end, to make its write
    /// again: [`serve`] or [`host_completions`] kicks it then
    /// ([`Disk::release`]).
    pub fn wait(&mut self, c: usize) {
        self.waiters |= Kick::vcpu(c);
    }

    /// No pCPU serves the disk any more: who was waiting for that (none
    /// while requests are still with the host disk).
    fn release(&mut self) -> Kick {
        self.served = false;
        if self.busy() {
            return Kick::NONE;
        }
        core::mem::take(&mut self.waiters)
    }

    /// After a guest's access: whether this pCPU must now serve the disk
    /// (requests wait and no pCPU serves them yet). Marks it served if so.
    pub fn claim(&mut self) -> bool {
        let claim = !self.served && self.transport.device().has_requests();
        self.served |= claim;
        claim
    }
}

/// Serve the disk this pCPU claimed (`Pcpu::disk_work`: [`Disk::claim`]
/// in a guest's access, or [`claim_waiting`]; the exit's outcome is then
/// `ServeDisk`). To a host disk that answers later, its requests are sent
/// ([`submit`]). Otherwise this pCPU moves their data, the machine lock
/// released meanwhile, until no request waits or its turn is over (a time
/// slice): then the rest waits for the VM's next tick, and the returned
/// flag says this exit should let the scheduler choose. Called at the end
/// of an exit's handling; returns the lock again.
#[cold]
#[inline(never)]
pub fn serve(mut guard: MachineGuard, cpu: usize) -> (MachineGuard, bool) {
    let Some((v, n)) = guard.pcpus[cpu].disk_work.take() else {
        return (guard, false);
    };
    let (v, n) = (usize::from(v), usize::from(n));
    if disk::answers_later() {
        submit(&mut guard, cpu, v, n);
        return (guard, false);
    }
    let turn_ends = cpu::counter() + cpu::ms_to_ticks(SLICE_MS);
    let mut turn_over = false;
    // Only this pCPU takes its buffer: the lock is never contended.
    let mut bounce = BOUNCE[cpu].lock();
    if bounce.is_empty() {
        *bounce = vec![0u8; aerie_virtio::block::BOUNCE_SIZE];
    }
    loop {
        let m = &mut *guard;
        let vm = &mut m.vms[v];
        let running = vm.running();
        let ram = vm.memory;
        let Some(super::virtio::VirtioSlot::Block(disk)) = vm.virtio.get_mut(n) else {
            break;
        };
        let requests = disk.transport.device_mut().take_requests();
        let (Some(ram), true, false) = (ram, running, requests.is_empty()) else {
            // Done; or stopping or resetting: what it asked for no longer
            // matters.
            let waiters = disk.release();
            m.kick(cpu, v, waiters);
            break;
        };
        let generation = disk.transport.generation();
        let mut region = *disk.transport.device().backend();
        count(&mut disk.stats, &requests);
        let before = others_exits(&m.pcpus, cpu);
        drop(guard);
        let started = cpu::counter();
        let done: Vec<_> = requests
            .iter()
            // The host disk's drivers tell the watchdog this pCPU is not
            // stuck while they wait for the transfer.
            .map(|r| r.run(&mut region, &mut VmRam(&ram), &mut bounce))
            .collect();
        let busy = cpu::counter().wrapping_sub(started);
        guard = sched::lock();
        let m = &mut *guard;
        let beside = others_exits(&m.pcpus, cpu).wrapping_sub(before);
        let vm = &mut m.vms[v];
        for error in done.iter().filter_map(|d| d.error) {
            log::debug!("vm {}: disk {n}: {error}", vm.name);
        }
        let Some(ram) = vm.memory else { continue };
        let Some(super::virtio::VirtioSlot::Block(disk)) = vm.virtio.get_mut(n) else {
            break;
        };
        disk.stats.batches += 1;
        disk.stats.busy_ticks += busy;
        disk.stats.exits_beside += beside;
        disk.stats.errors += done.iter().filter(|d| d.error.is_some()).count() as u64;
        let used = done.iter().map(|d| d.used.map(|len| (d.head, len)));
        let notify = disk
            .transport
            .complete(0, generation, used, &mut VmRam(&ram));
        let more = disk.transport.device().has_requests();
        turn_over = more && cpu::counter() >= turn_ends;
        let mut waiters = Kick::NONE;
        if turn_over {
            waiters = disk.release();
            disk.stats.handovers += 1;
            vm.disk_waiting = true;
        }
        act_on(m, cpu, v, n, notify);
        m.kick(cpu, v, waiters);
        if turn_over {
            break;
        }
    }
    (guard, turn_over)
}

/// The tag of a VM's request with the host disk: VM `v`, disk `n`, request
/// number `id`. (Never all ones: that is Aerie's own requests' tag.)
fn tag(v: usize, n: usize, id: u32) -> u64 {
    (v as u64) << 48 | (n as u64 & 0xffff) << 32 | u64::from(id)
}

fn untag(tag: u64) -> (usize, usize, u32) {
    (
        (tag >> 48) as usize,
        (tag >> 32 & 0xffff) as usize,
        tag as u32,
    )
}

/// Hands VM `v`'s disk `n`'s waiting requests to a host disk that answers
/// later ([`disk::submit`]), under the machine lock (queuing a request is
/// quick: its descriptors and a notify), and lets the vCPU go on. The
/// answers come with the host disk's interrupt ([`host_completions`]).
/// What the host disk has no room for goes back to the device, first, for
/// when requests come back. A request whose buffers are not all guest RAM
/// fails at once, without the host disk.
fn submit(m: &mut crate::sched::Machine, cpu: usize, v: usize, n: usize) {
    let vm = &mut m.vms[v];
    let (running, ram) = (vm.running(), vm.memory);
    let Some(super::virtio::VirtioSlot::Block(disk)) = vm.virtio.get_mut(n) else {
        return;
    };
    let Some(ram) = ram.filter(|_| running) else {
        // Stopping or resetting: what it asked for no longer matters.
        drop(disk.transport.device_mut().take_requests());
        let waiters = disk.release();
        m.kick(cpu, v, waiters);
        return;
    };
    let generation = disk.transport.generation();
    let region = *disk.transport.device().backend();
    disk.stats.batches += 1;
    let mut answered: Vec<Completion> = Vec::new();
    let mut with_host = false;
    while let Some(request) = disk.transport.device_mut().take_request() {
        let sent = match request.transfer(&VmRam(&ram)) {
            Some(transfer) => send(
                &region,
                transfer,
                request.op().sector(),
                tag(v, n, disk.next_id),
            ),
            None => Sent::Unreachable,
        };
        match sent {
            Sent::NoRoom => {
                // Room comes when requests come back (`host_completions`).
                disk.stats.no_room += 1;
                disk.transport.device_mut().put_back(request);
                break;
            }
            Sent::WithHost => {
                with_host = true;
                if disk.busy_since.is_none() {
                    disk.busy_since = Some((cpu::counter(), all_exits(&m.pcpus)));
                }
                count(&mut disk.stats, core::slice::from_ref(&request));
                disk.with_host.push(WithHost {
                    id: disk.next_id,
                    request,
                    generation,
                });
                disk.next_id = disk.next_id.wrapping_add(1);
            }
            Sent::Answered(outcome) => {
                count(&mut disk.stats, core::slice::from_ref(&request));
                answered.push(request.finish(&mut VmRam(&ram), outcome));
            }
            Sent::Unreachable => {
                count(&mut disk.stats, core::slice::from_ref(&request));
                answered.push(request.refuse(&mut VmRam(&ram)));
            }
        }
    }
    disk.served = false;
    let notify = answer(disk, &vm.name, n, generation, &answered, &ram);
    act_on(m, cpu, v, n, notify);
    if with_host {
        route_answers(m, v, n);
    }
}

/// The pCPU the host disk's interrupt goes to (an index of
/// `Machine::pcpus`; the boot pCPU's at first). Changed only under the
/// machine lock.
static ANSWERS_TO: AtomicUsize = AtomicUsize::new(0);

/// Sends the host disk's interrupt to the pCPU that holds the vCPU the
/// guest routes disk `n`'s interrupt to ([`answer_holder`]): the answer to
/// what VM `v` just sent then wakes that pCPU alone, where another would
/// have taken it and kicked this one. A vCPU on no pCPU (in power-down its
/// state is saved at once) leaves the route as it is. Whichever pCPU takes
/// an answer serves it ([`host_completions`]), so one in flight while the
/// route changes is served too.
fn route_answers(m: &mut crate::sched::Machine, v: usize, n: usize) {
    let intid = disk::intid();
    let Some(p) = answer_holder(m, v, n).filter(|_| intid != 0) else {
        return;
    };
    if ANSWERS_TO.swap(p, Ordering::Relaxed) != p {
        m.gic.route_spi(intid, m.pcpus[p].mpidr);
    }
}

/// The pCPU holding (running, or parked with its state loaded) the vCPU
/// VM `v`'s guest routes disk `n`'s interrupt to, its first target if
/// several.
fn answer_holder(m: &crate::sched::Machine, v: usize, n: usize) -> Option<usize> {
    let spi = super::virtio::VIRTIO_FIRST_INTID + n as u32;
    let c = m.vms.get(v)?.vgic.spi_route(spi).iter().next()?;
    m.pcpus.iter().position(|p| p.loaded == Some((v, c)))
}

/// What became of a request [`submit`] offered the host disk.
enum Sent {
    /// Queued: its answer comes with the host disk's interrupt.
    WithHost,
    /// Answered at once: a flush with nothing to flush, or a failure.
    Answered(Result<(), IoError>),
    /// The host disk's ring has no room for it now.
    NoRoom,
    /// A data buffer is not guest RAM: the host disk cannot reach it.
    Unreachable,
}

/// Offers `transfer` (the VM's sectors, from `sector`) to the host disk as
/// `tag`.
fn send(region: &DiskRegion, transfer: Transfer, sector: u64, tag: u64) -> Sent {
    let on_host = match region.host_transfer(transfer) {
        Ok(on_host) => on_host,
        Err(e) => return Sent::Answered(Err(e)),
    };
    // SAFETY: the buffers are this VM's RAM (`VmRam::dma_address`), which
    // stays while it has requests with the host disk (`Vm::settle` waits
    // for `requests_with_host`); Aerie neither reads nor writes them
    // meanwhile.
    match unsafe { disk::submit(&on_host, tag) } {
        Ok(None) => Sent::WithHost,
        Ok(Some(at_once)) => Sent::Answered(at_once.map_err(|reason| IoError { sector, reason })),
        Err(disk::Refused::Full) => Sent::NoRoom,
        Err(disk::Refused::Failed(reason)) => Sent::Answered(Err(IoError { sector, reason })),
    }
}

/// Puts `answered` in disk `n`'s used ring (for the transport as it was at
/// `generation`), counting and logging failures: whether to interrupt.
fn answer(
    disk: &mut Disk,
    vm: &str,
    n: usize,
    generation: u32,
    answered: &[Completion],
    ram: &super::GuestMemory,
) -> aerie_virtio::Notify {
    if answered.is_empty() {
        return aerie_virtio::Notify::NONE;
    }
    for error in answered.iter().filter_map(|d| d.error) {
        log::debug!("vm {vm}: disk {n}: {error}");
        disk.stats.errors += 1;
    }
    let used = answered.iter().map(|d| d.used.map(|len| (d.head, len)));
    disk.transport
        .complete(0, generation, used, &mut VmRam(ram))
}

/// The host disk's interrupt: the requests it returned are answered to
/// their VMs (unless the VM stopped or reset its device since), vCPUs
/// waiting for a disk's transfers to end are woken, and requests that
/// found the host disk's ring full are sent now.
#[cold]
#[inline(never)]
pub fn host_completions(m: &mut crate::sched::Machine, cpu: usize) {
    // Only this pCPU takes its list: the lock is never contended.
    let mut done = DONE[cpu].lock();
    disk::take_done(&mut done);
    for (tag, outcome) in done.drain(..) {
        let (v, n, id) = untag(tag);
        let exits = all_exits(&m.pcpus);
        let holder = answer_holder(m, v, n);
        let Some(vm) = m.vms.get_mut(v) else { continue };
        let (running, ram) = (vm.running(), vm.memory);
        let Some(super::virtio::VirtioSlot::Block(disk)) = vm.virtio.get_mut(n) else {
            continue;
        };
        let Some(at) = disk.with_host.iter().position(|w| w.id == id) else {
            log::warn!(
                "vm {}: disk {n}: the host disk returned a request it did not have",
                vm.name
            );
            continue;
        };
        let done = disk.with_host.swap_remove(at);
        match holder {
            Some(p) if p == cpu => disk.stats.answers_at_vcpu += 1,
            Some(_) => disk.stats.answers_across += 1,
            None => disk.stats.answers_unheld += 1,
        }
        let mut waiters = Kick::NONE;
        if disk.with_host.is_empty() {
            if let Some((since, exits_then)) = disk.busy_since.take() {
                disk.stats.busy_ticks += cpu::counter().wrapping_sub(since);
                disk.stats.exits_beside += exits.wrapping_sub(exits_then);
            }
            waiters = disk.release();
        }
        let notify = match ram.filter(|_| running) {
            Some(ram) => {
                let sector = done.request.op().sector();
                let outcome = outcome.map_err(|reason| IoError { sector, reason });
                let answered = [done.request.finish(&mut VmRam(&ram), outcome)];
                answer(disk, &vm.name, n, done.generation, &answered, &ram)
            }
            None => aerie_virtio::Notify::NONE,
        };
        act_on(m, cpu, v, n, notify);
        m.kick(cpu, v, waiters);
    }
    for v in 0..m.vms.len() {
        for n in 0..m.vms[v].virtio.len() {
            let claimed = match m.vms[v].virtio.get_mut(n) {
                Some(super::virtio::VirtioSlot::Block(disk)) => disk.claim(),
                _ => false,
            };
            if claimed {
                submit(m, cpu, v, n);
            }
        }
    }
}

/// On a tick of pCPU `cpu`, running a vCPU of VM `v` whose `disk_waiting`
/// is set: the first disk whose requests wait with no pCPU serving them
/// becomes this pCPU's to [`serve`] (the flag stays while another waits).
/// Whether there was one.
#[cold]
#[inline(never)]
pub fn claim_waiting(m: &mut crate::sched::Machine, cpu: usize, v: usize) -> bool {
    let vm = &mut m.vms[v];
    let mut claimed = None;
    let mut others = false;
    for (n, slot) in vm.virtio.iter_mut().enumerate() {
        let super::virtio::VirtioSlot::Block(disk) = slot else {
            continue;
        };
        if claimed.is_none() && disk.claim() {
            claimed = Some(n);
        } else if !disk.served && disk.transport.device().has_requests() {
            others = true;
        }
    }
    vm.disk_waiting = others;
    let Some(n) = claimed else { return false };
    m.pcpus[cpu].disk_work = work(v, n);
    true
}

/// Counts a batch of requests in `stats` as it is handed to the host disk.
fn count(stats: &mut DiskStats, requests: &[aerie_virtio::Request]) {
    for r in requests {
        match r.op() {
            Op::Read { len, .. } => {
                stats.reads += 1;
                stats.read_bytes += u64::from(len);
            }
            Op::Write { len, .. } => {
                stats.writes += 1;
                stats.written_bytes += u64::from(len);
            }
            Op::Flush => stats.flushes += 1,
        }
    }
}

/// Exits handled so far by every pCPU.
fn all_exits(pcpus: &[crate::sched::pcpu::Pcpu]) -> u64 {
    pcpus.iter().fold(0u64, |sum, p| sum.wrapping_add(p.exits))
}

/// Exits handled so far by every pCPU but `cpu`.
fn others_exits(pcpus: &[crate::sched::pcpu::Pcpu], cpu: usize) -> u64 {
    all_exits(pcpus).wrapping_sub(pcpus[cpu].exits)
}

/// One line per disk of `vm`: what it read and wrote, and how often the
/// machine went on while its data moved.
pub fn summaries(vm: &Vm) -> Vec<String> {
    let per_ms = (cpu::counter_frequency() / 1000).max(1);
    let later = disk::answers_later();
    // How its batches went, around their number.
    let (how, beside) = if later {
        (
            "sent to the host disk (answered by its interrupt) in",
            "while pCPUs handled",
        )
    } else {
        (
            "data moved in",
            "without the machine lock, while other pCPUs handled",
        )
    };
    let mut lines = Vec::new();
    for slot in &vm.virtio {
        let super::virtio::VirtioSlot::Block(disk) = slot else {
            continue;
        };
        let region = disk.transport.device().backend();
        let s = disk.stats;
        lines.push(alloc::format!(
            "disk vd{} (host sectors {}..{}): {} reads ({} KiB), {} writes ({} KiB), {} flushes, {} failed; \
             {how} {} batches {beside} {} exits; {} handed over at a turn's end; the host disk busy {} ms{}",
            char::from(b'a' + lines.len().min(25) as u8),
            region.first_sector,
            region.first_sector + region.sectors,
            s.reads,
            s.read_bytes / 1024,
            s.writes,
            s.written_bytes / 1024,
            s.flushes,
            s.errors,
            s.batches,
            s.exits_beside,
            s.handovers,
            s.busy_ticks / per_ms,
            if later {
                alloc::format!(
                    ", its ring full {} times; {} answers: {} taken by the pCPU holding the vCPU they interrupt, {} by another, {} with that vCPU on none",
                    s.no_room,
                    s.answers_at_vcpu + s.answers_across + s.answers_unheld,
                    s.answers_at_vcpu,
                    s.answers_across,
                    s.answers_unheld
                )
            } else {
                String::new()
            }
        ));
    }
    lines
}
