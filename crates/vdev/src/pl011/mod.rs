//! Arm PrimeCell UART (PL011) r1p5, as QEMU's `virt` machine places it at
//! 0x0900_0000: enough for Linux's amba-pl011 driver and `earlycon=pl011`.
//!
//! Model choices (each a simplification the guest cannot tell from a fast
//! line):
//! - Transmit is instant: a DR write goes straight to the [`ByteSink`], the
//!   TX FIFO is always empty (TXFE=1, TXFF=0, BUSY=0), and every write
//!   raises TXRIS, since the FIFO drops through any trigger level at once.
//!   Output is sent even while UARTEN/TXE are clear, as QEMU does, because
//!   early consoles write to a UART nobody enabled.
//! - Receive: [`Pl011::push_input`] fills a 32-deep FIFO (1-deep when
//!   LCR_H.FEN=0). RXRIS follows the IFLS trigger level; RTRIS (receive
//!   timeout) is raised as soon as data waits, as if the 32-bit-period
//!   timeout had already elapsed, so input below the trigger is delivered.
//! - Modem inputs (CTS, DSR, DCD, RI) read as deasserted, matching QEMU.
//! - Accesses: 8-, 16- and 32-bit at 4-byte-aligned offsets (Linux uses
//!   16-bit accessors for the Arm variant, earlycon byte writes to DR).
//!   Reserved and test-register offsets inside the 4 KiB window read as
//!   zero and ignore writes (the TRM leaves them unpredictable; RAZ/WI is
//!   the safe reading). Other sizes, unaligned or out-of-window offsets
//!   are refused with [`MmioError`].

mod fifo;
pub mod regs;

use crate::mmio::{ByteSink, MmioError};
use crate::primecell::{self, Widths};
use fifo::RxFifo;
use regs::{cr, fr, int, lcr_h};

/// One emulated PL011.
#[derive(Clone, Debug)]
pub struct Pl011 {
    rx: RxFifo,
    rsr: u8,
    ilpr: u8,
    ibrd: u16,
    fbrd: u8,
    lcr_h: u8,
    cr: u16,
    ifls: u8,
    imsc: u16,
    ris: u16,
    dmacr: u8,
    /// UARTFR, kept current (see `flags`).
    fr: u16,
}

impl Default for Pl011 {
    fn default() -> Self {
        Pl011::new()
    }
}

impl Pl011 {
    /// Size of the register window the hypervisor must route here.
    pub const MMIO_SIZE: u64 = regs::WINDOW;

    /// A UART in its reset state.
    pub const fn new() -> Pl011 {
        Pl011 {
            rx: RxFifo::new(),
            rsr: 0,
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: cr::RESET as u16,
            ifls: regs::IFLS_RESET as u8,
            imsc: 0,
            ris: 0,
            dmacr: 0,
            // TXFE | RXFE: nothing to send, nothing received.
            fr: (fr::TXFE | fr::RXFE) as u16,
        }
    }

    /// Back to the reset state (PRESETn); pending input is dropped.
    pub fn reset(&mut self) {
        *self = Pl011::new();
    }

    /// The interrupt output UARTINTR: any raw interrupt that is unmasked.
    #[inline]
    pub fn irq_level(&self) -> bool {
        self.ris & self.imsc != 0
    }

    /// Whether [`Pl011::push_input`] would accept a byte now.
    #[inline]
    pub fn can_accept_input(&self) -> bool {
        self.receiver_enabled() && self.rx.len() < self.rx_capacity()
    }

    /// Offers one byte of host input. Returns false when the byte is not
    /// taken (FIFO full, or UARTEN/RXE clear so the receiver is off); the
    /// caller keeps it and retries later, so no data is lost and no
    /// overrun is reported.
    pub fn push_input(&mut self, byte: u8) -> bool {
        self.receiver_enabled() && self.receive(byte)
    }

    /// Guest read of `size` bytes at `offset`.
    #[inline]
    pub fn read(&mut self, offset: u64, size: u8) -> Result<u32, MmioError> {
        // Drivers poll FR around every byte they send: answer it before the
        // general checks (a 32-bit read at 0x18 is always valid).
        if offset == regs::FR && size == 4 {
            return Ok(self.flags());
        }
        self.read_register(offset, size)
    }

    fn read_register(&mut self, offset: u64, size: u8) -> Result<u32, MmioError> {
        check(offset, size)?;
        let value = match offset {
            regs::FR => self.flags(),
            regs::DR => self.read_data(),
            regs::RSR_ECR => self.rsr as u32,
            regs::ILPR => self.ilpr as u32,
            regs::IBRD => self.ibrd as u32,
            regs::FBRD => self.fbrd as u32,
            regs::LCR_H => self.lcr_h as u32,
            regs::CR => self.cr as u32,
            regs::IFLS => self.ifls as u32,
            regs::IMSC => self.imsc as u32,
            regs::RIS => self.ris as u32,
            regs::MIS => (self.ris & self.imsc) as u32,
            regs::DMACR => self.dmacr as u32,
            regs::PERIPH_ID0.. => primecell::id_register(&regs::ID, offset),
            // ICR is write-only; reserved and test registers: RAZ.
            _ => 0,
        };
        Ok(value & size_mask(size))
    }

