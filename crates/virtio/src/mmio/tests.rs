extern crate std;
use super::*;
use crate::features::VIRTIO_F_VERSION_1;
use crate::queue::VIRTQ_AVAIL_F_NO_INTERRUPT;
use crate::status::*;
use crate::testutil::*;

/// A device that completes every buffer with len 0 and counts them.
#[derive(Default)]
struct Echo {
    completed: usize,
    resets: usize,
}

impl VirtioDevice for Echo {
    fn device_id(&self) -> u32 {
        42
    }
    fn features(&self) -> u64 {
        1 << 3
    }
    fn num_queues(&self) -> usize {
        2
    }
    fn queue_max_size(&self, _queue: usize) -> u16 {
        16
    }
    fn read_config(&self, offset: usize, data: &mut [u8]) {
        crate::device::copy_config(&[1, 2, 3, 4, 5, 6, 7, 8], offset, data);
    }
    fn process_queue(
        &mut self,
        _queue: usize,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        let mut used = false;
        while let Some(c) = vq.pop(mem)? {
            vq.push_used(mem, c.head(), 0)?;
            self.completed += 1;
            used = true;
        }
        Ok(used)
    }
    fn reset(&mut self) {
        self.resets += 1;
    }
}

fn echo() -> (MmioTransport<Echo>, FakeMemory) {
    (MmioTransport::new(Echo::default()), FakeMemory::new())
}

#[test]
fn identity_registers() {
    let (mut t, _) = echo();
    assert_eq!(rd(&mut t, regs::MAGIC_VALUE), 0x7472_6976);
    assert_eq!(rd(&mut t, regs::VERSION), 2);
    assert_eq!(rd(&mut t, regs::DEVICE_ID), 42);
    // "AERI" in little-endian byte order.
    assert_eq!(rd(&mut t, regs::VENDOR_ID), 0x4952_4541);
    assert_eq!(rd(&mut t, regs::CONFIG_GENERATION), 0);
    assert_eq!(rd(&mut t, regs::SHM_LEN_LOW), u32::MAX);
    assert_eq!(rd(&mut t, regs::SHM_LEN_HIGH), u32::MAX);
    assert_eq!(rd(&mut t, regs::STATUS), 0);
}

#[test]
fn device_features_are_paged_by_the_selector() {
    let (mut t, mut mem) = echo();
    assert_eq!(rd(&mut t, regs::DEVICE_FEATURES), 1 << 3);
    let _ = wr(&mut t, &mut mem, regs::DEVICE_FEATURES_SEL, 1);
    assert_eq!(
        rd(&mut t, regs::DEVICE_FEATURES),
        1,
        "VIRTIO_F_VERSION_1 is bit 32"
    );
    let _ = wr(&mut t, &mut mem, regs::DEVICE_FEATURES_SEL, 2);
    assert_eq!(rd(&mut t, regs::DEVICE_FEATURES), 0);
}

#[test]
fn features_ok_sticks_when_version_1_is_accepted() {
    let (mut t, mut mem) = echo();
    let st = negotiate(&mut t, &mut mem, |o| o);
    assert_eq!(st, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    assert_eq!(t.driver_features(), VIRTIO_F_VERSION_1 | 1 << 3);
    // A subset that still has VERSION_1 is fine too.
    let st = negotiate(&mut t, &mut mem, |_| VIRTIO_F_VERSION_1);
    assert_ne!(st & FEATURES_OK, 0);
}

#[test]
fn features_ok_is_refused_without_version_1() {
    let (mut t, mut mem) = echo();
    let st = negotiate(&mut t, &mut mem, |o| o & !VIRTIO_F_VERSION_1);
    assert_eq!(st & FEATURES_OK, 0);
    assert_eq!(st, ACKNOWLEDGE | DRIVER);
}

#[test]
fn features_ok_is_refused_for_bits_not_offered() {
    let (mut t, mut mem) = echo();
    let st = negotiate(&mut t, &mut mem, |o| o | 1 << 5);
    assert_eq!(st & FEATURES_OK, 0);
}

#[test]
fn driver_features_freeze_at_features_ok() {
    let (mut t, mut mem) = echo();
    negotiate(&mut t, &mut mem, |o| o);
    let _ = wr(&mut t, &mut mem, regs::DRIVER_FEATURES_SEL, 0);
    let _ = wr(&mut t, &mut mem, regs::DRIVER_FEATURES, 0);
    assert_eq!(t.driver_features(), VIRTIO_F_VERSION_1 | 1 << 3);
}

#[test]
fn queue_registers_and_nonexistent_queues() {
    let (mut t, mut mem) = echo();
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 16);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 2);
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 0, "queue 2 does not exist");
    assert_eq!(rd(&mut t, regs::QUEUE_READY), 0);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_READY, 1);
    assert_eq!(rd(&mut t, regs::QUEUE_READY), 0);
    assert_eq!(wr(&mut t, &mut mem, regs::QUEUE_NOTIFY, 7), Notify::NONE);
}

