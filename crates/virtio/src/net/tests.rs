extern crate std;
use super::*;
use crate::features::VIRTIO_F_VERSION_1;
use crate::mem::MemError;
use crate::mmio::regs;
use crate::status::*;
use crate::testutil::*;
use core::cell::Cell;
use std::vec::Vec;

const MAC: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// What Linux posts on the receive queue without MRG_RXBUF or big packets:
/// one buffer for a header and the longest frame.
const RX_BUF: u32 = (HEADER_LEN + FRAME_MAX) as u32;

type Net = MmioTransport<NetDevice>;

/// What a driver that takes no offload accepts.
const PLAIN: u64 = VIRTIO_NET_F_MAC | VIRTIO_NET_F_MTU | VIRTIO_F_VERSION_1;

/// A card whose driver takes no offload: every frame whole.
fn net() -> (Net, FakeMemory, Vec<DriverQueue>) {
    net_accepting(PLAIN)
}

/// A card whose driver accepts `features` of those offered.
fn net_accepting(features: u64) -> (Net, FakeMemory, Vec<DriverQueue>) {
    let mut t = MmioTransport::new(NetDevice::new(MAC));
    let mut mem = FakeMemory::new();
    let qs = bring_up_accepting(&mut t, &mut mem, &[16, 16], |offered| offered & features);
    (t, mem, qs)
}

/// A frame of `len` bytes whose contents depend on `seed`, so frames that
/// end up in the wrong place are told apart.
fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

/// A transmit header with the given `flags` and `gso_type`; Linux writes
/// all zeros when nothing was negotiated.
fn tx_header(flags: u8, gso_type: u8) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = flags;
    h[1] = gso_type;
    h
}

/// Puts a zero header and `frame` at DATA and makes them available as one
/// readable descriptor, as Linux does (the header sits in the skb's
/// headroom); returns the head.
fn post_tx(qs: &mut [DriverQueue], mem: &mut FakeMemory, frame: &[u8]) -> u16 {
    mem.put(DATA, &tx_header(0, 0));
    mem.put(DATA + HEADER_LEN as u64, frame);
    let len = (HEADER_LEN + frame.len()) as u32;
    qs[TRANSMITQ].add(mem, &[(DATA, len, false)])
}

/// The frames the guest sent since the last look (their offloads dropped:
/// these tests send whole frames).
fn outbound(t: &mut Net) -> Vec<Vec<u8>> {
    t.device_mut()
        .take_outbound()
        .into_iter()
        .map(|p| p.frame)
        .collect()
}

/// A whole frame to deliver.
fn whole(frame: &[u8]) -> Packet {
    Packet::whole(frame.to_vec())
}

/// The header every received frame must carry: zeros, num_buffers 1.
fn rx_header_expected() -> [u8; HEADER_LEN] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
}

#[test]
fn identity_features_and_config() {
    let mut t = MmioTransport::new(NetDevice::new(MAC));
    let mut mem = FakeMemory::new();
    assert_eq!(rd(&mut t, regs::DEVICE_ID), 1);
    assert_eq!(
        t.device_features(),
        PLAIN
            | VIRTIO_NET_F_MRG_RXBUF
            | VIRTIO_NET_F_CSUM
            | VIRTIO_NET_F_GUEST_CSUM
            | VIRTIO_NET_F_HOST_TSO4
            | VIRTIO_NET_F_GUEST_TSO4,
        "no TSO6, UFO, ECN, STATUS, CTRL_VQ, MQ"
    );
    // Linux reads the MAC a byte at a time (virtio_cread_bytes).
    let mac: Vec<u8> = (0..6)
        .map(|i| t.read(regs::CONFIG + i, 1).unwrap() as u8)
        .collect();
    assert_eq!(mac, MAC);
    assert_eq!(t.device().mac(), MAC);
    assert_eq!(t.read(regs::CONFIG + 6, 2), Ok(0), "status");
    assert_eq!(t.read(regs::CONFIG + 8, 2), Ok(1), "max_virtqueue_pairs");
    assert_eq!(t.read(regs::CONFIG + 10, 2), Ok(1500), "mtu");
    for off in (0x10c..0x200).step_by(4) {
        assert_eq!(t.read(off, 4), Ok(0), "past the structure at {off:#x}");
    }
    // The MAC is read-only.
    assert_eq!(
        t.write(regs::CONFIG, 4, 0xffff_ffff, &mut mem),
        Ok(Notify::NONE)
    );
    assert_eq!(t.read(regs::CONFIG, 1), Ok(0x52));
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 1);
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 256);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 2);
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 0, "no control queue");
    let st = negotiate(&mut t, &mut mem, |offered| offered & PLAIN);
    assert_ne!(st & FEATURES_OK, 0);
    assert_eq!(t.driver_features(), PLAIN);
}

