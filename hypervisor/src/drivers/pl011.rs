//! The host's PL011 UART (or SBSA generic UART), polled for transmit,
//! interrupting on receive.

use super::registers::Registers;

const DR: usize = 0x000;
const FR: usize = 0x018;
const CR: usize = 0x030;
const IMSC: usize = 0x038;
const FR_TXFF: u32 = 1 << 5;
const FR_RXFE: u32 = 1 << 4;
/// Receive and receive-timeout interrupts.
const IMSC_RXIM: u32 = 1 << 4;
const IMSC_RTIM: u32 = 1 << 6;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;

pub struct Pl011 {
    regs: Registers,
}

impl Pl011 {
    /// The UART at `base`, enabled. An SBSA generic UART (`sbsa`) has no
    /// UARTCR and is always on: nothing is written to it.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped PL011's registers,
    /// used by nobody else.
    pub unsafe fn new(base: u64, sbsa: bool) -> Self {
        let uart = Pl011 {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        };
        if !sbsa {
            // The firmware may have left it disabled; baud rate stays as set up.
            uart.regs.write(CR, CR_UARTEN | CR_TXE | CR_RXE);
        }
        uart
    }

    /// A second view of an already initialised UART (no register writes).
    ///
    /// # Safety
    /// As for `new`, except that another view may exist: callers only
    /// transmit, which is safe to interleave.
    pub unsafe fn attach(base: u64) -> Self {
        Pl011 {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        }
    }

    pub fn put(&mut self, byte: u8) {
        while self.regs.read(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.regs.write(DR, byte as u32);
    }

    /// Interrupt when input arrives (the line is level: it stays high while
    /// the receive FIFO holds data, so reading it all clears it).
    pub fn enable_rx_interrupt(&mut self) {
        self.regs.write(IMSC, IMSC_RXIM | IMSC_RTIM);
    }

    /// A received byte, if any.
    pub fn get(&mut self) -> Option<u8> {
        if self.regs.read(FR) & FR_RXFE != 0 {
            None
        } else {
            Some(self.regs.read(DR) as u8)
        }
    }
}
