extern crate std;
use super::*;
use std::vec::Vec;

#[derive(Default)]
struct Sink(Vec<u8>);

impl ByteSink for Sink {
    fn write_byte(&mut self, b: u8) {
        self.0.push(b);
    }
}

fn rd(u: &mut Pl011, off: u64) -> u32 {
    u.read(off, 4).unwrap()
}

fn wr(u: &mut Pl011, off: u64, v: u32) {
    u.write(off, 4, v, &mut Sink::default()).unwrap();
}

/// A UART set up the way Linux's pl011_startup leaves it: FIFOs on,
/// receiver and transmitter enabled.
fn enabled() -> Pl011 {
    let mut u = Pl011::new();
    wr(&mut u, regs::LCR_H, 0x70); // 8N1, FEN
    wr(&mut u, regs::CR, 0x301); // UARTEN | TXE | RXE
    u
}

#[test]
fn reset_values_match_the_trm() {
    let mut u = Pl011::new();
    assert_eq!(rd(&mut u, regs::FR), 0x90); // TXFE | RXFE
    assert_eq!(rd(&mut u, regs::CR), 0x300);
    assert_eq!(rd(&mut u, regs::IFLS), 0x12);
    for off in [
        regs::RSR_ECR,
        regs::ILPR,
        regs::IBRD,
        regs::FBRD,
        regs::LCR_H,
        regs::IMSC,
        regs::RIS,
        regs::MIS,
        regs::DMACR,
    ] {
        assert_eq!(rd(&mut u, off), 0, "offset {off:#x}");
    }
    assert!(!u.irq_level());
}

#[test]
fn id_registers() {
    let mut u = Pl011::new();
    let ids: Vec<u32> = (0..8).map(|i| rd(&mut u, 0xFE0 + 4 * i)).collect();
    assert_eq!(ids, [0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1]);
    // AMBA part number 0x011, designer 0x41 ('A'), revision 3 (r1p5).
    let periph = ids[0] | ids[1] << 8 | ids[2] << 16 | ids[3] << 24;
    assert_eq!(periph & 0xF_FFFF, 0x4_1011);
    assert_eq!(periph >> 20 & 0xF, 3);
    // Read-only.
    wr(&mut u, 0xFE0, 0);
    assert_eq!(rd(&mut u, 0xFE0), 0x11);
}

#[test]
fn dr_writes_reach_the_sink_even_before_enable() {
    let mut u = Pl011::new();
    let mut sink = Sink::default();
    for b in b"hi\n" {
        u.write(regs::DR, 1, *b as u32, &mut sink).unwrap(); // earlycon writeb
    }
    u.write(regs::DR, 4, 0xFFFF_FF41, &mut sink).unwrap(); // only [7:0] is data
    assert_eq!(sink.0, b"hi\nA");
    assert_eq!(rd(&mut u, regs::FR), 0x90, "TX never busy, never full");
}

#[test]
fn fr_tracks_the_receive_fifo() {
    let mut u = enabled();
    assert!(u.push_input(b'x'));
    assert_eq!(rd(&mut u, regs::FR), fr::TXFE); // RXFE clear
    for i in 1..32 {
        assert!(u.push_input(i as u8), "byte {i}");
    }
    assert_eq!(rd(&mut u, regs::FR), fr::TXFE | fr::RXFF);
    assert!(!u.can_accept_input());
    assert!(!u.push_input(0xEE), "33rd byte refused");
    assert_eq!(rd(&mut u, regs::DR), b'x' as u32);
    for i in 1..32 {
        assert_eq!(rd(&mut u, regs::DR), i);
    }
    assert_eq!(rd(&mut u, regs::FR), fr::TXFE | fr::RXFE);
    assert_eq!(rd(&mut u, regs::DR), 0, "empty FIFO reads 0");
}

#[test]
fn character_mode_holds_one_byte() {
    let mut u = enabled();
    wr(&mut u, regs::LCR_H, 0x60); // FEN clear
    assert!(u.push_input(1));
    assert_eq!(rd(&mut u, regs::FR), fr::TXFE | fr::RXFF);
    assert!(!u.push_input(2));
    // Any received character is at the trigger level.
    assert_eq!(rd(&mut u, regs::RIS) & int::RX, int::RX);
    assert_eq!(rd(&mut u, regs::DR), 1);
    assert_eq!(rd(&mut u, regs::RIS) & int::RX, 0);
}