#[test]
fn transmit_goes_to_the_outbox_without_header() {
    let (mut t, mut mem, mut qs) = net();
    let f = frame(60, 1);
    let head = post_tx(&mut qs, &mut mem, &f);
    let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(n.fault, None);
    assert_eq!(qs[TRANSMITQ].used_elem(&mem, 0), (u32::from(head), 0));
    assert_eq!(t.interrupt_status(), 1);
    assert_eq!(outbound(&mut t), [f]);
    assert!(outbound(&mut t).is_empty(), "taken once");
    let s = t.device().stats();
    assert_eq!((s.tx_frames, s.tx_bytes, s.tx_dropped), (1, 60, 0));
}

#[test]
fn transmit_split_across_descriptors() {
    let (mut t, mut mem, mut qs) = net();
    // Header and frame in their own buffers.
    let a = frame(100, 2);
    mem.put(DATA, &tx_header(0, 0));
    mem.put(DATA + 0x100, &a);
    qs[TRANSMITQ].add(
        &mut mem,
        &[(DATA, HEADER_LEN as u32, false), (DATA + 0x100, 100, false)],
    );
    // A split in the middle of the header, then one inside the frame.
    let b = frame(200, 3);
    let mut bytes = tx_header(0, 0).to_vec();
    bytes.extend_from_slice(&b);
    mem.put(DATA + 0x1000, &bytes[..5]);
    mem.put(DATA + 0x2000, &bytes[5..50]);
    mem.put(DATA + 0x3000, &bytes[50..]);
    qs[TRANSMITQ].add(
        &mut mem,
        &[
            (DATA + 0x1000, 5, false),
            (DATA + 0x2000, 45, false),
            (DATA + 0x3000, bytes.len() as u32 - 50, false),
        ],
    );
    assert!(qs[TRANSMITQ].notify(&mut t, &mut mem).raise_irq);
    assert_eq!(outbound(&mut t), [a, b]);
    assert_eq!(qs[TRANSMITQ].used_idx(&mem), 2);
    assert_eq!(qs[TRANSMITQ].used_elem(&mem, 0), (0, 0));
    assert_eq!(qs[TRANSMITQ].used_elem(&mem, 1), (2, 0));
}

#[test]
fn transmit_accepts_the_frame_length_limits() {
    let (mut t, mut mem, mut qs) = net();
    for len in [FRAME_MIN, FRAME_MAX] {
        post_tx(&mut qs, &mut mem, &frame(len, 4));
        let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    }
    let out = outbound(&mut t);
    assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [14, 1518]);
    assert_eq!(t.device().stats().tx_dropped, 0);
}

#[test]
fn malformed_transmits_are_dropped_and_the_queue_stays_usable() {
    let (mut t, mut mem, mut qs) = net();
    let f = frame(60, 5);
    // (header, frame length): runt, oversized, header only, a GSO request
    // and a checksum request.
    let cases = [
        (tx_header(0, 0), FRAME_MIN - 1),
        (tx_header(0, 0), FRAME_MAX + 1),
        (tx_header(0, 0), 0),
        (tx_header(0, 1), 60),
        (tx_header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0), 60),
    ];
    for (k, (header, len)) in cases.iter().enumerate() {
        mem.put(DATA, header);
        mem.put(DATA + HEADER_LEN as u64, &frame(*len, 6));
        let head = qs[TRANSMITQ].add(&mut mem, &[(DATA, (HEADER_LEN + len) as u32, false)]);
        let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
        assert!(n.raise_irq, "case {k}: the chain is still returned");
        assert_eq!(n.fault, None, "case {k}");
        assert_eq!(
            qs[TRANSMITQ].used_elem(&mem, k as u16),
            (u32::from(head), 0),
            "case {k}"
        );
    }
    // Shorter than a header, and no readable byte at all.
    qs[TRANSMITQ].add(&mut mem, &[(DATA, 8, false)]);
    qs[TRANSMITQ].add(&mut mem, &[(DATA, 64, true)]);
    let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert_eq!(qs[TRANSMITQ].used_idx(&mem), 7);
    assert_eq!(t.status() & DEVICE_NEEDS_RESET, 0);
    assert!(outbound(&mut t).is_empty());
    assert_eq!(t.device().stats().tx_dropped, 7);
    // The next good frame goes through.
    post_tx(&mut qs, &mut mem, &f);
    let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert_eq!(outbound(&mut t), [f]);
    assert_eq!(t.device().stats().tx_frames, 1);
}

