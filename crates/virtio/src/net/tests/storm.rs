//! A guest driver gone wrong while the host keeps sending: seeded
//! pseudo-random descriptor tables, ring indices, transmit headers and
//! frame lengths on both queues, interleaved with frames delivered from the
//! host. Aerie runs this device model in EL2 on the guest's behalf, so
//! whatever the rings hold it must not panic, must only hand the hypervisor
//! frames of a length it accepts, must keep the backlog and the outbox
//! bounded, and must recover after the driver resets the device.

use super::*;
use crate::testutil::storm as ring;
use aerie_testrng::Rng;

/// A buffer length: a header and a frame, a receive buffer, a few bytes,
/// or anything.
fn length(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => (HEADER_LEN + FRAME_MIN) as u32 + rng.below(FRAME_MAX as u64) as u32,
        1 => RX_BUF,
        2 => rng.below(40) as u32,
        _ => rng.next_u64() as u32,
    }
}

/// A frame length: mostly one the device passes on, sometimes not.
fn frame_len(rng: &mut Rng) -> usize {
    if rng.chance(90) {
        FRAME_MIN + rng.below((FRAME_MAX - FRAME_MIN + 1) as u64) as usize
    } else {
        rng.below(2 * FRAME_MAX as u64) as usize
    }
}

/// Scribbles over part of a ring the way a broken driver might.
fn scribble(rng: &mut Rng, q: &mut DriverQueue, mem: &mut FakeMemory) {
    ring::scribble_descriptors(rng, q, mem, length);
    ring::scribble_avail(rng, q, mem);
}

/// A chain shaped the way Linux builds one for the queue, with header
/// fields, lengths and the split into descriptors drawn at random.
fn plausible(rng: &mut Rng, q: &mut DriverQueue, mem: &mut FakeMemory) {
    let at = DATA + 0x1000 * rng.below(32);
    if q.index as usize == RECEIVEQ {
        let len = if rng.chance(80) {
            RX_BUF
        } else {
            rng.below(u64::from(RX_BUF)) as u32
        };
        q.add(mem, &[(at, len, rng.chance(98))]);
        return;
    }
    let (header, body) = match rng.below(10) {
        0 => (tx_header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0), None),
        1 => (tx_header(rng.next_u64() as u8, rng.next_u64() as u8), None),
        2 => {
            let (h, f) = tso(rng);
            (h, Some(f))
        }
        _ => (tx_header(0, 0), None),
    };
    let body = body.unwrap_or_else(|| frame(frame_len(rng), rng.next_u64() as u8));
    let len = body.len();
    mem.put(at, &header);
    mem.put(at + HEADER_LEN as u64, &body);
    let total = (HEADER_LEN + len) as u32;
    if rng.chance(50) || total == 0 {
        q.add(mem, &[(at, total, false)]);
    } else {
        let split = rng.below(u64::from(total)) as u32;
        q.add(
            mem,
            &[
                (at, split, false),
                (at + u64::from(split), total - split, rng.chance(2)),
            ],
        );
    }
}

/// A TCP/IPv4 packet for segmentation with its header, sizes drawn at
/// random: mostly one a driver that took HOST_TSO4 may send, sometimes one
/// with segments too large or a checksum field out of place.
fn tso(rng: &mut Rng) -> ([u8; HEADER_LEN], Vec<u8>) {
    let payload = rng.below(30_000) as usize;
    let f = crate::net::offload::tests::tcp_frame(
        &frame(payload, rng.next_u64() as u8),
        0x18,
        rng.chance(20),
    );
    let mut h = tx_header(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4);
    h[4..6].copy_from_slice(&(rng.below(1600) as u16).to_le_bytes());
    h[6..8].copy_from_slice(&(rng.below(60) as u16).to_le_bytes());
    h[8..10].copy_from_slice(&(rng.below(20) as u16).to_le_bytes());
    (h, f)
}

