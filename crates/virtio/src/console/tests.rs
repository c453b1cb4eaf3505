extern crate std;
use super::*;
use crate::features::VIRTIO_F_VERSION_1;
use crate::mmio::regs;
use crate::status::*;
use crate::testutil::*;
use std::vec::Vec;

#[derive(Default, Debug)]
struct Sink(Vec<u8>);

impl ByteSink for Sink {
    fn write_byte(&mut self, b: u8) {
        self.0.push(b);
    }
}

type Console = MmioTransport<ConsoleDevice<Sink>>;

fn console() -> (Console, FakeMemory, Vec<DriverQueue>) {
    let mut t = MmioTransport::new(ConsoleDevice::new(Sink::default()));
    let mut mem = FakeMemory::new();
    let qs = bring_up(&mut t, &mut mem, &[16, 16]);
    (t, mem, qs)
}

#[test]
fn identity_features_and_config() {
    let mut t = MmioTransport::new(ConsoleDevice::new(Sink::default()));
    assert_eq!(rd(&mut t, regs::DEVICE_ID), 3);
    assert_eq!(
        t.device_features(),
        VIRTIO_F_VERSION_1,
        "no SIZE, MULTIPORT"
    );
    for off in (0x100..0x10c).step_by(4) {
        assert_eq!(t.read(off, 4), Ok(0));
    }
    let mut mem = FakeMemory::new();
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 1);
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 64);
    let _ = wr(&mut t, &mut mem, regs::QUEUE_SEL, 2);
    assert_eq!(rd(&mut t, regs::QUEUE_NUM_MAX), 0, "single port: 2 queues");
}

#[test]
fn transmit_goes_to_the_sink() {
    let (mut t, mut mem, mut qs) = console();
    mem.put(DATA, b"hello, ");
    mem.put(DATA + 0x100, b"world\n");
    let head = qs[TRANSMITQ].add(&mut mem, &[(DATA, 7, false), (DATA + 0x100, 6, false)]);
    let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(t.device().sink().0, b"hello, world\n");
    assert_eq!(qs[TRANSMITQ].used_elem(&mem, 0), (u32::from(head), 0));
    assert_eq!(t.interrupt_status(), 1);
}

#[test]
fn input_waits_for_receive_buffers() {
    let (mut t, mut mem, mut qs) = console();
    assert_eq!(t.push_input(b"ls\n", &mut mem), Notify::NONE);
    assert_eq!(t.device().pending_input(), 3);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    // The driver posts a buffer and kicks queue 0: the input is delivered.
    let head = qs[RECEIVEQ].add(&mut mem, &[(DATA, 64, true)]);
    let n = qs[RECEIVEQ].notify(&mut t, &mut mem);
    assert!(n.raise_irq);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0), (u32::from(head), 3));
    assert_eq!(mem.slice(DATA, 3), b"ls\n");
    assert_eq!(t.device().pending_input(), 0);
}

#[test]
fn input_is_delivered_at_once_into_posted_buffers() {
    let (mut t, mut mem, mut qs) = console();
    qs[RECEIVEQ].add(&mut mem, &[(DATA, 64, true)]);
    qs[RECEIVEQ].add(&mut mem, &[(DATA + 0x100, 64, true)]);
    // With nothing to deliver the posted buffers stay available.
    assert_eq!(qs[RECEIVEQ].notify(&mut t, &mut mem), Notify::NONE);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 0);
    let n = t.push_input(b"x", &mut mem);
    assert!(n.raise_irq);
    assert_eq!(qs[RECEIVEQ].used_idx(&mem), 1);
    assert_eq!(mem.slice(DATA, 1), b"x");
    let _ = t.push_input(b"y", &mut mem);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1), (1, 1));
    assert_eq!(mem.slice(DATA + 0x100, 1), b"y");
}

#[test]
fn input_larger_than_a_buffer_spans_buffers() {
    let (mut t, mut mem, mut qs) = console();
    qs[RECEIVEQ].add(&mut mem, &[(DATA, 4, true)]);
    let _ = t.push_input(b"abcdefg", &mut mem);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 0).1, 4);
    assert_eq!(t.device().pending_input(), 3);
    qs[RECEIVEQ].add(
        &mut mem,
        &[(DATA + 0x100, 2, true), (DATA + 0x200, 2, true)],
    );
    let _ = qs[RECEIVEQ].notify(&mut t, &mut mem);
    assert_eq!(qs[RECEIVEQ].used_elem(&mem, 1).1, 3);
    assert_eq!(mem.slice(DATA, 4), b"abcd");
    assert_eq!(mem.slice(DATA + 0x100, 2), b"ef");
    assert_eq!(mem.slice(DATA + 0x200, 1), b"g");
}

#[test]
fn input_before_driver_ok_is_delivered_at_driver_ok() {
    let mut t = MmioTransport::new(ConsoleDevice::new(Sink::default()));
    let mut mem = FakeMemory::new();
    negotiate(&mut t, &mut mem, |o| o);
    let mut rx = DriverQueue::new(0, 16);
    rx.setup(&mut t, &mut mem);
    DriverQueue::new(1, 16).setup(&mut t, &mut mem);
    rx.add(&mut mem, &[(DATA, 16, true)]);
    assert_eq!(t.push_input(b"early", &mut mem), Notify::NONE);
    let n = wr(
        &mut t,
        &mut mem,
        regs::STATUS,
        ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK,
    );
    assert!(n.raise_irq);
    assert_eq!(mem.slice(DATA, 5), b"early");
}

#[test]
fn input_ring_is_bounded_and_cleared_by_reset() {
    let (mut t, mut mem, _) = console();
    let big = [b'z'; INPUT_CAPACITY + 100];
    assert_eq!(t.device_mut().queue_input(&big), INPUT_CAPACITY);
    assert_eq!(t.device_mut().queue_input(b"more"), 0);
    let _ = wr(&mut t, &mut mem, regs::STATUS, 0);
    assert_eq!(t.device().pending_input(), 0);
}

#[test]
fn transmit_from_outside_guest_ram_needs_reset() {
    let (mut t, mut mem, mut qs) = console();
    qs[TRANSMITQ].add(&mut mem, &[(0x10, 8, false)]);
    let n = qs[TRANSMITQ].notify(&mut t, &mut mem);
    assert!(matches!(
        n.fault.map(|f| f.error),
        Some(QueueError::Memory(_))
    ));
    assert_ne!(t.status() & DEVICE_NEEDS_RESET, 0);
    assert!(t.device().sink().0.is_empty());
}
