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
//!
//! Guest RAM stays while data moves: memory is freed or reloaded only when
//! none of the VM's vCPUs is on a pCPU (`Vm::settle`), and the serving
//! vCPU is on one until it is done. The driver resetting the device, or
//! disabling its queue, while data moves must not let it reuse the buffers
//! under the transfer: that write waits (the vCPU yields and tries it
//! again) until the disk is no longer served; completions of requests
//! taken before a reset are dropped (the transport's generation).

use super::virtio::{act_on, VmRam};
use crate::drivers::disk;
use crate::sched::{self, MachineGuard};
use aerie_virtio::mmio::regs::{QUEUE_READY, STATUS};
use aerie_virtio::{BlockBackend, BlockDevice, IoError, MmioTransport};
use alloc::vec;
use alloc::vec::Vec;

const SECTOR: u64 = 512;

/// A VM's share of the host disk, in sectors. Requests are checked against
/// it by the block device model before they get here; the checks below are
/// a second line.
#[derive(Clone, Copy, Debug)]
pub struct DiskRegion {
    pub first_sector: u64,
    pub sectors: u64,
}

impl DiskRegion {
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
}

impl Disk {
    pub fn new(region: DiskRegion, serial: &[u8]) -> Disk {
        Disk {
            transport: MmioTransport::new(BlockDevice::new(region, serial)),
            served: false,
        }
    }

    /// Whether a guest's write of `value` at `offset` must wait: it resets
    /// the device or disables its queue while data may be moving.
    pub fn must_wait(&self, offset: u64, value: u32) -> bool {
        self.served && value == 0 && (offset == STATUS || offset == QUEUE_READY)
    }

    /// After a guest's access: whether this pCPU must now serve the disk
    /// (requests wait and no pCPU serves them yet). Marks it served if so.
    pub fn claim(&mut self) -> bool {
        let claim = !self.served && self.transport.device().has_requests();
        self.served |= claim;
        claim
    }
}

/// Serve disk `n` of VM `v` on pCPU `cpu` until no request waits, the
/// machine lock released while data moves. Called in an exit, after the
/// access that made this pCPU [`Disk::claim`] it; returns the lock again.
pub fn serve(mut guard: MachineGuard, cpu: usize, v: usize, n: usize) -> MachineGuard {
    let mut bounce = core::mem::take(&mut guard.pcpus[cpu].disk_bounce);
    if bounce.is_empty() {
        bounce = vec![0u8; aerie_virtio::block::BOUNCE_SIZE];
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
            // Stopping or resetting: what it asked for no longer matters.
            disk.served = false;
            break;
        };
        let generation = disk.transport.generation();
        let mut region = *disk.transport.device().backend();
        drop(guard);
        let done: Vec<_> = requests
            .iter()
            .map(|r| r.run(&mut region, &mut VmRam(&ram), &mut bounce))
            .collect();
        guard = sched::lock();
        let m = &mut *guard;
        let vm = &mut m.vms[v];
        for error in done.iter().filter_map(|d| d.error) {
            log::debug!("vm {}: disk {n}: {error}", vm.name);
        }
        let Some(ram) = vm.memory else { continue };
        let Some(super::virtio::VirtioSlot::Block(disk)) = vm.virtio.get_mut(n) else {
            break;
        };
        let used = done.iter().map(|d| d.used.map(|len| (d.head, len)));
        let notify = disk
            .transport
            .complete(0, generation, used, &mut VmRam(&ram));
        act_on(m, cpu, v, n, notify);
    }
    guard.pcpus[cpu].disk_bounce = bounce;
    guard
}
