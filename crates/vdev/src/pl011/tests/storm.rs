//! A guest driver gone wrong, and a host typing at the same time: seeded
//! pseudo-random PL011 accesses (mostly real registers at sizes the model
//! takes, some at sizes, offsets or alignments it refuses, with random
//! values for CR, LCR_H, IFLS, IMSC, ICR and DR) interleaved with console
//! input that arrives through the [`InputMux`] and is moved into the
//! receive FIFO the way the hypervisor does, guest receive loops draining
//! it, and resets. Aerie runs this model in EL2 on the guest's behalf, so
//! whatever the guest does it must not panic, and after every step the
//! state must agree with the TRM (DDI 0183G) and the model's own docs.

use super::*;
use crate::mux::{InputMux, MuxEvent, ESCAPE};
use aerie_testrng::Rng;
use std::collections::VecDeque;
use std::format;
use std::string::String;

/// Every register offset the TRM defines, plus reserved and test-register
/// offsets inside the window (RAZ/WI in this model).
const OFFSETS: [u64; 29] = [
    regs::DR,
    regs::RSR_ECR,
    regs::FR,
    regs::ILPR,
    regs::IBRD,
    regs::FBRD,
    regs::LCR_H,
    regs::CR,
    regs::IFLS,
    regs::IMSC,
    regs::RIS,
    regs::MIS,
    regs::ICR,
    regs::DMACR,
    0xFE0,
    0xFE4,
    0xFE8,
    0xFEC,
    0xFF0,
    0xFF4,
    0xFF8,
    0xFFC,
    0x008,
    0x01C,
    0x04C,
    0x080, // test registers
    0x08C,
    0xFCC,
    0xFDC,
];

/// Interrupts this model can never raise: the modem inputs never change
/// and received characters never carry framing, parity or break errors.
const NEVER_RAISED: u32 = int::RI | int::CTS | int::DCD | int::DSR | int::FE | int::PE | int::BE;

/// The UART of VM 0 with what surrounds it in the hypervisor, and what the
/// storm expects of it.
struct Rig {
    u: Pl011,
    /// The console multiplexer over three VMs.
    mux: InputMux,
    /// Console bytes VM 0 was given that its UART has not taken yet (the
    /// hypervisor's `vm.input`).
    pending: VecDeque<u8>,
    /// What the receive FIFO must hold, oldest first.
    shadow: VecDeque<u8>,
    /// The VM's output buffer, and what the guest wrote to DR since the
    /// host last drained it.
    sink: Sink,
    sent: Vec<u8>,
    /// An overrun the guest has not yet cleared from RIS.
    overrun: bool,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            u: Pl011::new(),
            mux: InputMux::new(3),
            pending: VecDeque::new(),
            shadow: VecDeque::new(),
            sink: Sink::default(),
            sent: Vec::new(),
            overrun: false,
        }
    }

    fn fen(&self) -> bool {
        self.u.lcr_h as u32 & lcr_h::FEN != 0
    }

    /// Receive FIFO depth: 32 (r1p5), or the 1-byte holding register in
    /// character mode (LCR_H.FEN clear).
    fn capacity(&self) -> usize {
        if self.fen() {
            32
        } else {
            1
        }
    }

    fn receiver_on(&self) -> bool {
        self.u.cr as u32 & (cr::UARTEN | cr::RXE) == cr::UARTEN | cr::RXE
    }

    /// UARTIFLS.RXIFLSEL trigger level: 1/8 .. 7/8 of 32; 1 in character
    /// mode.
    fn trigger(&self) -> usize {
        if !self.fen() {
            return 1;
        }
        match (self.u.ifls >> 3) & 7 {
            0 => 4,
            1 => 8,
            2 => 16,
            3 => 24,
            4 => 28,
            _ => 16, // reserved encodings; the model documents 1/2
        }
    }
}

/// Where the storm is, for failure messages.
fn ctx(seed: u64, step: usize) -> String {
    format!("seed {seed:#x} step {step}")
}