    /// Guest write of `size` bytes at `offset`; transmitted bytes go to `sink`.
    pub fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        sink: &mut impl ByteSink,
    ) -> Result<(), MmioError> {
        check(offset, size)?;
        let value = value & size_mask(size);
        match offset {
            regs::DR => self.transmit(value as u8, sink),
            // Any write to UARTECR clears the error flags.
            regs::RSR_ECR => self.rsr = 0,
            regs::ILPR => self.ilpr = value as u8,
            regs::IBRD => self.ibrd = value as u16,
            regs::FBRD => self.fbrd = (value & 0x3F) as u8,
            regs::LCR_H => self.write_lcr_h(value),
            regs::CR => self.cr = (value & cr::MASK) as u16,
            regs::IFLS => self.ifls = (value & 0x3F) as u8,
            regs::IMSC => self.imsc = (value & int::MASK) as u16,
            regs::ICR => self.ris &= !((value & int::MASK) as u16),
            regs::DMACR => self.dmacr = (value & 0x7) as u8,
            // FR, RIS, MIS, IDs are read-only; reserved offsets: WI.
            _ => {}
        }
        Ok(())
    }

    /// UARTFR as last computed: drivers poll it around every byte, so it is
    /// kept up to date by everything that changes the receive FIFO
    /// ([`Pl011::refresh_flags`]) and read with one load.
    #[inline]
    fn flags(&self) -> u32 {
        self.fr as u32
    }

    /// Recompute UARTFR from the FIFO state.
    fn refresh_flags(&mut self) {
        self.fr = self.compute_flags() as u16;
    }

    fn compute_flags(&self) -> u32 {
        let mut flags = fr::TXFE;
        if self.rx.is_empty() {
            flags |= fr::RXFE;
        }
        if self.rx.len() >= self.rx_capacity() {
            flags |= fr::RXFF;
        }
        flags
    }

    fn fifo_enabled(&self) -> bool {
        self.lcr_h as u32 & lcr_h::FEN != 0
    }

    fn receiver_enabled(&self) -> bool {
        let on = cr::UARTEN | cr::RXE;
        self.cr as u32 & on == on
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            fifo::DEPTH
        } else {
            1
        }
    }

    /// FIFO level at which RXRIS asserts (IFLS.RXIFLSEL, TRM 3.3.10):
    /// 1/8, 1/4, 1/2, 3/4, 7/8 of 32; reserved encodings act as 1/2.
    fn rx_trigger(&self) -> usize {
        if !self.fifo_enabled() {
            return 1;
        }
        match (self.ifls >> 3) & 7 {
            0 => 4,
            1 => 8,
            3 => 24,
            4 => 28,
            _ => 16,
        }
    }

    /// A byte arrives on the receive line.
    fn receive(&mut self, byte: u8) -> bool {
        if self.rx.len() >= self.rx_capacity() {
            return false;
        }
        self.rx.push(byte);
        self.refresh_flags();
        self.ris |= int::RT as u16;
        if self.rx.len() >= self.rx_trigger() {
            self.ris |= int::RX as u16;
        }
        true
    }

    /// A DR read: pops the oldest byte (0 when empty). The receive
    /// interrupt clears once the level drops below the trigger, the
    /// timeout interrupt once the FIFO is empty (TRM 3.4.x).
    fn read_data(&mut self) -> u32 {
        let Some(byte) = self.rx.pop() else {
            return 0;
        };
        self.refresh_flags();
        // This model never receives bad characters: no FE/PE/BE/OE to report.
        self.rsr = 0;
        if self.rx.len() < self.rx_trigger() {
            self.ris &= !(int::RX as u16);
        }
        if self.rx.is_empty() {
            self.ris &= !(int::RT as u16);
        }
        byte as u32
    }

    fn transmit(&mut self, byte: u8, sink: &mut impl ByteSink) {
        sink.write_byte(byte);
        self.ris |= int::TX as u16;
        if self.cr as u32 & cr::LBE != 0 && self.receiver_enabled() && !self.receive(byte) {
            // Looped-back data hitting a full FIFO is lost: an overrun.
            self.rsr |= regs::rsr::OE;
            self.ris |= int::OE as u16;
        }
    }

    fn write_lcr_h(&mut self, value: u32) {
        // Switching between FIFO and character mode starts with empty
        // FIFOs (as QEMU does); stale RX/RT interrupts go with the data.
        if (self.lcr_h as u32 ^ value) & lcr_h::FEN != 0 {
            self.rx.clear();
            self.ris &= !((int::RX | int::RT) as u16);
        }
        self.lcr_h = value as u8;
        self.refresh_flags();
    }
}

/// Validates an access against the PL011's APB interface.
#[inline]
fn check(offset: u64, size: u8) -> Result<(), MmioError> {
    primecell::check(offset, size, Widths::UP_TO_WORD)
}

#[inline]
fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

#[cfg(test)]
mod tests;