#[test]
fn receiver_off_refuses_input() {
    let mut u = Pl011::new(); // UARTEN clear at reset
    assert!(!u.can_accept_input());
    assert!(!u.push_input(b'a'));
    wr(&mut u, regs::CR, 0x101); // enabled but RXE clear
    assert!(!u.push_input(b'a'));
    wr(&mut u, regs::CR, 0x301);
    assert!(u.push_input(b'a'));
}

#[test]
fn rx_and_timeout_interrupts() {
    let mut u = enabled();
    wr(&mut u, regs::IMSC, int::RX | int::RT);
    assert!(!u.irq_level());

    // One byte, below the 1/2 trigger (16): only the timeout fires.
    u.push_input(0);
    assert_eq!(rd(&mut u, regs::RIS), int::RT);
    assert!(u.irq_level());
    rd(&mut u, regs::DR);
    assert_eq!(rd(&mut u, regs::RIS), 0);
    assert!(!u.irq_level());

    // Sixteen bytes reach the trigger level.
    for i in 0..16 {
        u.push_input(i);
    }
    assert_eq!(rd(&mut u, regs::RIS), int::RX | int::RT);
    assert_eq!(rd(&mut u, regs::MIS), int::RX | int::RT);
    rd(&mut u, regs::DR); // 15 left: below trigger, still data waiting
    assert_eq!(rd(&mut u, regs::RIS), int::RT);
    // Clearing RT by ICR while data waits keeps it clear (TRM).
    wr(&mut u, regs::ICR, int::RT);
    assert_eq!(rd(&mut u, regs::RIS), 0);
    assert!(!u.irq_level());
}

#[test]
fn ifls_selects_the_rx_trigger() {
    let mut u = enabled();
    wr(&mut u, regs::IFLS, 0b000_000); // RX 1/8 = 4 bytes
    for i in 0..3 {
        u.push_input(i);
    }
    assert_eq!(rd(&mut u, regs::RIS) & int::RX, 0);
    u.push_input(3);
    assert_eq!(rd(&mut u, regs::RIS) & int::RX, int::RX);
}

#[test]
fn tx_interrupt_is_raised_by_writes_masked_by_imsc_cleared_by_icr() {
    let mut u = enabled();
    let mut sink = Sink::default();
    assert_eq!(rd(&mut u, regs::RIS), 0, "no TX interrupt before any write");
    u.write(regs::DR, 2, b'a' as u32, &mut sink).unwrap();
    assert_eq!(rd(&mut u, regs::RIS), int::TX);
    assert!(!u.irq_level(), "masked");
    wr(&mut u, regs::IMSC, int::TX);
    assert!(u.irq_level());
    assert_eq!(rd(&mut u, regs::MIS), int::TX);
    wr(&mut u, regs::ICR, int::TX);
    assert!(!u.irq_level());
    assert_eq!(rd(&mut u, regs::RIS), 0);
    u.write(regs::DR, 1, b'b' as u32, &mut sink).unwrap();
    assert!(u.irq_level());
    wr(&mut u, regs::IMSC, 0);
    assert!(!u.irq_level());
    assert_eq!(rd(&mut u, regs::RIS), int::TX, "masking leaves RIS alone");
}

#[test]
fn icr_clears_only_the_bits_written() {
    let mut u = enabled();
    u.push_input(1);
    wr(&mut u, regs::DR, b'z' as u32);
    assert_eq!(rd(&mut u, regs::RIS), int::TX | int::RT);
    wr(&mut u, regs::ICR, int::TX);
    assert_eq!(rd(&mut u, regs::RIS), int::RT);
    assert_eq!(rd(&mut u, regs::ICR), 0, "write-only");
}

#[test]
fn loopback_receives_what_it_sends_and_reports_overrun() {
    let mut u = enabled();
    wr(&mut u, regs::CR, 0x381); // + LBE
    let mut sink = Sink::default();
    for b in 0..32u32 {
        u.write(regs::DR, 4, b, &mut sink).unwrap();
    }
    assert_eq!(sink.0.len(), 32);
    assert_eq!(rd(&mut u, regs::FR) & fr::RXFF, fr::RXFF);
    assert_eq!(rd(&mut u, regs::RSR_ECR), 0);
    u.write(regs::DR, 4, 0xAA, &mut sink).unwrap();
    assert_eq!(rd(&mut u, regs::RSR_ECR), regs::rsr::OE as u32);
    assert_eq!(rd(&mut u, regs::RIS) & int::OE, int::OE);
    wr(&mut u, regs::RSR_ECR, 0);
    assert_eq!(rd(&mut u, regs::RSR_ECR), 0);
    assert_eq!(rd(&mut u, regs::DR), 0);
}

