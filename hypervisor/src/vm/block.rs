//! A VM's disks: virtio-blk devices over regions of the host disk, whose
//! requests run without the machine lock.
//!
//! The host disk is slow next to everything else an exit does (an SD card
//! takes milliseconds for a large transfer) and Aerie drives it by polling.
//! Run under the machine lock, every request would stop every other pCPU's
//! exits, and so every VM, until it was done. Instead the device model only
//! takes requests off the queue (under the lock, as any register access);
//! then the pCPU whose vCPU notified the device serves them ([`serve`]):
//! it releases the lock, moves the data between the host disk and guest RAM,
//! and takes the lock again only to hand the buffers back and raise the
//! interrupt. Its own vCPU waits for that, as it would for a slow device
//! register; other pCPUs run on. A request another vCPU adds meanwhile is
//! left to the pCPU already serving the disk, so one disk's requests run
//! one at a time and in order (a flush follows the writes before it).
//! A pCPU serves for a time slice at most: a VM whose vCPUs keep the disk
//! busy would otherwise keep that pCPU from every other vCPU. The exit then
//! lets the scheduler choose, and requests still waiting go to the VM's
//! next tick on any pCPU ([`claim_waiting`]).
//!
//! Guest RAM stays while data moves: memory is freed or reloaded only when
//! none of the VM's vCPUs is on a pCPU (`Vm::settle`), and the serving
//! vCPU is on one until it is done. The driver resetting the device, or
//! disabling its queue, while data moves must not let it reuse the buffers
//! under the transfer: that write waits (the vCPU blocks, and is kicked to
//! make it again when the serving pCPU lets the disk go); completions of requests
//! taken before a reset are dropped (the transport's generation).

use super::virtio::{act_on, VmRam};
use super::Vm;
use crate::arch::aarch64::cpu;
use crate::drivers::disk;
use crate::sched::{self, MachineGuard, MAX_PCPUS, SLICE_MS};
use aerie_vgic::Kick;
use aerie_virtio::mmio::regs::{QUEUE_READY, STATUS};
use aerie_virtio::{BlockBackend, BlockDevice, DmaBuf, IoError, MmioTransport, Op};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use spin::Mutex;

const SECTOR: u64 = 512;

/// Each pCPU's bounce buffer for the disks it serves, kept between exits.
static BOUNCE: [Mutex<Vec<u8>>; MAX_PCPUS] = [const { Mutex::new(Vec::new()) }; MAX_PCPUS];

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

    /// A direct transfer (`BlockBackend::read_direct`, `write_direct`) on
    /// the host disk, its sectors checked against the region.
    fn direct(&mut self, write: bool, sector: u64, bufs: &[DmaBuf]) -> Option<Result<(), IoError>> {
        let bytes = bufs.iter().map(|b| b.len as usize).sum();
        let host = match self.host_sector(sector, bytes) {
            Ok(host) => host,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: `bufs` come from `VmRam::dma_address` of the VM being
        // served, whose RAM stays while it is (see the module's doc).
        let done = unsafe { disk::transfer_direct(write, host, bufs) }?;
        Some(done.map_err(|reason| IoError { sector, reason }))
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

    fn read_direct(&mut self, sector: u64, bufs: &[DmaBuf]) -> Option<Result<(), IoError>> {
        self.direct(false, sector, bufs)
    }

    fn write_direct(&mut self, sector: u64, bufs: &[DmaBuf]) -> Option<Result<(), IoError>> {
        self.direct(true, sector, bufs)
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
    /// vCPUs blocked until it no longer is: their reset or queue disable
    /// waits for the transfer ([`Disk::must_wait`]).
    waiters: Kick,
    pub stats: DiskStats,
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
}

impl Disk {
    pub fn new(region: DiskRegion, serial: &[u8]) -> Disk {
        Disk {
            transport: MmioTransport::new(BlockDevice::new(region, serial)),
            served: false,
            waiters: Kick::NONE,
            stats: DiskStats::default(),
        }
    }

    /// Whether a guest's write of `value` at `offset` must wait: it resets
    /// the device or disables its queue while data may be moving.
    pub fn must_wait(&self, offset: u64, value: u32) -> bool {
        self.served && value == 0 && (offset == STATUS || offset == QUEUE_READY)
    }

    /// vCPU `c` waits (blocked) for the transfer to end, to make its write
    /// again: [`serve`] kicks it then.
    pub fn wait(&mut self, c: usize) {
        self.waiters |= Kick::vcpu(c);
    }

    /// No pCPU serves the disk any more: who was waiting for that.
    fn release(&mut self) -> Kick {
        self.served = false;
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
/// `ServeDisk`) until no request waits, the
/// machine lock released while data moves, or until its turn is over (a
/// time slice): then the rest waits for the VM's next tick, and the
/// returned flag says this exit should let the scheduler choose. Called at
/// the end of an exit's handling; returns the lock again.
#[cold]
#[inline(never)]
pub fn serve(mut guard: MachineGuard, cpu: usize) -> (MachineGuard, bool) {
    let Some((v, n)) = guard.pcpus[cpu].disk_work.take() else {
        return (guard, false);
    };
    let (v, n) = (usize::from(v), usize::from(n));
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

/// Exits handled so far by every pCPU but `cpu`.
fn others_exits(pcpus: &[crate::sched::pcpu::Pcpu], cpu: usize) -> u64 {
    pcpus
        .iter()
        .enumerate()
        .filter(|&(p, _)| p != cpu)
        .fold(0u64, |sum, (_, pcpu)| sum.wrapping_add(pcpu.exits))
}

/// One line per disk of `vm`: what it read and wrote, and how often the
/// machine went on while its data moved.
pub fn summaries(vm: &Vm) -> Vec<String> {
    let per_ms = (cpu::counter_frequency() / 1000).max(1);
    let mut lines = Vec::new();
    for slot in &vm.virtio {
        let super::virtio::VirtioSlot::Block(disk) = slot else {
            continue;
        };
        let region = disk.transport.device().backend();
        let s = disk.stats;
        lines.push(alloc::format!(
            "disk vd{} (host sectors {}..{}): {} reads ({} KiB), {} writes ({} KiB), {} flushes, {} failed; \
             data moved in {} batches without the machine lock, while other pCPUs handled {} exits; \
             {} handed over at a turn's end; the host disk busy {} ms",
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
            s.busy_ticks / per_ms
        ));
    }
    lines
}