#[test]
fn outbox_is_bounded() {
    let (mut t, mut mem, mut qs) = net();
    let f = frame(64, 7);
    // 16 frames per kick, as the queue holds 16.
    for _ in 0..OUTBOX_FRAMES / 16 {
        for _ in 0..16 {
            post_tx(&mut qs, &mut mem, &f);
        }
        let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    }
    assert_eq!(t.device().stats().tx_dropped, 0);
    post_tx(&mut qs, &mut mem, &f);
    let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert!(n.raise_irq, "the dropped frame's chain is returned");
    let s = t.device().stats();
    assert_eq!((s.tx_frames, s.tx_dropped), (256, 1));
    assert_eq!(outbound(&mut t).len(), OUTBOX_FRAMES);
    // Room again once the hypervisor took the frames.
    post_tx(&mut qs, &mut mem, &f);
    let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert_eq!(outbound(&mut t), [f]);
}

/// Guest RAM where another vCPU makes one more chain (head 0) available
/// every time the device reads avail.idx, until it has added `limit`.
struct RacingMemory {
    mem: FakeMemory,
    avail_idx_at: u64,
    published: Cell<u16>,
    limit: u16,
}

impl GuestMemory for RacingMemory {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if ipa == self.avail_idx_at && buf.len() == 2 {
            if self.published.get() < self.limit {
                self.published.set(self.published.get() + 1);
            }
            buf.copy_from_slice(&self.published.get().to_le_bytes());
            return Ok(());
        }
        self.mem.read(ipa, buf)
    }

    fn write(&mut self, ipa: u64, buf: &[u8]) -> Result<(), MemError> {
        self.mem.write(ipa, buf)
    }
}

#[test]
fn a_racing_guest_cannot_keep_transmit_looping() {
    let (mut t, mut mem, qs) = net();
    let f = frame(60, 8);
    mem.put(DATA, &tx_header(0, 0));
    mem.put(DATA + HEADER_LEN as u64, &f);
    // Every avail ring entry is 0, so every chain is descriptor 0.
    qs[TRANSMITQ].set_desc(&mut mem, 0, DATA, (HEADER_LEN + 60) as u32, 0, 0);
    let mut racing = RacingMemory {
        mem,
        avail_idx_at: qs[TRANSMITQ].avail + 2,
        published: Cell::new(0),
        limit: 1000,
    };
    let n = t.write(regs::QUEUE_NOTIFY, 4, TRANSMITQ as u32, &mut racing);
    assert!(n.unwrap().raise_irq);
    assert_eq!(t.device().stats().tx_frames, 16, "one queue's worth");
    assert_eq!(outbound(&mut t).len(), 16);
    // The next kick carries on where this one stopped.
    let _ = t.write(regs::QUEUE_NOTIFY, 4, TRANSMITQ as u32, &mut racing);
    assert_eq!(t.device().stats().tx_frames, 32);
}

#[test]
fn deliver_before_driver_ok_is_dropped() {
    let mut t = MmioTransport::new(NetDevice::new(MAC));
    let mut mem = FakeMemory::new();
    assert_eq!(t.deliver(&whole(&frame(60, 9)), &mut mem), Notify::NONE);
    negotiate(&mut t, &mut mem, |o| o);
    let mut rx = DriverQueue::new(0, 16);
    rx.setup(&mut t, &mut mem);
    DriverQueue::new(1, 16).setup(&mut t, &mut mem);
    rx.add(&mut mem, &[(DATA, RX_BUF, true)]);
    assert_eq!(t.deliver(&whole(&frame(60, 10)), &mut mem), Notify::NONE);
    assert_eq!(t.device().pending_inbound(), 0);
    // DRIVER_OK finds no stale frame to put in the posted buffer.
    let n = wr(
        &mut t,
        &mut mem,
        regs::STATUS,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    );
    assert_eq!(n, Notify::NONE);
    assert_eq!(rx.used_idx(&mem), 0);
    assert_eq!(t.device().stats().rx_dropped, 2);
    assert_eq!(t.device().stats().rx_frames, 0);
}

#[test]
fn deliver_into_a_posted_buffer() {
    let (mut t, mut mem, mut qs) = net();
    let head = qs[RECEIVEQ].add(&mut mem, &[(DATA, RX_BUF, true)]);
    // Nothing waits, so the buffer stays posted.
    assert_eq!(qs[RECEIVEQ].notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    mem.put(DATA, &[0xaa; HEADER_LEN]);
    let f = frame(98, 11);
    let n = t.deliver(&whole(&f), &mut mem);
    assert!(n.raise_irq);
    assert_eq!(n.fault, None);
    assert_eq!(t.interrupt_status(), 1);
    assert_eq!(
        qs[RECEIVEQ].used_elem(&mem, 0),
        (u32::from(head), (HEADER_LEN + 98) as u32)
    );
    assert_eq!(mem.slice(DATA, HEADER_LEN), rx_header_expected());
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 98), f);
    let s = t.device().stats();
    assert_eq!((s.rx_frames, s.rx_bytes, s.rx_dropped), (1, 98, 0));
}