/// An offset: mostly a real register, sometimes any aligned offset in the
/// window, an unaligned one, or one past the window.
fn offset(rng: &mut Rng) -> u64 {
    match rng.below(20) {
        0..=13 => rng.pick(&OFFSETS),
        14 | 15 => rng.below(regs::WINDOW) & !3,
        16 | 17 => rng.pick(&OFFSETS) + 1 + rng.below(3),
        18 => regs::WINDOW + rng.below(0x2000),
        _ => rng.next_u64(),
    }
}

/// An access size: mostly 1, 2 or 4 bytes, sometimes one the APB bus does
/// not have (8 is what a guest's 64-bit store produces).
fn size(rng: &mut Rng) -> u8 {
    if rng.chance(85) {
        rng.pick(&[1, 2, 4, 4, 4])
    } else {
        let any = rng.next_u64() as u8;
        rng.pick(&[0, 3, 5, 8, 16, any])
    }
}

/// A value worth writing at `off`: settings a driver uses, or anything.
fn value(rng: &mut Rng, off: u64) -> u32 {
    if rng.chance(25) {
        return rng.next_u64() as u32;
    }
    let any = rng.next_u64() as u32;
    match off {
        regs::CR => rng.pick(&[
            0x301, // UARTEN | TXE | RXE
            0x381, // ... | LBE
            0x101, // receiver off
            0x201,
            0x300, // UART disabled
            0x0,
            any & cr::MASK,
        ]),
        regs::LCR_H => rng.pick(&[0x70, 0x60, 0x10, 0x0, any & 0xFF]),
        regs::IFLS => rng.below(0x40) as u32,
        regs::IMSC | regs::ICR => rng.pick(&[
            int::RX | int::RT,
            int::TX,
            int::OE,
            int::MASK,
            0,
            any & int::MASK,
        ]),
        _ => any & 0xFF,
    }
}

/// The access is one the model must take: 1, 2 or 4 bytes at a 4-byte
/// aligned offset inside the 4 KiB window.
fn valid_shape(off: u64, size: u8) -> bool {
    matches!(size, 1 | 2 | 4) && off < regs::WINDOW && off & 3 == 0
}

/// A refused access names a reason that really applies, echoing the access.
fn check_refusal(e: MmioError, off: u64, sz: u8, at: &str) {
    match e {
        MmioError::UnsupportedSize { offset, size } => {
            assert!(!matches!(size, 1 | 2 | 4), "{at}: {e}");
            assert_eq!((offset, size), (off, sz), "{at}");
        }
        MmioError::Misaligned { offset, size } => {
            assert_ne!(offset & 3, 0, "{at}: {e}");
            assert_eq!((offset, size), (off, sz), "{at}");
        }
        MmioError::OutOfRange { offset } => {
            assert!(offset >= regs::WINDOW, "{at}: {e}");
            assert_eq!(offset, off, "{at}");
        }
    }
}

fn mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

