//! The virtio-mmio transport, version 2 register layout (virtio 1.2 section
//! 4.2). One [`MmioTransport`] is one 0x200-byte window in the guest's
//! physical address space; the hypervisor routes trapped accesses to
//! [`MmioTransport::read`] and [`MmioTransport::write`].
//!
//! Access rules (spec 4.2.2.2): control registers (0x000..0x100) only as
//! aligned 32-bit accesses; the configuration space (0x100..) with 8-, 16-
//! or 32-bit naturally aligned accesses. Anything else is refused with
//! [`MmioError`]. Registers that exist but are write-only read as zero,
//! writes to read-only or unassigned offsets are ignored, like QEMU does:
//! that keeps a sloppy driver alive instead of faulting it.

mod notify;
pub mod regs;
#[cfg(test)]
mod tests;

pub use notify::{Notify, VirtioFault};

use crate::device::VirtioDevice;
use crate::features::TRANSPORT_FEATURES;
use crate::mem::GuestMemory;
use crate::queue::{QueueError, Virtqueue};
use crate::status::{DEVICE_NEEDS_RESET, DRIVER_OK, FEATURES_OK};
use crate::MmioError;
use alloc::vec::Vec;
use regs::*;

/// Used elements [`MmioTransport::complete`] publishes at a time.
const COMPLETE_BATCH: usize = 16;

/// A virtio device behind its MMIO register window.
#[derive(Debug)]
pub struct MmioTransport<D: VirtioDevice> {
    device: D,
    queues: Vec<Virtqueue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
    /// Counts resets: work the hypervisor took from the device before one
    /// is not completed after it ([`MmioTransport::complete`]).
    generation: u32,
}

impl<D: VirtioDevice> MmioTransport<D> {
    /// Size of the register window the hypervisor must route here.
    pub const MMIO_SIZE: u64 = WINDOW;

    /// Wraps `device`, in the reset state.
    pub fn new(device: D) -> Self {
        let mut queues = Vec::new();
        queues.resize(device.num_queues(), Virtqueue::default());
        MmioTransport {
            device,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
            generation: 0,
        }
    }

    /// The device model.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device model, mutably (e.g. to feed console input).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// Current Status register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// Whether a driver is running the device: it has set FEATURES_OK and
    /// DRIVER_OK, and the device does not need a reset.
    pub fn driver_live(&self) -> bool {
        let live = DRIVER_OK | FEATURES_OK;
        self.status & (live | DEVICE_NEEDS_RESET) == live
    }

    /// Current InterruptStatus register.
    pub fn interrupt_status(&self) -> u32 {
        self.interrupt_status
    }

    /// Whether an interrupt reason is pending, for a hypervisor that models
    /// the line as a level rather than pulsing it.
    pub fn irq_level(&self) -> bool {
        self.interrupt_status != 0
    }

    /// Every feature bit offered: the device's plus the transport's.
    pub fn device_features(&self) -> u64 {
        self.device.features() | TRANSPORT_FEATURES
    }

    /// Feature bits the driver accepted.
    pub fn driver_features(&self) -> u64 {
        self.driver_features
    }

    /// How many resets the device has been through (wrapping): take it with
    /// the work handed to the hypervisor, give it back to
    /// [`complete`](Self::complete).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Queue `index`'s state.
    pub fn queue(&self, index: usize) -> Option<&Virtqueue> {
        self.queues.get(index)
    }

    /// A guest read of `size` bytes at `offset` in the window.
    pub fn read(&mut self, offset: u64, size: u8) -> Result<u32, MmioError> {
        if offset >= CONFIG {
            let at = self.config_access(offset, size)?;
            let mut buf = [0u8; 4];
            self.device.read_config(at, &mut buf[..usize::from(size)]);
            return Ok(u32::from_le_bytes(buf));
        }
        check_control_access(offset, size)?;
        let queue = self.selected_queue();
        Ok(match offset {
            MAGIC_VALUE => MAGIC,
            VERSION => MMIO_VERSION,
            DEVICE_ID => self.device.device_id(),
            VENDOR_ID => AERIE_VENDOR_ID,
            DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            QUEUE_NUM_MAX => match queue {
                Some(i) => u32::from(self.device.queue_max_size(i)),
                None => 0,
            },
            QUEUE_READY => queue.map_or(0, |i| u32::from(self.queues[i].ready)),
            INTERRUPT_STATUS => self.interrupt_status,
            STATUS => self.status,
            // No shared memory regions: the spec says their length reads as
            // all ones ("-1").
            SHM_LEN_LOW | SHM_LEN_HIGH => u32::MAX,
            // The configuration space never changes behind the driver's back.
            CONFIG_GENERATION => 0,
            _ => 0,
        })
    }