#[test]
fn notify_completes_buffers_and_raises_used_buffer_interrupt() {
    let (mut t, mut mem) = echo();
    let mut qs = bring_up(&mut t, &mut mem, &[8, 8]);
    qs[1].add(&mut mem, &[(DATA, 4, false)]);
    qs[1].add(&mut mem, &[(DATA, 4, false)]);
    let n = qs[1].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(n.fault, None);
    assert_eq!(qs[1].used_idx(&mem), 2);
    assert_eq!(qs[1].used_elem(&mem, 1), (1, 0));
    assert_eq!(rd(&mut t, regs::INTERRUPT_STATUS), 1);
    assert!(t.irq_level());
    let _ = wr(&mut t, &mut mem, regs::INTERRUPT_ACK, 1);
    assert_eq!(rd(&mut t, regs::INTERRUPT_STATUS), 0);
    // Nothing new: no interrupt.
    assert_eq!(qs[1].notify(&mut t, &mut mem), Notify::NONE);
}

#[test]
fn no_interrupt_flag_suppresses_the_notification() {
    let (mut t, mut mem) = echo();
    let mut qs = bring_up(&mut t, &mut mem, &[8, 8]);
    mem.put(qs[0].avail, &VIRTQ_AVAIL_F_NO_INTERRUPT.to_le_bytes());
    qs[0].add(&mut mem, &[(DATA, 4, false)]);
    assert_eq!(qs[0].notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(qs[0].used_idx(&mem), 1, "buffer still consumed");
    assert_eq!(rd(&mut t, regs::INTERRUPT_STATUS), 0);
}

#[test]
fn buffers_wait_for_driver_ok() {
    let (mut t, mut mem) = echo();
    negotiate(&mut t, &mut mem, |o| o);
    let mut q = DriverQueue::new(0, 8);
    q.setup(&mut t, &mut mem);
    q.add(&mut mem, &[(DATA, 4, false)]);
    assert_eq!(q.notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(q.used_idx(&mem), 0);
    let n = wr(
        &mut t,
        &mut mem,
        regs::STATUS,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    );
    assert!(n.raise_irq);
    assert_eq!(q.used_idx(&mem), 1);
}

#[test]
fn malformed_queue_sets_needs_reset_and_config_interrupt() {
    let (mut t, mut mem) = echo();
    let mut qs = bring_up(&mut t, &mut mem, &[8, 8]);
    qs[0].set_desc(
        &mut mem,
        0,
        DATA,
        4,
        crate::queue::descriptor::VIRTQ_DESC_F_NEXT,
        0,
    );
    qs[0].publish(&mut mem, 0);
    let n = qs[0].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(
        n.fault,
        Some(VirtioFault {
            queue: 0,
            error: QueueError::ChainTooLong { head: 0 }
        })
    );
    assert_ne!(rd(&mut t, regs::STATUS) & DEVICE_NEEDS_RESET, 0);
    assert_eq!(rd(&mut t, regs::INTERRUPT_STATUS), 2);
    // The driver cannot clear it, and the device stops consuming buffers.
    let all = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    let _ = wr(&mut t, &mut mem, regs::STATUS, all);
    assert_ne!(rd(&mut t, regs::STATUS) & DEVICE_NEEDS_RESET, 0);
    qs[1].add(&mut mem, &[(DATA, 4, false)]);
    assert_eq!(qs[1].notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(qs[1].used_idx(&mem), 0);
    // Reset brings it back.
    let resets = t.device().resets;
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0);
    assert_eq!(rd(&mut t, regs::STATUS), 0);
    assert_eq!(rd(&mut t, regs::INTERRUPT_STATUS), 0);
    assert_eq!(t.device().resets, resets + 1);
}

#[test]
fn reset_disables_queues_and_forgets_features() {
    let (mut t, mut mem) = echo();
    bring_up(&mut t, &mut mem, &[8, 8]);
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0);
    assert_eq!(t.driver_features(), 0);
    for i in 0..2 {
        let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, i);
        assert_eq!(rd(&mut t, regs::QUEUE_READY), 0);
    }
    assert_eq!(t.queue(0), Some(&Virtqueue::default()));
}