#[test]
fn deliver_into_separate_header_and_data_buffers() {
    let (mut t, mut mem, mut qs) = net();
    qs[RECEIVEQ].add(
        &mut mem,
        &[
            (DATA, HEADER_LEN as u32, true),
            (DATA + 0x100, FRAME_MAX as u32, true),
        ],
    );
    let f = frame(FRAME_MAX, 12);
    assert!(t.deliver(&whole(&f), &mut mem).raise_irq);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0).1, RX_BUF);
    assert_eq!(mem.slice(DATA, HEADER_LEN), rx_header_expected());
    assert_eq!(mem.slice(DATA + 0x100, FRAME_MAX), f);
}

#[test]
fn frames_wait_for_receive_buffers() {
    let (mut t, mut mem, mut qs) = net();
    let (a, b) = (frame(60, 13), frame(70, 14));
    assert_eq!(t.deliver(&whole(&a), &mut mem), Notify::NONE);
    assert_eq!(t.deliver(&whole(&b), &mut mem), Notify::NONE);
    assert_eq!(t.device().pending_inbound(), 2);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    // The driver refills its ring and kicks queue 0: the frames go out in
    // order, one per buffer.
    qs[RECEIVEQ].add(&mut mem, &[(DATA, RX_BUF, true)]);
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x1000, RX_BUF, true)]);
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x2000, RX_BUF, true)]);
    let n = qs[RECEIVEQ].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 2);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (0, 72));
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1), (1, 82));
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 60), a);
    assert_eq!(mem.slice(DATA + 0x1000 + HEADER_LEN as u64, 70), b);
    assert_eq!(t.device().pending_inbound(), 0);
    // The third buffer is still posted for the next frame.
    let c = frame(80, 15);
    let _ = t.deliver(&whole(&c), &mut mem);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 2), (2, 92));
    assert_eq!(mem.slice(DATA + 0x2000 + HEADER_LEN as u64, 80), c);
}

#[test]
fn nothing_is_delivered_into_a_queue_that_is_not_ready() {
    let mut t = MmioTransport::new(NetDevice::new(MAC));
    let mut mem = FakeMemory::new();
    negotiate(&mut t, &mut mem, |o| o);
    DriverQueue::new(1, 16).setup(&mut t, &mut mem);
    let _ = wr(
        &mut t,
        &mut mem,
        regs::STATUS,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    );
    let writes = mem.accesses;
    let f = frame(60, 16);
    assert_eq!(t.deliver(&whole(&f), &mut mem), Notify::NONE);
    assert_eq!(mem.accesses, writes, "guest memory untouched");
    assert_eq!(t.device().pending_inbound(), 1);
    // Once the queue is enabled and kicked, the frame is delivered.
    let mut rx = DriverQueue::new(0, 16);
    rx.setup(&mut t, &mut mem);
    rx.add(&mut mem, &[(DATA, RX_BUF, true)]);
    assert!(rx.notify(&mut t, &mut mem).raise_irq);
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 60), f);
}

#[test]
fn too_small_receive_buffer_drops_that_frame_only() {
    let (mut t, mut mem, mut qs) = net();
    let small = qs[RECEIVEQ].add(&mut mem, &[(DATA, (HEADER_LEN + 59) as u32, true)]);
    let big = qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x1000, RX_BUF, true)]);
    let n = t.deliver(&whole(&frame(60, 17)), &mut mem);
    assert!(n.raise_irq, "the buffer is returned");
    assert_eq!(n.fault, None);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (u32::from(small), 0));
    assert_eq!(t.device().stats().rx_dropped, 1);
    assert_eq!(t.device().pending_inbound(), 0);
    let f = frame(60, 18);
    let _ = t.deliver(&whole(&f), &mut mem);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1), (u32::from(big), 72));
    assert_eq!(mem.slice(DATA + 0x1000 + HEADER_LEN as u64, 60), f);
    assert_eq!(t.status() & DEVICE_NEEDS_RESET, 0);
    let s = t.device().stats();
    assert_eq!((s.rx_frames, s.rx_bytes, s.rx_dropped), (1, 60, 1));
}

#[test]
fn backlog_is_bounded() {
    let (mut t, mut mem, _) = net();
    let f = frame(60, 19);
    for _ in 0..BACKLOG_FRAMES {
        let _ = t.deliver(&whole(&f), &mut mem);
    }
    assert_eq!(t.device().pending_inbound(), BACKLOG_FRAMES);
    assert_eq!(t.device().stats().rx_dropped, 0);
    let _ = t.deliver(&whole(&f), &mut mem);
    assert!(!t.device_mut().queue_inbound(&whole(&f)));
    assert_eq!(t.device().pending_inbound(), BACKLOG_FRAMES);
    assert_eq!(t.device().stats().rx_dropped, 2);
}