/// A packet the host delivers: a whole frame, or a TSO packet a sender's
/// card accepted (checked as a sending card checks it).
fn inbound(rng: &mut Rng) -> Packet {
    if rng.chance(15) {
        let (h, f) = tso(rng);
        let all = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4;
        if let Some(offload) = Offload::parse(&h, all, &f) {
            return Packet { frame: f, offload };
        }
    }
    whole(&frame(frame_len(rng), rng.next_u64() as u8))
}

/// Reset the device and probe it again with zeroed rings, as Linux does on
/// NEEDS_RESET (its new vring memory is zeroed).
fn reset_and_probe(t: &mut Net, mem: &mut FakeMemory) -> Vec<DriverQueue> {
    let _ = wr(t, mem, regs::STATUS, 0);
    for q in [DriverQueue::new(0, 16), DriverQueue::new(1, 16)] {
        mem.put(q.desc, &[0; 0xc000]);
    }
    let qs = bring_up(t, mem, &[16, 16]);
    assert_eq!(t.status() & DEVICE_NEEDS_RESET, 0);
    qs
}

/// Takes the outbox and checks every packet in it: a whole frame of a
/// length the switch passes on, or an offloaded packet that finishes into
/// such frames. Returns how many were offloaded.
fn check_outbox(t: &mut Net) -> usize {
    let out = t.device_mut().take_outbound();
    assert!(out.len() <= OUTBOX_FRAMES);
    let mut offloaded = 0;
    for p in out {
        if p.offload == Offload::default() {
            assert!(
                (FRAME_MIN..=FRAME_MAX).contains(&p.frame.len()),
                "{}",
                p.frame.len()
            );
        } else {
            offloaded += 1;
            assert!(p.frame.len() <= crate::net::offload::GSO_FRAME_MAX);
            finish(&p, |f| {
                assert!((FRAME_MIN..=FRAME_MAX).contains(&f.len()), "{}", f.len())
            });
        }
    }
    offloaded
}

#[test]
fn a_storm_of_broken_rings_never_panics_and_recovers_after_reset() {
    for seed in [0x0e7_0001, 0x0e7_0002, 0x0e7_0003] {
        let mut rng = Rng::new(seed);
        let (mut t, mut mem, mut qs) = net();
        let (mut faults, mut resets, mut offloaded) = (0u32, 0u32, 0);
        for _ in 0..4000 {
            let q = rng.below(2) as usize;
            if rng.chance(70) {
                plausible(&mut rng, &mut qs[q], &mut mem);
            } else {
                scribble(&mut rng, &mut qs[q], &mut mem);
            }
            let n = if rng.chance(30) {
                t.deliver(&inbound(&mut rng), &mut mem)
            } else {
                qs[q].notify(&mut t, &mut mem)
            };
            faults += u32::from(n.fault.is_some());
            assert!(t.device().pending_inbound() <= BACKLOG_FRAMES);
            if rng.chance(20) {
                offloaded += check_outbox(&mut t);
            }
            if t.status() & DEVICE_NEEDS_RESET != 0 || rng.chance(1) {
                qs = reset_and_probe(&mut t, &mut mem);
                resets += 1;
            }
        }
        offloaded += check_outbox(&mut t);
        assert!(offloaded > 0, "seed {seed:#x}: no TSO packet went out");
        let s = t.device().stats();
        assert!(faults > 0, "seed {seed:#x}: the storm never broke a ring");
        assert!(resets > 0);
        assert!(s.tx_frames > 100, "seed {seed:#x}: {s:?}");
        assert!(s.rx_frames > 100, "seed {seed:#x}: {s:?}");
        assert!(
            s.tx_dropped > 0 && s.rx_dropped > 0,
            "seed {seed:#x}: {s:?}"
        );
        // A reset device serves a well-formed driver again.
        let mut qs = reset_and_probe(&mut t, &mut mem);
        let f = frame(60, 0x42);
        post_tx(&mut qs, &mut mem, &f);
        let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
        assert_eq!(outbound(&mut t), core::slice::from_ref(&f));
        qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x1000, RX_BUF, true)]);
        assert!(t.deliver(&whole(&f), &mut mem).raise_irq, "seed {seed:#x}");
        assert_eq!(mem.slice(DATA + 0x1000 + HEADER_LEN as u64, 60), f);
    }
}