/// One guest load or store.
fn guest_access(rng: &mut Rng, r: &mut Rig, at: &str) {
    let off = offset(rng);
    let sz = size(rng);
    let before = format!("{:?}", r.u);
    if rng.chance(50) {
        let result = r.u.read(off, sz);
        if !valid_shape(off, sz) {
            check_refusal(result.expect_err(at), off, sz, at);
            assert_eq!(
                format!("{:?}", r.u),
                before,
                "{at}: refused read changed state"
            );
            return;
        }
        let v = result.unwrap_or_else(|e| panic!("{at}: {sz}-byte read at {off:#x}: {e}"));
        assert_eq!(v & !mask(sz), 0, "{at}: read wider than the access");
        if off == regs::DR {
            // The oldest byte, no error bits (the model never receives bad
            // characters); an empty FIFO reads as 0.
            let expect = r.shadow.pop_front().map_or(0, u32::from);
            assert_eq!(v, expect & mask(sz), "{at}: DR read");
        } else {
            // Only a DR read has a side effect (it pops the FIFO).
            assert_eq!(
                format!("{:?}", r.u),
                before,
                "{at}: read of {off:#x} changed state"
            );
        }
        return;
    }

    let v = value(rng, off);
    let (old_fen, room) = (r.fen(), r.shadow.len() < r.capacity());
    let loopback = r.u.cr as u32 & cr::LBE != 0 && r.receiver_on();
    let result = r.u.write(off, sz, v, &mut r.sink);
    if !valid_shape(off, sz) {
        check_refusal(result.expect_err(at), off, sz, at);
        assert_eq!(
            format!("{:?}", r.u),
            before,
            "{at}: refused write changed state"
        );
        assert_eq!(
            r.sink.0.len(),
            r.sent.len(),
            "{at}: refused write sent a byte"
        );
        return;
    }
    result.unwrap_or_else(|e| panic!("{at}: {sz}-byte write at {off:#x}: {e}"));
    match off {
        regs::DR => {
            // Sent at once, whatever CR says, and TXRIS raised.
            let byte = v as u8;
            r.sent.push(byte);
            assert_eq!(r.sink.0.last(), Some(&byte), "{at}: DR write not sent");
            assert_ne!(r.u.ris as u32 & int::TX, 0, "{at}: DR write without TXRIS");
            if loopback {
                if room {
                    r.shadow.push_back(byte);
                } else {
                    // Looped back into a full FIFO: lost, reported as an overrun.
                    r.overrun = true;
                    assert_ne!(r.u.rsr & regs::rsr::OE, 0, "{at}: overrun not in RSR");
                }
            }
        }
        regs::LCR_H if old_fen != r.fen() => {
            // Switching FIFO/character mode empties the receiver.
            r.shadow.clear();
        }
        regs::ICR if v & mask(sz) & int::OE != 0 => r.overrun = false,
        _ => {}
    }
    assert_eq!(r.sink.0.len(), r.sent.len(), "{at}: bytes sent");
}

/// A guest transmit loop (earlycon's byte stores, Linux's 16-bit ones): a
/// burst of DR writes, looped back into the receiver when LBE is set.
fn guest_send(rng: &mut Rng, r: &mut Rig, at: &str) {
    let loopback = r.u.cr as u32 & cr::LBE != 0 && r.receiver_on();
    for _ in 0..1 + rng.below(40) {
        let byte = rng.next_u64() as u8;
        let sz = rng.pick(&[1, 2, 4]);
        let room = r.shadow.len() < r.capacity();
        r.u.write(regs::DR, sz, u32::from(byte) | 0xA500, &mut r.sink)
            .unwrap_or_else(|e| panic!("{at}: DR write: {e}"));
        r.sent.push(byte);
        if loopback && room {
            r.shadow.push_back(byte);
        } else if loopback {
            r.overrun = true;
        }
    }
}