#[test]
fn queue_inbound_refuses_bad_lengths() {
    let mut d = NetDevice::new(MAC);
    assert!(!d.queue_inbound(&whole(&frame(FRAME_MIN - 1, 0))));
    assert!(!d.queue_inbound(&whole(&frame(FRAME_MAX + 1, 0))));
    assert!(!d.queue_inbound(&whole(&[])));
    assert!(d.queue_inbound(&whole(&frame(FRAME_MIN, 0))));
    assert!(d.queue_inbound(&whole(&frame(FRAME_MAX, 0))));
    assert_eq!(d.pending_inbound(), 2);
    assert_eq!(d.stats().rx_dropped, 3);
}

#[test]
fn reset_clears_backlog_and_outbox_but_keeps_stats() {
    let (mut t, mut mem, mut qs) = net();
    post_tx(&mut qs, &mut mem, &frame(60, 20));
    let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    let _ = t.deliver(&whole(&frame(60, 21)), &mut mem);
    assert_eq!(t.device().pending_inbound(), 1);
    let before = t.device().stats();
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0);
    assert_eq!(t.device().pending_inbound(), 0);
    assert!(outbound(&mut t).is_empty());
    assert_eq!(t.device().stats(), before);
    assert_eq!(before.tx_frames, 1);
    // After a reset and a new bring-up the device works again.
    let mut qs = bring_up(&mut t, &mut mem, &[16, 16]);
    qs[RECEIVEQ].add(&mut mem, &[(DATA, RX_BUF, true)]);
    let f = frame(60, 22);
    assert!(t.deliver(&whole(&f), &mut mem).raise_irq);
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 60), f);
}

#[test]
fn transmit_from_outside_guest_ram_needs_reset() {
    let (mut t, mut mem, mut qs) = net();
    qs[TRANSMITQ].add(&mut mem, &[(0x10, 72, false)]);
    let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert!(matches!(
        n.fault.map(|f| (f.queue, f.error)),
        Some((1, QueueError::Memory(_)))
    ));
    assert_ne!(t.status() & DEVICE_NEEDS_RESET, 0);
    assert!(outbound(&mut t).is_empty());
}

#[test]
fn receive_buffer_outside_guest_ram_needs_reset() {
    let (mut t, mut mem, mut qs) = net();
    qs[RECEIVEQ].add(&mut mem, &[(0x10, RX_BUF, true)]);
    let n = t.deliver(&whole(&frame(60, 23)), &mut mem);
    assert!(matches!(
        n.fault.map(|f| (f.queue, f.error)),
        Some((0, QueueError::Memory(_)))
    ));
    assert_ne!(t.status() & DEVICE_NEEDS_RESET, 0);
    // Until the driver resets the device, frames are dropped.
    let dropped = t.device().stats().rx_dropped;
    assert_eq!(t.deliver(&whole(&frame(60, 24)), &mut mem), Notify::NONE);
    assert_eq!(t.device().stats().rx_dropped, dropped + 1);
}

mod storm;

// Offloads: a TSO packet from a driver that took HOST_TSO4 goes out whole
// and offloaded; a receiver that took GUEST_TSO4 gets it as it was sent, any
// other gets it finished.

use crate::net::offload::tests::tcp_frame;

const OFFLOADING: u64 = PLAIN
    | VIRTIO_NET_F_CSUM
    | VIRTIO_NET_F_GUEST_CSUM
    | VIRTIO_NET_F_HOST_TSO4
    | VIRTIO_NET_F_GUEST_TSO4;

/// The header Linux writes for a TSO packet of `tcp_frame` (no VLAN): hdr
/// length 54, 1448 per segment, the TCP checksum at 34 + 16.
fn tso_header() -> [u8; HEADER_LEN] {
    let mut h = tx_header(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4);
    h[2..4].copy_from_slice(&54u16.to_le_bytes());
    h[4..6].copy_from_slice(&1448u16.to_le_bytes());
    h[6..8].copy_from_slice(&34u16.to_le_bytes());
    h[8..10].copy_from_slice(&16u16.to_le_bytes());
    h
}

/// Sends one TSO packet of `payload` bytes from a card whose driver
/// accepted `features`; what its outbox then holds.
fn send_tso(features: u64, payload: usize) -> Vec<Packet> {
    send_tso_counted(features, payload).0
}

/// [`send_tso`], and the card's counters afterwards.
fn send_tso_counted(features: u64, payload: usize) -> (Vec<Packet>, NetStats) {
    let (mut t, mut mem, mut qs) = net_accepting(features);
    let f = tcp_frame(&frame(payload, 3), 0x18, false);
    mem.put(DATA, &tso_header());
    mem.put(DATA + HEADER_LEN as u64, &f);
    qs[TRANSMITQ].add(&mut mem, &[(DATA, (HEADER_LEN + f.len()) as u32, false)]);
    let _ = qs[TRANSMITQ].notify(&mut t, &mut mem);
    let out = t.device_mut().take_outbound();
    (out, t.device().stats())
}

