extern crate std;
use super::descriptor::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use super::*;
use crate::testutil::{DriverQueue, FakeMemory, DATA, RAM_BASE, RAM_SIZE};
use std::vec::Vec;

fn device_view(q: &DriverQueue) -> Virtqueue {
    Virtqueue {
        size: q.size,
        ready: true,
        desc_table: q.desc,
        avail_ring: q.avail,
        used_ring: q.used,
        ..Virtqueue::default()
    }
}

#[test]
fn descriptor_decodes_virtq_desc_layout() {
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    raw[8..12].copy_from_slice(&0x200u32.to_le_bytes());
    raw[12..14].copy_from_slice(&(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE).to_le_bytes());
    raw[14..].copy_from_slice(&7u16.to_le_bytes());
    let d = Descriptor::from_bytes(&raw);
    assert_eq!(d.addr, 0x1122_3344_5566_7788);
    assert_eq!(d.len, 0x200);
    assert!(d.has_next() && d.is_write_only() && !d.is_indirect());
    assert_eq!(d.next, 7);
}

#[test]
fn empty_ring_pops_nothing() {
    let mut mem = FakeMemory::new();
    let q = DriverQueue::new(0, 8);
    let mut vq = device_view(&q);
    assert_eq!(vq.pop(&mem), Ok(None));
    let _ = &mut mem;
}

#[test]
fn chain_splits_into_readable_and_writable_streams() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    mem.put(DATA, b"hello ");
    mem.put(DATA + 0x100, b"world");
    let head = q.add(
        &mut mem,
        &[
            (DATA, 6, false),
            (DATA + 0x100, 5, false),
            (DATA + 0x200, 3, true),
            (DATA + 0x300, 4, true),
        ],
    );
    let mut vq = device_view(&q);
    let chain = vq.pop(&mem).unwrap().unwrap();
    assert_eq!(chain.head(), head);
    assert_eq!(chain.readable_len(), 11);
    assert_eq!(chain.writable_len(), 7);
    let mut buf = [0u8; 16];
    assert_eq!(chain.read_at(&mem, 0, &mut buf), Ok(11));
    assert_eq!(&buf[..11], b"hello world");
    // An offset inside the second segment, and a read past the end.
    assert_eq!(chain.read_at(&mem, 7, &mut buf[..2]), Ok(2));
    assert_eq!(&buf[..2], b"or");
    // A write straddling the two writable segments.
    assert_eq!(chain.write_at(&mut mem, 1, b"ABCDEFGH"), Ok(6));
    assert_eq!(mem.slice(DATA + 0x200, 3), &[0, b'A', b'B']);
    assert_eq!(mem.slice(DATA + 0x300, 4), b"CDEF");
    assert_eq!(vq.last_avail_idx(), 1);
    assert_eq!(vq.pop(&mem), Ok(None));
}

#[test]
fn push_used_writes_element_then_index() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 4);
    let head = q.add(&mut mem, &[(DATA, 1, true)]);
    let mut vq = device_view(&q);
    let chain = vq.pop(&mem).unwrap().unwrap();
    vq.push_used(&mut mem, chain.head(), 1).unwrap();
    assert_eq!(q.used_idx(&mem), 1);
    assert_eq!(q.used_elem(&mem, 0), (u32::from(head), 1));
}

#[test]
fn unpopped_chains_come_again_and_used_ones_go_back_together() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 4);
    let heads: Vec<u16> = (0..3)
        .map(|i| q.add(&mut mem, &[(DATA + i * 0x100, 8, true)]))
        .collect();
    let mut vq = device_view(&q);
    let first = vq.pop(&mem).unwrap().unwrap();
    let second = vq.pop(&mem).unwrap().unwrap();
    assert_eq!((first.head(), second.head()), (heads[0], heads[1]));
    // Given back: the same two again, in order, then the third.
    vq.unpop(2);
    assert_eq!(vq.last_avail_idx(), 0);
    let again: Vec<u16> = (0..3)
        .map(|_| vq.pop(&mem).unwrap().unwrap().head())
        .collect();
    assert_eq!(again, heads);
    assert_eq!(vq.pop(&mem), Ok(None));
    vq.push_used_all(&mut mem, &[(heads[0], 8), (heads[1], 8), (heads[2], 3)])
        .unwrap();
    assert_eq!(q.used_idx(&mem), 3);
    assert_eq!(vq.used_idx(), 3);
    assert_eq!(q.used_elem(&mem, 2), (u32::from(heads[2]), 3));
    // Across the wrap of a 4-entry used ring.
    for i in 3..5 {
        q.add(&mut mem, &[(DATA + i * 0x100, 8, true)]);
    }
    let a = vq.pop(&mem).unwrap().unwrap().head();
    let b = vq.pop(&mem).unwrap().unwrap().head();
    vq.push_used_all(&mut mem, &[(a, 1), (b, 2)]).unwrap();
    assert_eq!(q.used_idx(&mem), 5);
    assert_eq!(q.used_elem(&mem, 3), (u32::from(a), 1));
    assert_eq!(q.used_elem(&mem, 4), (u32::from(b), 2));
}