/// Host console input: a few keystrokes through the multiplexer; what goes
/// to VM 0 is moved into its UART while it has room, as the hypervisor's
/// `update_uart_irq` does.
fn host_input(rng: &mut Rng, r: &mut Rig, at: &str) {
    for _ in 0..1 + rng.below(8) {
        let key = match rng.below(10) {
            0 => ESCAPE,
            1 => rng.pick(b"12349"),
            2 => rng.pick(b"dpihrbquw\r"),
            _ => rng.next_u64() as u8,
        };
        let focus = r.mux.focus();
        let editing = r.mux.editing();
        match r.mux.feed(key) {
            MuxEvent::Deliver { vm, bytes, len } => {
                assert_eq!(vm, focus, "{at}: delivered away from the focus");
                assert!(matches!(len, 1 | 2), "{at}: {len} bytes");
                if len == 2 {
                    assert_eq!(bytes[0], ESCAPE, "{at}");
                }
                if vm == 0 {
                    r.pending.extend(&bytes[..len]);
                }
            }
            MuxEvent::Switch { vm } => {
                assert!(vm < 3, "{at}: switch to vm {vm}");
                assert_eq!(r.mux.focus(), vm, "{at}");
            }
            MuxEvent::Command(c) => {
                assert!(
                    matches!(c, b'd' | b'p' | b'i' | b'h' | b'r' | b'b' | b'q'),
                    "{at}"
                )
            }
            // A line for Aerie (Ctrl-A u) takes the keys until it ends.
            MuxEvent::LineStart => assert_eq!(key, b'u', "{at}"),
            // The worlds' lines (Ctrl-A w) too, line after line.
            MuxEvent::WorldLinesStart => assert_eq!(key, b'w', "{at}"),
            MuxEvent::WorldLine => assert!(editing && r.mux.editing(), "{at}"),
            MuxEvent::Echo { len, .. } => assert!(editing && matches!(len, 1 | 3), "{at}"),
            MuxEvent::Line | MuxEvent::LineAbandoned => assert!(editing, "{at}"),
            MuxEvent::None => assert!(key == ESCAPE || editing, "{at}"),
        }
        assert!(r.mux.focus() < 3, "{at}");
    }
    // Sometimes offer a byte whatever can_accept_input says: a refused
    // byte must leave the UART untouched.
    if rng.chance(20) {
        offer(r, rng.next_u64() as u8, at);
    }
    while r.u.can_accept_input() {
        let Some(b) = r.pending.pop_front() else {
            break;
        };
        assert!(offer(r, b, at), "{at}: can_accept_input, yet refused");
    }
}

/// push_input, checked: taken exactly when the receiver is on and has
/// room; a taken byte raises RTRIS (the model's instant timeout), and
/// RXRIS once the level reaches the trigger.
fn offer(r: &mut Rig, b: u8, at: &str) -> bool {
    let room = r.receiver_on() && r.shadow.len() < r.capacity();
    assert_eq!(r.u.can_accept_input(), room, "{at}: can_accept_input");
    let before = format!("{:?}", r.u);
    let taken = r.u.push_input(b);
    assert_eq!(taken, room, "{at}: push_input");
    if !taken {
        assert_eq!(
            format!("{:?}", r.u),
            before,
            "{at}: refused byte changed state"
        );
        return false;
    }
    r.shadow.push_back(b);
    let ris = r.u.ris as u32;
    assert_ne!(ris & int::RT, 0, "{at}: data waits without RTRIS");
    if r.shadow.len() >= r.trigger() {
        assert_ne!(
            ris & int::RX,
            0,
            "{at}: level {} without RXRIS",
            r.shadow.len()
        );
    }
    true
}

/// A guest receive loop: read DR while FR says data waits (Linux's
/// pl011_fifo_to_tty), up to a budget.
fn guest_drain(rng: &mut Rng, r: &mut Rig, at: &str) {
    for _ in 0..rng.below(40) {
        if rd(&mut r.u, regs::FR) & fr::RXFE != 0 {
            assert!(r.shadow.is_empty(), "{at}: RXFE with data waiting");
            break;
        }
        let expect = r.shadow.pop_front().expect("FR says data waits");
        assert_eq!(rd(&mut r.u, regs::DR), u32::from(expect), "{at}: DR");
    }
}