#[test]
fn tso_packets_of_several_segments_are_counted() {
    let (out, s) = send_tso_counted(OFFLOADING, 20_000);
    assert_eq!(out[0].segments(), 14); // 20000 / 1448, rounded up
    assert_eq!(
        (s.tx_frames, s.tx_tso_packets, s.tx_tso_bytes),
        (1, 1, 54 + 20_000)
    );
    // One segment's worth is sent as one frame: not counted as TSO.
    let (out, s) = send_tso_counted(OFFLOADING, 1000);
    assert_eq!(out[0].segments(), 1);
    assert_eq!((s.tx_frames, s.tx_tso_packets, s.tx_tso_bytes), (1, 0, 0));
}

#[test]
fn a_tso_packet_is_sent_whole_with_its_offload() {
    let out = send_tso(OFFLOADING, 20_000);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].frame.len(), 54 + 20_000);
    assert_eq!(out[0].offload.tso4.map(|t| t.mss), Some(1448));
    assert_eq!(out[0].offload.csum, Some((34, 16)));
    // A driver that did not take the offload may not use it.
    assert!(send_tso(PLAIN, 20_000).is_empty());
}

/// A TSO packet of 4000 payload bytes, as a sender's outbox holds it.
fn tso_packet() -> Packet {
    let f = tcp_frame(&frame(4000, 3), 0x18, false);
    Packet {
        offload: Offload::parse(&tso_header(), OFFLOADING, &f).unwrap(),
        frame: f,
    }
}

#[test]
fn an_offloading_receiver_gets_the_packet_as_sent() {
    let (mut t, mut mem, mut qs) = net_accepting(OFFLOADING);
    let p = tso_packet();
    // Linux's big-packet receive chain: a header buffer and 64 KiB.
    qs[RECEIVEQ].add(
        &mut mem,
        &[
            (DATA, HEADER_LEN as u32, true),
            (DATA + 0x1000, 0x1_0000, true),
        ],
    );
    assert!(t.deliver(&p, &mut mem).raise_irq);
    let len = (HEADER_LEN + p.frame.len()) as u32;
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (0, len));
    let mut h = tso_header();
    h[10] = 1; // num_buffers
    assert_eq!(mem.slice(DATA, HEADER_LEN), h);
    assert_eq!(mem.slice(DATA + 0x1000, p.frame.len()), &p.frame[..]);
    assert_eq!(t.device().stats().rx_frames, 1);
}

#[test]
fn a_plain_receiver_gets_checksummed_segments() {
    let (mut t, mut mem, mut qs) = net();
    let p = tso_packet();
    for i in 0..3u64 {
        qs[RECEIVEQ].add(&mut mem, &[(DATA + i * 0x1000, RX_BUF, true)]);
    }
    assert!(t.deliver(&p, &mut mem).raise_irq);
    let mut expected = Vec::new();
    finish(&p, |f| expected.push(f.to_vec()));
    assert_eq!(expected.len(), 3);
    for (i, seg) in expected.iter().enumerate() {
        let at = DATA + i as u64 * 0x1000;
        assert_eq!(
            mem.slice(at, HEADER_LEN),
            rx_header_expected(),
            "segment {i}"
        );
        assert_eq!(
            mem.slice(at + HEADER_LEN as u64, seg.len()),
            &seg[..],
            "segment {i}"
        );
    }
    assert_eq!(t.device().stats().rx_frames, 3);
    // A receiver that took checksums but not TSO gets segments too.
    let (mut t, mut mem, mut qs) = net_accepting(PLAIN | VIRTIO_NET_F_GUEST_CSUM);
    qs[RECEIVEQ].add(&mut mem, &[(DATA, RX_BUF, true)]);
    let _ = t.deliver(&p, &mut mem);
    assert_eq!(
        mem.slice(DATA + HEADER_LEN as u64, expected[0].len()),
        &expected[0][..]
    );
}

#[test]
fn the_backlog_is_bounded_in_bytes() {
    let (mut t, mut mem, _qs) = net_accepting(OFFLOADING);
    let f = tcp_frame(&frame(60_000, 4), 0x18, false);
    let p = Packet {
        offload: Offload::parse(&tso_header(), OFFLOADING, &f).unwrap(),
        frame: f,
    };
    let fits = BACKLOG_BYTES / p.frame.len();
    for _ in 0..fits {
        assert!(t.device_mut().queue_inbound(&p));
    }
    assert!(!t.device_mut().queue_inbound(&p));
    let _ = t.deliver(&p, &mut mem);
    assert_eq!(t.device().pending_inbound(), fits);
    assert_eq!(t.device().stats().rx_dropped, 2);
}

/// What Linux accepts when offered everything: mergeable receive buffers
/// and the offloads.
const MERGING: u64 = OFFLOADING | VIRTIO_NET_F_MRG_RXBUF;

