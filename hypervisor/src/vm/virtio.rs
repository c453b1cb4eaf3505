//! A VM's virtio-mmio devices: a console, a block device over its region of
//! the host disk, and a network card on Aerie's switch. Transport n sits at
//! 0x0A00_0000 + 0x200 n with SPI 16 + n (INTID 48 + n), as on QEMU `virt`.

use super::GuestMemory as Ram;
use crate::console::GuestOutput;
use crate::drivers::disk;
use aerie_virtio::{
    BlockBackend, BlockDevice, ConsoleDevice, GuestMemory, IoError, MemError, MmioTransport,
    NetDevice, Notify,
};

pub const VIRTIO_BASE: u64 = 0x0a00_0000;
pub const VIRTIO_STRIDE: u64 = 0x200;
pub const VIRTIO_FIRST_INTID: u32 = 48;
const SECTOR: u64 = 512;

/// One transport and the device behind it.
pub enum VirtioSlot {
    Console(MmioTransport<ConsoleDevice<GuestOutput>>),
    Block(MmioTransport<BlockDevice<DiskRegion>>),
    Net(MmioTransport<NetDevice>),
}

impl VirtioSlot {
    pub fn read(&mut self, offset: u64, size: u8) -> Result<u32, aerie_vdev::MmioError> {
        match self {
            VirtioSlot::Console(t) => t.read(offset, size),
            VirtioSlot::Block(t) => t.read(offset, size),
            VirtioSlot::Net(t) => t.read(offset, size),
        }
    }

    pub fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        mem: &mut dyn GuestMemory,
    ) -> Result<Notify, aerie_vdev::MmioError> {
        match self {
            VirtioSlot::Console(t) => t.write(offset, size, value, mem),
            VirtioSlot::Block(t) => t.write(offset, size, value, mem),
            VirtioSlot::Net(t) => t.write(offset, size, value, mem),
        }
    }

    /// The network card behind this transport, if that is what it is.
    pub fn net(&self) -> Option<&MmioTransport<NetDevice>> {
        match self {
            VirtioSlot::Net(t) => Some(t),
            _ => None,
        }
    }

    /// The same, mutably.
    pub fn net_mut(&mut self) -> Option<&mut MmioTransport<NetDevice>> {
        match self {
            VirtioSlot::Net(t) => Some(t),
            _ => None,
        }
    }
}

/// What a device asked for after an access or a delivery on transport
/// `slot` of VM `v`: a guest error is logged (the device is in
/// DEVICE_NEEDS_RESET and the VM carries on), a raised interrupt is pulsed
/// into the vGIC and the vCPUs it concerns are kicked.
pub fn act_on(m: &mut crate::sched::Machine, cpu: usize, v: usize, slot: usize, notify: Notify) {
    let vm = &mut m.vms[v];
    if let Some(fault) = notify.fault {
        log::warn!(
            "vm {}: virtio device {slot} stopped after a guest error: {fault}",
            vm.name
        );
    }
    if notify.raise_irq {
        let kick = vm.vgic.pulse_spi(VIRTIO_FIRST_INTID + slot as u32);
        m.kick(cpu, v, kick);
    }
}

/// A VM's share of the host disk, in sectors. Requests are checked against
/// it by the block device model before they get here; the checks below are
/// a second line.
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

/// Guest RAM as the device models see it: bounds-checked copies.
pub struct VmRam<'a>(pub &'a Ram);

impl GuestMemory for VmRam<'_> {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let va = self.0.host_va(ipa, buf.len() as u64).ok_or(MemError {
            ipa,
            len: buf.len(),
        })?;
        // SAFETY: host_va checked that [ipa, ipa + len) is this VM's RAM,
        // mapped in the direct map; the guest may change it concurrently,
        // which only affects the values read.
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, ipa: u64, buf: &[u8]) -> Result<(), MemError> {
        let va = self.0.host_va(ipa, buf.len() as u64).ok_or(MemError {
            ipa,
            len: buf.len(),
        })?;
        // SAFETY: as for read; the range is guest RAM, never Aerie's memory.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), va as *mut u8, buf.len()) };
        Ok(())
    }
}
