//! A VM's virtio-mmio devices: a console, block devices over regions of the
//! host disk (`block.rs`), and a network card on Aerie's switch. Transport n sits at
//! 0x0A00_0000 + 0x200 n with SPI 16 + n (INTID 48 + n), as on QEMU `virt`.

use super::block::Disk;
use super::GuestMemory as Ram;
use crate::console::GuestOutput;
use aerie_virtio::{ConsoleDevice, GuestMemory, MemError, MmioTransport, NetDevice, Notify};

pub const VIRTIO_BASE: u64 = 0x0a00_0000;
pub const VIRTIO_STRIDE: u64 = 0x200;
pub const VIRTIO_FIRST_INTID: u32 = 48;

/// One transport and the device behind it.
pub enum VirtioSlot {
    Console(MmioTransport<ConsoleDevice<GuestOutput>>),
    Block(Disk),
    Net(MmioTransport<NetDevice>),
}

impl VirtioSlot {
    pub fn read(&mut self, offset: u64, size: u8) -> Result<u32, aerie_vdev::MmioError> {
        match self {
            VirtioSlot::Console(t) => t.read(offset, size),
            VirtioSlot::Block(d) => d.transport.read(offset, size),
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
            VirtioSlot::Block(d) => d.transport.write(offset, size, value, mem),
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

    /// The host physical address: a VM's RAM is one physically contiguous
    /// block in the direct map.
    fn dma_address(&self, ipa: u64, len: usize) -> Option<u64> {
        let va = self.0.host_va(ipa, len as u64)?;
        Some(crate::mm::layout::virt_to_phys(va))
    }
}