#[test]
fn invalid_queue_size_is_not_enabled() {
    let (mut t, mut mem) = echo();
    negotiate(&mut t, &mut mem, |o| o);
    let q = DriverQueue::new(0, 12);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_NUM, 12);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DESC_LOW, q.desc as u32);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DRIVER_LOW, q.avail as u32);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DEVICE_LOW, q.used as u32);
    let n = wr(&mut t, &mut mem, regs::QUEUE_READY, 1);
    assert_eq!(
        n.fault.map(|f| f.error),
        Some(QueueError::BadQueueConfig { size: 12 })
    );
    assert_eq!(rd(&mut t, regs::QUEUE_READY), 0);
    assert_ne!(t.status() & DEVICE_NEEDS_RESET, 0);
}

#[test]
fn live_queue_configuration_is_frozen() {
    let (mut t, mut mem) = echo();
    let qs = bring_up(&mut t, &mut mem, &[8, 8]);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 0);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_NUM, 4);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_DESC_LOW, 0);
    let q = t.queue(0).unwrap();
    assert_eq!((q.size, q.desc_table), (8, qs[0].desc));
}

#[test]
fn access_width_and_alignment_rules() {
    let (mut t, mut mem) = echo();
    assert_eq!(
        t.read(regs::STATUS, 2),
        Err(MmioError::UnsupportedSize {
            offset: regs::STATUS,
            size: 2
        })
    );
    assert_eq!(
        t.read(0x72, 4),
        Err(MmioError::Misaligned {
            offset: 0x72,
            size: 4
        })
    );
    assert_eq!(
        t.write(0x200, 4, 0, &mut mem),
        Err(MmioError::OutOfRange { offset: 0x200 })
    );
    assert_eq!(
        t.read(0x101, 2),
        Err(MmioError::Misaligned {
            offset: 0x101,
            size: 2
        })
    );
    assert_eq!(
        t.read(0x100, 8),
        Err(MmioError::UnsupportedSize {
            offset: 0x100,
            size: 8
        })
    );
    // Config space: byte, halfword and word accesses, little-endian.
    assert_eq!(t.read(0x101, 1), Ok(2));
    assert_eq!(t.read(0x102, 2), Ok(0x0403));
    assert_eq!(t.read(0x104, 4), Ok(0x0807_0605));
    assert_eq!(t.read(0x108, 4), Ok(0), "past the structure reads as zero");
    // Write-only registers read as zero; writes to read-only ones are ignored.
    assert_eq!(rd(&mut t, regs::QUEUE_NOTIFY), 0);
    let _ = wr(&mut t, &mut mem, regs::MAGIC_VALUE, 0);
    assert_eq!(rd(&mut t, regs::MAGIC_VALUE), 0x7472_6976);
}