/// Linux's mergeable receive buffer: one descriptor of a page fragment.
const MRG_BUF: u32 = 1024;

/// Posts `n` mergeable buffers of [`MRG_BUF`] bytes, 4 KiB apart from
/// DATA; returns their heads.
fn post_mrg(qs: &mut [DriverQueue], mem: &mut FakeMemory, n: u64) -> Vec<u16> {
    (0..n)
        .map(|i| qs[RECEIVEQ].add(mem, &[(DATA + i * 0x1000, MRG_BUF, true)]))
        .collect()
}

/// The bytes buffers 0.. of [`post_mrg`] got, per `lens`, end to end.
fn merged_stream(mem: &FakeMemory, lens: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        out.extend_from_slice(mem.slice(DATA + i as u64 * 0x1000, len as usize));
    }
    out
}

#[test]
fn a_merging_receiver_gets_a_small_frame_in_one_buffer() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    let heads = post_mrg(&mut qs, &mut mem, 2);
    let f = frame(98, 21);
    assert!(t.deliver(&whole(&f), &mut mem).raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 1);
    assert_eq!(
        qs[RECEIVEQ].used_elem(&mem, 0),
        (u32::from(heads[0]), (HEADER_LEN + 98) as u32)
    );
    assert_eq!(mem.slice(DATA, HEADER_LEN), rx_header_expected());
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 98), f);
}

#[test]
fn a_merging_receiver_gets_a_tso_packet_across_buffers() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    let heads = post_mrg(&mut qs, &mut mem, 6);
    // 4054 bytes of frame and the header: three buffers full, 994 bytes.
    let p = tso_packet();
    assert!(t.deliver(&p, &mut mem).raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 4);
    let lens = [MRG_BUF, MRG_BUF, MRG_BUF, 994];
    for (i, &len) in lens.iter().enumerate() {
        assert_eq!(
            qs[RECEIVEQ].used_elem(&mem, i as u16),
            (u32::from(heads[i]), len)
        );
    }
    let stream = merged_stream(&mem, &lens);
    let mut h = tso_header();
    h[10] = 4; // num_buffers
    assert_eq!(stream[..HEADER_LEN], h);
    assert_eq!(stream[HEADER_LEN..], p.frame[..]);
    // The fifth buffer is still the driver's: the next frame goes there.
    let f = frame(60, 22);
    assert!(t.deliver(&whole(&f), &mut mem).raise_irq);
    assert_eq!(
        qs[RECEIVEQ].used_elem(&mem, 4),
        (u32::from(heads[4]), (HEADER_LEN + 60) as u32)
    );
}

#[test]
fn a_merging_receiver_keeps_its_buffers_until_a_packet_fits() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    post_mrg(&mut qs, &mut mem, 1);
    let f = frame(FRAME_MAX, 23);
    assert_eq!(t.deliver(&whole(&f), &mut mem), Notify::NONE);
    assert_eq!(
        qs[RECEIVEQ].used_idx(&mem),
        0,
        "one buffer does not hold it"
    );
    assert_eq!(t.device().pending_inbound(), 1);
    // A second buffer: the frame takes the first (given back, not lost)
    // and the second.
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x1000, MRG_BUF, true)]);
    assert!(qs[RECEIVEQ].notify(&mut t, &mut mem).raise_irq);
    let lens = [MRG_BUF, (HEADER_LEN + FRAME_MAX) as u32 - MRG_BUF];
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (0, lens[0]));
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1), (1, lens[1]));
    assert_eq!(merged_stream(&mem, &lens)[HEADER_LEN..], f[..]);
    assert_eq!(t.device().pending_inbound(), 0);
    assert_eq!(t.device().stats().rx_dropped, 0);
}

#[test]
fn a_packet_no_full_ring_can_hold_is_dropped_and_the_buffers_stay() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    // All 16 descriptors posted, 64 bytes each: 1 KiB in all.
    for i in 0..16 {
        qs[RECEIVEQ].add(&mut mem, &[(DATA + i * 0x100, 64, true)]);
    }
    let big = frame(FRAME_MAX, 24);
    assert_eq!(t.deliver(&whole(&big), &mut mem), Notify::NONE);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    assert_eq!(t.device().pending_inbound(), 0);
    assert_eq!(t.device().stats().rx_dropped, 1);
    // A frame that fits still gets the first buffers.
    let small = frame(100, 25);
    assert!(t.deliver(&whole(&small), &mut mem).raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 2);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (0, 64));
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1), (1, 48));
}

#[test]
fn merged_packets_are_counted() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    post_mrg(&mut qs, &mut mem, 6);
    assert!(t.deliver(&tso_packet(), &mut mem).raise_irq);
    assert!(t.deliver(&whole(&frame(60, 26)), &mut mem).raise_irq);
    let s = t.device().stats();
    assert_eq!((s.rx_frames, s.rx_merged), (2, 1), "{s:?}");
}