#[test]
fn indices_wrap_at_65536() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 4);
    let mut vq = device_view(&q);
    for n in 0..70_000u32 {
        let head = q.add(&mut mem, &[(DATA, 1, true)]);
        let chain = vq.pop(&mem).unwrap().expect("entry available");
        assert_eq!(chain.head(), head);
        vq.push_used(&mut mem, head, n).unwrap();
    }
    assert_eq!(vq.used_idx(), (70_000u32 % 65_536) as u16);
    assert_eq!(q.used_idx(&mem), vq.used_idx());
    assert_eq!(q.used_elem(&mem, vq.used_idx().wrapping_sub(1)).1, 69_999);
}

#[test]
fn descriptor_loop_is_bounded_by_queue_size() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    q.set_desc(&mut mem, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
    q.set_desc(&mut mem, 1, DATA, 4, VIRTQ_DESC_F_NEXT, 0);
    q.publish(&mut mem, 0);
    let mut vq = device_view(&q);
    assert_eq!(vq.pop(&mem), Err(QueueError::ChainTooLong { head: 0 }));
}

#[test]
fn out_of_table_indices_are_refused() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    q.set_desc(&mut mem, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 8);
    q.publish(&mut mem, 0);
    let mut vq = device_view(&q);
    assert_eq!(
        vq.pop(&mem),
        Err(QueueError::DescriptorIndex { index: 8, size: 8 })
    );
    // A head index past the table, too.
    let mut q = DriverQueue::new(1, 8);
    q.publish(&mut mem, 100);
    let mut vq = device_view(&q);
    assert_eq!(
        vq.pop(&mem),
        Err(QueueError::DescriptorIndex {
            index: 100,
            size: 8
        })
    );
}

#[test]
fn readable_after_writable_is_refused() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    q.add(&mut mem, &[(DATA, 4, true), (DATA + 8, 4, false)]);
    let mut vq = device_view(&q);
    assert_eq!(
        vq.pop(&mem),
        Err(QueueError::ReadableAfterWritable { head: 0 })
    );
}

#[test]
fn indirect_descriptor_is_refused_since_not_offered() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    q.set_desc(&mut mem, 0, DATA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    q.publish(&mut mem, 0);
    let mut vq = device_view(&q);
    assert_eq!(
        vq.pop(&mem),
        Err(QueueError::IndirectNotNegotiated { head: 0 })
    );
}

#[test]
fn lengths_that_overflow_are_refused() {
    let mut mem = FakeMemory::new();
    let mut q = DriverQueue::new(0, 8);
    q.add(&mut mem, &[(DATA, u32::MAX, false), (DATA, 1, false)]);
    q.add(&mut mem, &[(u64::MAX - 2, 8, false)]);
    let mut vq = device_view(&q);
    assert_eq!(vq.pop(&mem), Err(QueueError::BadLength { head: 0 }));
    let mut vq2 = device_view(&q);
    vq2.last_avail_idx = 1;
    assert_eq!(vq2.pop(&mem), Err(QueueError::BadLength { head: 2 }));
}

#[test]
fn driver_claiming_more_entries_than_the_queue_holds_is_refused() {
    let mut mem = FakeMemory::new();
    let q = DriverQueue::new(0, 8);
    mem.put(q.avail + 2, &9u16.to_le_bytes());
    let mut vq = device_view(&q);
    assert_eq!(
        vq.pop(&mem),
        Err(QueueError::AvailOverrun {
            avail_idx: 9,
            last_avail_idx: 0,
            size: 8
        })
    );
}

#[test]
fn rings_outside_guest_ram_are_memory_errors() {
    let mem = FakeMemory::new();
    let mut vq = Virtqueue {
        size: 8,
        ready: true,
        desc_table: 0,
        avail_ring: RAM_BASE + RAM_SIZE as u64,
        used_ring: 0,
        ..Virtqueue::default()
    };
    assert!(matches!(vq.pop(&mem), Err(QueueError::Memory(_))));
}

#[test]
fn interrupt_suppression_follows_avail_flags() {
    let mut mem = FakeMemory::new();
    let q = DriverQueue::new(0, 8);
    let vq = device_view(&q);
    assert_eq!(vq.wants_interrupt(&mem), Ok(true));
    mem.put(q.avail, &VIRTQ_AVAIL_F_NO_INTERRUPT.to_le_bytes());
    assert_eq!(vq.wants_interrupt(&mem), Ok(false));
}

#[test]
fn config_validity_follows_split_ring_rules() {
    let ok = Virtqueue {
        size: 128,
        desc_table: 0x4000_0000,
        avail_ring: 0x4000_0802,
        used_ring: 0x4000_1004,
        ..Virtqueue::default()
    };
    assert!(ok.config_valid(256));
    assert!(!ok.config_valid(64), "larger than QueueNumMax");
    assert!(!Virtqueue {
        size: 0,
        ..ok.clone()
    }
    .config_valid(256));
    assert!(!Virtqueue {
        size: 96,
        ..ok.clone()
    }
    .config_valid(256));
    assert!(!Virtqueue {
        desc_table: 0x4000_0008,
        ..ok.clone()
    }
    .config_valid(256));
    assert!(!Virtqueue {
        avail_ring: 0x4000_0801,
        ..ok.clone()
    }
    .config_valid(256));
    assert!(!Virtqueue {
        used_ring: 0x4000_1002,
        ..ok.clone()
    }
    .config_valid(256));
}