/// What must hold after every step.
fn check_invariants(r: &mut Rig, at: &str) {
    let len = r.u.rx.len();
    assert!(len <= fifo::DEPTH, "{at}: {len} bytes in a 32-deep FIFO");
    assert!(
        len <= r.capacity(),
        "{at}: {len} bytes, capacity {}",
        r.capacity()
    );
    assert_eq!(len, r.shadow.len(), "{at}: FIFO level");

    // UARTFR: TX always empty and idle (instant transmit), modem inputs
    // deasserted, RXFE/RXFF from the receive FIFO or holding register.
    let flags = rd(&mut r.u, regs::FR);
    let mut expect = fr::TXFE;
    if len == 0 {
        expect |= fr::RXFE;
    }
    if len == r.capacity() {
        expect |= fr::RXFF;
    }
    assert_eq!(
        flags,
        expect,
        "{at}: FR with {len} of {} bytes",
        r.capacity()
    );
    // The 32-bit fast path and the narrow accesses agree.
    assert_eq!(r.u.read(regs::FR, 2), Ok(flags & 0xFFFF), "{at}");
    assert_eq!(r.u.read(regs::FR, 1), Ok(flags & 0xFF), "{at}");

    let ris = rd(&mut r.u, regs::RIS);
    let imsc = rd(&mut r.u, regs::IMSC);
    let mis = rd(&mut r.u, regs::MIS);
    assert_eq!(ris & !int::MASK, 0, "{at}: RIS {ris:#x}");
    assert_eq!(imsc & !int::MASK, 0, "{at}: IMSC {imsc:#x}");
    assert_eq!(mis, ris & imsc, "{at}: MIS != RIS & IMSC");
    assert_eq!(r.u.irq_level(), mis != 0, "{at}: UARTINTR vs MIS");
    assert_eq!(ris & NEVER_RAISED, 0, "{at}: RIS {ris:#x}");
    // RTRIS clears when the FIFO empties, RXRIS once it is below the
    // trigger (at least 1): neither survives an empty FIFO (TRM,
    // interrupts).
    if len == 0 {
        assert_eq!(
            ris & (int::RX | int::RT),
            0,
            "{at}: RIS {ris:#x}, FIFO empty"
        );
    }
    assert_eq!(ris & int::OE != 0, r.overrun, "{at}: OERIS");

    // UARTRSR: only an overrun can be reported.
    let rsr = rd(&mut r.u, regs::RSR_ECR);
    assert_eq!(rsr & !(regs::rsr::OE as u32), 0, "{at}: RSR {rsr:#x}");

    assert_eq!(r.sink.0, r.sent, "{at}: output");
}

fn storm(seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let mut r = Rig::new();
    // Start the way Linux leaves it half the time; the storm changes it soon.
    if rng.chance(50) {
        r.u = enabled();
    }
    for step in 0..steps {
        let at = ctx(seed, step);
        match rng.below(100) {
            0..=54 => guest_access(&mut rng, &mut r, &at),
            55..=59 => guest_send(&mut rng, &mut r, &at),
            60..=79 => host_input(&mut rng, &mut r, &at),
            80..=92 => guest_drain(&mut rng, &mut r, &at),
            93..=97 => {
                // The host takes what the guest sent (the output buffer drains).
                r.sink.0.clear();
                r.sent.clear();
            }
            _ => {
                if rng.chance(40) {
                    r.u.reset();
                    r.shadow.clear();
                    r.overrun = false;
                    assert_eq!(format!("{:?}", r.u), format!("{:?}", Pl011::new()), "{at}");
                } else {
                    // A driver (re)starting: FIFOs on, UART on, some interrupts.
                    let mut s = Sink::default();
                    let lcr = rng.pick(&[0x70, 0x60]);
                    if (r.u.lcr_h as u32 ^ lcr) & lcr_h::FEN != 0 {
                        r.shadow.clear();
                    }
                    r.u.write(regs::LCR_H, 4, lcr, &mut s).unwrap();
                    r.u.write(regs::CR, 2, 0x301, &mut s).unwrap();
                    r.u.write(regs::IMSC, 4, int::RX | int::RT, &mut s).unwrap();
                    assert!(s.0.is_empty(), "{at}");
                }
            }
        }
        check_invariants(&mut r, &at);
    }
}

#[test]
fn storm_of_guest_accesses_and_host_input() {
    for seed in [
        0x9E37_79B9_7F4A_7C15,
        0x0123_4567_89AB_CDEF,
        0xD1B5_4A32_D192_ED03,
    ] {
        storm(seed, 20_000);
    }
}