#[test]
fn a_receiver_waiting_for_buffers_is_not_walked_again_until_it_posts() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    post_mrg(&mut qs, &mut mem, 1);
    let _ = t.deliver(&whole(&frame(FRAME_MAX, 27)), &mut mem);
    assert_eq!(t.device().pending_inbound(), 1);
    // More frames for it, no new buffer: only avail.idx is read.
    let before = mem.reads.get();
    let _ = t.deliver(&whole(&frame(60, 28)), &mut mem);
    assert_eq!(mem.reads.get() - before, 1, "avail.idx alone");
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    // A posted buffer: both frames go.
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x1000, MRG_BUF, true)]);
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x2000, MRG_BUF, true)]);
    assert!(qs[RECEIVEQ].notify(&mut t, &mut mem).raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 3);
    assert_eq!(t.device().pending_inbound(), 0);
}

#[test]
fn packets_too_big_for_the_whole_ring_are_dropped_after_one_walk() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    for _ in 0..3 {
        t.device_mut().queue_inbound(&whole(&frame(FRAME_MAX, 29)));
    }
    let small = frame(100, 30);
    t.device_mut().queue_inbound(&whole(&small));
    for i in 0..16 {
        qs[RECEIVEQ].add(&mut mem, &[(DATA + i * 0x100, 64, true)]);
    }
    let before = mem.reads.get();
    assert!(qs[RECEIVEQ].notify(&mut t, &mut mem).raise_irq);
    // One walk of the 16 for the three (avail.idx, ring entry and
    // descriptor for each pop), two pops for the small one, a few reads
    // besides; a walk per packet would be 150 and more.
    let reads = mem.reads.get() - before;
    assert!(reads <= 3 * 16 + 3 * 2 + 4, "{reads} reads");
    assert_eq!(t.device().stats().rx_dropped, 3);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 2);
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 52), &small[..52]);
    assert_eq!(mem.slice(DATA + 0x100, 48), &small[52..]);
}

#[test]
fn a_descriptor_made_available_twice_is_an_error() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    // A chain of 10 descriptors, 8 bytes each, listed twice: 20 descriptors
    // in a table of 16.
    let bufs: Vec<(u64, u32, bool)> = (0..10).map(|i| (DATA + i * 0x100, 8, true)).collect();
    let head = qs[RECEIVEQ].add(&mut mem, &bufs);
    qs[RECEIVEQ].publish(&mut mem, head);
    let n = t.deliver(&whole(&frame(200, 31)), &mut mem);
    assert_eq!(
        n.fault.map(|f| f.error),
        Some(QueueError::DescriptorsReused { size: 16 })
    );
    assert_ne!(t.status() & crate::status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
}

#[test]
fn a_drop_then_a_delivery_then_a_wait_in_one_call() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    for len in [FRAME_MAX, 100, 1000] {
        t.device_mut().queue_inbound(&whole(&frame(len, 32)));
    }
    for i in 0..16 {
        qs[RECEIVEQ].add(&mut mem, &[(DATA + i * 0x100, 64, true)]);
    }
    // The first fits no buffers the driver could post: dropped. The second
    // takes two buffers. The third needs more than the fourteen left: it
    // waits, and a notify without new buffers does not walk them again.
    assert!(qs[RECEIVEQ].notify(&mut t, &mut mem).raise_irq);
    let s = t.device().stats();
    assert_eq!((s.rx_dropped, s.rx_frames), (1, 1));
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 2);
    assert_eq!(t.device().pending_inbound(), 1);
    let before = mem.reads.get();
    assert_eq!(qs[RECEIVEQ].notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(mem.reads.get() - before, 1, "avail.idx alone");
}

#[test]
fn a_reset_forgets_that_the_ring_was_waiting() {
    let (mut t, mut mem, mut qs) = net_accepting(MERGING);
    post_mrg(&mut qs, &mut mem, 1);
    let _ = t.deliver(&whole(&frame(FRAME_MAX, 33)), &mut mem);
    assert_eq!(t.device().pending_inbound(), 1, "waiting");
    // The driver resets the device and sets it up again: its ring starts
    // at avail.idx 0 once more, and the first buffer it posts brings the
    // ring to avail.idx 1, the very value the waiting was noted at.
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0);
    let mut qs = bring_up_accepting(&mut t, &mut mem, &[16, 16], |o| o & MERGING);
    qs[RECEIVEQ].add(&mut mem, &[(DATA, MRG_BUF, true)]);
    let f = frame(60, 34);
    assert!(t.deliver(&whole(&f), &mut mem).raise_irq);
    assert_eq!(mem.slice(DATA + HEADER_LEN as u64, 60), f);
}
