//! Host tests, including a two-thread SPSC stress test of the ring.

use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::*;

fn ctx() -> NmiContext {
    // SAFETY: test only: each test uses a ring from a single producer thread,
    // which is the property the real dispatcher's context guarantees.
    unsafe { NmiContext::enter() }
}

#[test]
fn percpu_const_static_and_indexing() {
    static COUNTS: PerCpu<AtomicU64, 4> = PerCpu::new([const { AtomicU64::new(0) }; 4]);
    COUNTS.get(2).fetch_add(5, Ordering::Relaxed);
    assert_eq!(COUNTS.get(2).load(Ordering::Relaxed), 5);
    assert_eq!(COUNTS.get(0).load(Ordering::Relaxed), 0);
    assert_eq!(COUNTS.len(), 4);
    assert!(COUNTS.try_get(4).is_none());
    assert_eq!(
        COUNTS
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>(),
        5
    );
}

#[test]
#[should_panic(expected = "cpu 4 out of range")]
fn percpu_out_of_range_panics_with_context() {
    let p: PerCpu<u8, 4> = PerCpu::new([0; 4]);
    p.get(4);
}

#[test]
fn ring_fifo_then_drops_when_full() {
    let ring: SampleRing<4> = SampleRing::new();
    let c = ctx();
    for v in 10..14 {
        assert!(ring.push(&c, v));
    }
    assert_eq!(ring.len(), 4);
    assert!(!ring.push(&c, 99), "full ring must refuse");
    assert!(!ring.push(&c, 100));
    assert_eq!(ring.dropped(), 2);

    let mut r = ring.reader().unwrap();
    assert_eq!(r.pop(), Some(10));
    // One slot free again: the newest record goes in, the dropped ones stay lost.
    assert!(ring.push(&c, 14));
    let mut got = Vec::new();
    assert_eq!(r.drain(|v| got.push(v)), 4);
    assert_eq!(got, [11, 12, 13, 14]);
    assert_eq!(r.pop(), None);
    assert!(ring.is_empty());
    assert_eq!(ring.dropped(), 2);
}

#[test]
fn ring_wraps_many_times() {
    let ring: SampleRing<8> = SampleRing::new();
    let c = ctx();
    let mut r = ring.reader().unwrap();
    for round in 0..1000u64 {
        for i in 0..5 {
            assert!(ring.push(&c, round * 10 + i));
        }
        for i in 0..5 {
            assert_eq!(r.pop(), Some(round * 10 + i));
        }
    }
    assert_eq!(ring.dropped(), 0);
}

#[test]
fn ring_has_one_reader_at_a_time() {
    let ring: SampleRing<2> = SampleRing::new();
    let first = ring.reader().unwrap();
    assert!(ring.reader().is_none());
    drop(first);
    assert!(ring.reader().is_some());
}

#[test]
fn ring_spsc_stress_no_loss_no_duplicate_in_order() {
    const COUNT: u64 = 1_000_000;
    let ring: Arc<SampleRing<64>> = Arc::new(SampleRing::new());
    let producer = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || {
            let c = ctx();
            let mut accepted = 0u64;
            for v in 0..COUNT {
                // The record is its sequence number. A real pNMI never
                // retries; spinning on full here makes the check exact.
                while !ring.push(&c, v) {
                    std::hint::spin_loop();
                }
                accepted += 1;
            }
            accepted
        })
    };
    let mut reader = ring.reader().unwrap();
    let mut expect = 0u64;
    while expect < COUNT {
        if let Some(v) = reader.pop() {
            assert_eq!(v, expect, "out of order or corrupted record");
            expect += 1;
        } else {
            std::hint::spin_loop();
        }
    }
    assert_eq!(producer.join().unwrap(), COUNT);
    assert_eq!(reader.pop(), None);
}

#[test]
fn ring_stress_with_drops_accounts_for_every_record() {
    const COUNT: u64 = 200_000;
    let ring: Arc<SampleRing<16>> = Arc::new(SampleRing::new());
    let producer = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || {
            let c = ctx();
            (0..COUNT).filter(|&v| ring.push(&c, v)).count() as u64
        })
    };
    let mut reader = ring.reader().unwrap();
    let mut received = 0u64;
    let mut last: Option<u64> = None;
    loop {
        let done = producer.is_finished();
        while let Some(v) = reader.pop() {
            assert!(last.is_none_or(|l| v > l), "records must stay in order");
            last = Some(v);
            received += 1;
        }
        if done {
            break;
        }
    }
    let accepted = producer.join().unwrap();
    assert_eq!(received, accepted);
    assert_eq!(accepted + ring.dropped(), COUNT);
}

#[test]
fn topn_counts_and_orders() {
    let mut t: TopN<3, 16> = TopN::new();
    for (key, n) in [(0x4000, 5), (0x4004, 9), (0, 2), (0x8000, 5), (0x10, 1)] {
        for _ in 0..n {
            t.record(key);
        }
    }
    assert_eq!(t.total(), 22);
    assert_eq!(t.distinct(), 5);
    assert_eq!(t.count(0), 2, "key 0 is a valid key");
    assert_eq!(t.count(0x4004), 9);
    assert_eq!(t.count(0x1234), 0);
    // Ties broken by ascending key.
    assert_eq!(t.top().as_slice(), &[(0x4004, 9), (0x4000, 5), (0x8000, 5)]);
}

#[test]
fn topn_fewer_keys_than_n() {
    // The default table size, named in expression position as callers do.
    let mut t = TopN::<10>::new();
    t.add(7, 3);
    t.add(9, 4);
    t.add(11, 0);
    assert_eq!(t.top().as_slice(), &[(9, 4), (7, 3)]);
    assert_eq!(t.distinct(), 2);
    t.clear();
    assert!(t.top().as_slice().is_empty());
    assert_eq!(t.total(), 0);
}

#[test]
fn topn_full_table_counts_untracked() {
    let mut t: TopN<2, 4> = TopN::new();
    for key in 0..4 {
        t.add(key * 0x1000, key + 1);
    }
    t.add(0x9999, 7);
    t.add(0x2000, 10); // already present: still counted
    assert_eq!(t.untracked(), 7);
    assert_eq!(t.distinct(), 4);
    assert_eq!(t.total(), 1 + 2 + 3 + 4 + 7 + 10);
    assert_eq!(t.top().as_slice(), &[(0x2000, 13), (0x3000, 4)]);
}

#[test]
fn topn_matches_naive_count() {
    let mut t: TopN<5, 64> = TopN::new();
    let mut naive = std::collections::HashMap::new();
    let mut x = 12345u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = 0xffff_8000_0000_0000 + (x % 40) * 4;
        t.record(key);
        *naive.entry(key).or_insert(0u64) += 1;
    }
    let mut want: Vec<(u64, u64)> = naive.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    want.truncate(5);
    assert_eq!(t.top().as_slice(), want.as_slice());
    assert_eq!(t.untracked(), 0);
}