#[test]
fn toggling_fen_flushes_the_receiver() {
    let mut u = enabled();
    u.push_input(7);
    wr(&mut u, regs::LCR_H, 0x60);
    assert_eq!(rd(&mut u, regs::FR), 0x90);
    assert_eq!(rd(&mut u, regs::RIS), 0);
    // Rewriting the same FEN value keeps the data.
    u.push_input(8);
    wr(&mut u, regs::LCR_H, 0x62);
    assert_eq!(rd(&mut u, regs::DR), 8);
}

#[test]
fn register_widths_are_masked() {
    let mut u = Pl011::new();
    wr(&mut u, regs::IBRD, 0xFFFF_FFFF);
    wr(&mut u, regs::FBRD, 0xFFFF_FFFF);
    wr(&mut u, regs::CR, 0xFFFF_FFFF);
    wr(&mut u, regs::IFLS, 0xFFFF_FFFF);
    wr(&mut u, regs::IMSC, 0xFFFF_FFFF);
    wr(&mut u, regs::DMACR, 0xFFFF_FFFF);
    wr(&mut u, regs::LCR_H, 0xFFFF_FFFF);
    wr(&mut u, regs::ILPR, 0xFFFF_FFFF);
    assert_eq!(rd(&mut u, regs::IBRD), 0xFFFF);
    assert_eq!(rd(&mut u, regs::FBRD), 0x3F);
    assert_eq!(rd(&mut u, regs::CR), 0xFF87);
    assert_eq!(rd(&mut u, regs::IFLS), 0x3F);
    assert_eq!(rd(&mut u, regs::IMSC), 0x7FF);
    assert_eq!(rd(&mut u, regs::DMACR), 0x7);
    assert_eq!(rd(&mut u, regs::LCR_H), 0xFF);
    assert_eq!(rd(&mut u, regs::ILPR), 0xFF);
}

#[test]
fn narrow_accesses() {
    let mut u = Pl011::new();
    // 16-bit write to CR as Linux's readw/writew accessors do.
    u.write(regs::CR, 2, 0x0301, &mut Sink::default()).unwrap();
    assert_eq!(u.read(regs::CR, 2), Ok(0x0301));
    assert_eq!(u.read(regs::CR, 1), Ok(0x01));
    assert_eq!(u.read(regs::FR, 1), Ok(0x90));
    // A byte write only carries the low byte.
    u.write(regs::IBRD, 1, 0x1234, &mut Sink::default())
        .unwrap();
    assert_eq!(rd(&mut u, regs::IBRD), 0x34);
}

#[test]
fn refused_accesses() {
    let mut u = Pl011::new();
    let mut s = Sink::default();
    assert_eq!(
        u.read(regs::FR, 8),
        Err(MmioError::UnsupportedSize {
            offset: 0x18,
            size: 8
        })
    );
    assert_eq!(
        u.write(regs::DR, 3, 0, &mut s),
        Err(MmioError::UnsupportedSize { offset: 0, size: 3 })
    );
    assert_eq!(
        u.read(0x19, 1),
        Err(MmioError::Misaligned {
            offset: 0x19,
            size: 1
        })
    );
    assert_eq!(
        u.read(0x1000, 4),
        Err(MmioError::OutOfRange { offset: 0x1000 })
    );
    assert_eq!(
        u.write(0x1FFC, 4, 0, &mut s),
        Err(MmioError::OutOfRange { offset: 0x1FFC })
    );
    assert!(s.0.is_empty());
}

#[test]
fn reserved_offsets_are_raz_wi() {
    let mut u = Pl011::new();
    let mut s = Sink::default();
    for off in [0x008, 0x01C, 0x04C, 0x080, 0x08C, 0xFCC, 0xFDC] {
        u.write(off, 4, 0xFFFF_FFFF, &mut s).unwrap();
        assert_eq!(rd(&mut u, off), 0, "offset {off:#x}");
    }
    assert!(s.0.is_empty());
    // Nothing else moved.
    assert_eq!(rd(&mut u, regs::CR), 0x300);
}

#[test]
fn reset_drops_state() {
    let mut u = enabled();
    u.push_input(1);
    wr(&mut u, regs::IMSC, int::RT);
    assert!(u.irq_level());
    u.reset();
    assert!(!u.irq_level());
    assert_eq!(rd(&mut u, regs::FR), 0x90);
    assert_eq!(rd(&mut u, regs::CR), 0x300);
}

mod storm;