    /// A guest write of `size` bytes of `value` at `offset` in the window.
    /// A QueueNotify (or setting DRIVER_OK) processes the queues right away
    /// through `mem`.
    pub fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        mem: &mut dyn GuestMemory,
    ) -> Result<Notify, MmioError> {
        if offset >= CONFIG {
            let at = self.config_access(offset, size)?;
            let bytes = value.to_le_bytes();
            self.device.write_config(at, &bytes[..usize::from(size)]);
            return Ok(Notify::NONE);
        }
        check_control_access(offset, size)?;
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = value,
            DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            DRIVER_FEATURES => self.write_driver_features(value),
            QUEUE_SEL => self.queue_sel = value,
            QUEUE_NUM => self.with_idle_queue(|q| q.size = value as u16),
            QUEUE_DESC_LOW => self.with_idle_queue(|q| set_low(&mut q.desc_table, value)),
            QUEUE_DESC_HIGH => self.with_idle_queue(|q| set_high(&mut q.desc_table, value)),
            QUEUE_DRIVER_LOW => self.with_idle_queue(|q| set_low(&mut q.avail_ring, value)),
            QUEUE_DRIVER_HIGH => self.with_idle_queue(|q| set_high(&mut q.avail_ring, value)),
            QUEUE_DEVICE_LOW => self.with_idle_queue(|q| set_low(&mut q.used_ring, value)),
            QUEUE_DEVICE_HIGH => self.with_idle_queue(|q| set_high(&mut q.used_ring, value)),
            QUEUE_READY => return Ok(self.write_queue_ready(value)),
            QUEUE_NOTIFY => return Ok(self.process_queue(value as usize, mem)),
            INTERRUPT_ACK => self.interrupt_status &= !value,
            STATUS => return Ok(self.write_status(value, mem)),
            _ => {}
        }
        Ok(Notify::NONE)
    }

    /// Processes queue `index` on the device's initiative (e.g. console
    /// input arrived). Does nothing before DRIVER_OK, after
    /// DEVICE_NEEDS_RESET, or for a queue that is not ready.
    pub fn process_queue(&mut self, index: usize, mem: &mut dyn GuestMemory) -> Notify {
        if !self.driver_live() {
            return Notify::NONE;
        }
        let Some(vq) = self.queues.get_mut(index) else {
            return Notify::NONE;
        };
        if !vq.ready {
            return Notify::NONE;
        }
        let result = self
            .device
            .process_queue(index, vq, mem)
            .and_then(|used| Ok(used && vq.wants_interrupt(mem)?));
        self.after_used(index, result)
    }

    /// What queue `index`'s new used buffers ask for: `Ok(true)` when the
    /// driver wants an interrupt for them (InterruptStatus's VRING bit,
    /// pulse the line), an error that the queue is unusable
    /// (DEVICE_NEEDS_RESET).
    fn after_used(&mut self, index: usize, result: Result<bool, QueueError>) -> Notify {
        match result {
            Ok(true) => {
                self.interrupt_status |= INT_VRING;
                Notify {
                    raise_irq: true,
                    fault: None,
                }
            }
            Ok(false) => Notify::NONE,
            Err(error) => self.fail(index, error),
        }
    }

    /// Returns buffers the hypervisor finished outside the device (block
    /// requests, `block::Request`) to queue `index`'s used ring as `(head,
    /// used length)`, all in one batch, and raises the interrupt if the
    /// driver wants one. An entry that failed (its status byte could not be
    /// written) makes the queue unusable: DEVICE_NEEDS_RESET, after the
    /// others are returned. Nothing happens if the device was reset since
    /// the work was taken (`generation`), or the driver is not running it.
    pub fn complete(
        &mut self,
        index: usize,
        generation: u32,
        done: impl IntoIterator<Item = Result<(u16, u32), QueueError>>,
        mem: &mut dyn GuestMemory,
    ) -> Notify {
        if generation != self.generation || !self.driver_live() {
            return Notify::NONE;
        }
        let Some(vq) = self.queues.get_mut(index).filter(|q| q.ready) else {
            return Notify::NONE;
        };
        // Published in batches of a fixed size, so that no list is
        // allocated for them: the driver may see any prefix anyway.
        let mut batch = [(0u16, 0u32); COMPLETE_BATCH];
        let mut n = 0;
        let mut any = false;
        let mut pushed = Ok(());
        let mut failed = None;
        for entry in done {
            match entry {
                Ok(pair) => {
                    batch[n] = pair;
                    n += 1;
                    if n == COMPLETE_BATCH {
                        pushed = pushed.and_then(|()| vq.push_used_all(mem, &batch));
                        (n, any) = (0, true);
                    }
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if n > 0 {
            pushed = pushed.and_then(|()| vq.push_used_all(mem, &batch[..n]));
            any = true;
        }
        let result = if any {
            pushed.and_then(|()| vq.wants_interrupt(mem))
        } else {
            Ok(false)
        };
        match failed {
            Some(e) if result.is_ok() => self.fail(index, e),
            _ => self.after_used(index, result),
        }
    }

    /// Device reset: everything back to its initial value.
    pub fn reset(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.queues.iter_mut().for_each(Virtqueue::reset);
        self.device.reset();
    }

    /// Enters DEVICE_NEEDS_RESET and tells the driver through a
    /// configuration change interrupt (spec 2.1.2).
    fn fail(&mut self, queue: usize, error: QueueError) -> Notify {
        self.status |= DEVICE_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG;
        Notify {
            raise_irq: true,
            fault: Some(VirtioFault {
                queue: queue as u16,
                error,
            }),
        }
    }

    fn write_driver_features(&mut self, value: u32) {
        // Once negotiation is complete the accepted set is fixed.
        if self.status & FEATURES_OK != 0 {
            return;
        }
        let v = u64::from(value);
        match self.driver_features_sel {
            0 => self.driver_features = (self.driver_features & !0xffff_ffff) | v,
            1 => self.driver_features = (self.driver_features & 0xffff_ffff) | (v << 32),
            _ => {}
        }
    }

    /// The driver may only accept what was offered, and must accept
    /// VIRTIO_F_VERSION_1 since only the modern interface exists.
    fn features_acceptable(&self) -> bool {
        self.driver_features & !self.device_features() == 0
            && self.driver_features & TRANSPORT_FEATURES == TRANSPORT_FEATURES
    }

    fn write_status(&mut self, value: u32, mem: &mut dyn GuestMemory) -> Notify {
        if value == 0 {
            self.reset();
            return Notify::NONE;
        }
        let old = self.status;
        // FEATURES_OK sticks only if the features are acceptable; the driver
        // reads it back to learn the verdict. DEVICE_NEEDS_RESET is the
        // device's, so the driver can neither set nor clear it.
        let mut new = value & !(FEATURES_OK | DEVICE_NEEDS_RESET);
        if value & FEATURES_OK != 0 && (old & FEATURES_OK != 0 || self.features_acceptable()) {
            new |= FEATURES_OK;
        }
        new |= old & DEVICE_NEEDS_RESET;
        self.status = new;
        if old & FEATURES_OK == 0 && new & FEATURES_OK != 0 {
            self.device.negotiated(self.driver_features);
        }
        // Buffers made available before DRIVER_OK may not be consumed until
        // now (spec 3.1.1), so look at every queue once.
        let mut notify = Notify::NONE;
        if old & DRIVER_OK == 0 && new & DRIVER_OK != 0 {
            for i in 0..self.queues.len() {
                notify = notify.merge(self.process_queue(i, mem));
            }
        }
        notify
    }

    fn write_queue_ready(&mut self, value: u32) -> Notify {
        let Some(i) = self.selected_queue() else {
            return Notify::NONE;
        };
        if value & 1 == 0 {
            self.queues[i].ready = false;
            return Notify::NONE;
        }
        if self.queues[i].config_valid(self.device.queue_max_size(i)) {
            self.queues[i].ready = true;
            return Notify::NONE;
        }
        let size = self.queues[i].size;
        self.fail(i, QueueError::BadQueueConfig { size })
    }

    /// Applies `f` to the selected queue unless it is enabled: the driver
    /// must not reconfigure a live queue (spec 4.2.3.2), so such writes are
    /// dropped rather than corrupting the device's view.
    fn with_idle_queue(&mut self, f: impl FnOnce(&mut Virtqueue)) {
        if let Some(i) = self.selected_queue() {
            if !self.queues[i].ready {
                f(&mut self.queues[i]);
            }
        }
    }

    fn selected_queue(&self) -> Option<usize> {
        let i = self.queue_sel as usize;
        (i < self.queues.len()).then_some(i)
    }

    /// Checks a configuration space access and returns its offset into the
    /// device's structure.
    fn config_access(&self, offset: u64, size: u8) -> Result<usize, MmioError> {
        if offset >= WINDOW {
            return Err(MmioError::OutOfRange { offset });
        }
        if !matches!(size, 1 | 2 | 4) {
            return Err(MmioError::UnsupportedSize { offset, size });
        }
        if !offset.is_multiple_of(u64::from(size)) {
            return Err(MmioError::Misaligned { offset, size });
        }
        Ok((offset - CONFIG) as usize)
    }
}

fn check_control_access(offset: u64, size: u8) -> Result<(), MmioError> {
    if size != 4 {
        return Err(MmioError::UnsupportedSize { offset, size });
    }
    if !offset.is_multiple_of(4) {
        return Err(MmioError::Misaligned { offset, size });
    }
    Ok(())
}

fn set_low(reg: &mut u64, value: u32) {
    *reg = (*reg & !0xffff_ffff) | u64::from(value);
}

fn set_high(reg: &mut u64, value: u32) {
    *reg = (*reg & 0xffff_ffff) | (u64::from(value) << 32);
}
