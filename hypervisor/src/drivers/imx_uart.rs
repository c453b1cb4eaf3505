//! The host's i.MX UART (NXP i.MX 6/7/8, `fsl,imx21-uart`), polled for
//! transmit, interrupting on receive. Register names and bits are those of
//! the i.MX 8M Plus reference manual's UART chapter.

use super::registers::Registers;

/// Receiver: a byte in bits 7:0.
const URXD: usize = 0x00;
/// Transmitter.
const UTXD: usize = 0x40;
const UCR1: usize = 0x80;
const UCR2: usize = 0x84;
const UCR4: usize = 0x8c;
const UFCR: usize = 0x90;
const USR2: usize = 0x98;
const UTS: usize = 0xb4;

const UCR1_UARTEN: u32 = 1 << 0;
/// Receiver-ready interrupt: the receive FIFO holds at least UFCR.RXTL.
const UCR1_RRDYEN: u32 = 1 << 9;
/// Not in reset (the bit is active low: writing 0 resets the UART).
const UCR2_SRST: u32 = 1 << 0;
const UCR2_RXEN: u32 = 1 << 1;
const UCR2_TXEN: u32 = 1 << 2;
/// Receive-data-ready interrupt: at least one byte waits.
const UCR4_DREN: u32 = 1 << 0;
/// UFCR.RXTL, the receive FIFO's interrupt threshold (bits 5:0).
const UFCR_RXTL: u32 = 0x3f;
/// USR2.RDR: a received byte waits in the FIFO.
const USR2_RDR: u32 = 1 << 0;
/// UTS.TXFULL: the transmit FIFO is full.
const UTS_TXFULL: u32 = 1 << 4;

pub struct ImxUart {
    regs: Registers,
}

impl ImxUart {
    /// The UART at `base`, with its transmitter and receiver on. Line
    /// settings (baud rate, word size) stay as the boot loader left them;
    /// only the enables are added, and the reset bit is kept released.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped i.MX UART's
    /// registers, used by nobody else.
    pub unsafe fn new(base: u64) -> Self {
        let uart = ImxUart {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        };
        uart.regs.write(UCR1, uart.regs.read(UCR1) | UCR1_UARTEN);
        uart.regs.write(
            UCR2,
            uart.regs.read(UCR2) | UCR2_SRST | UCR2_RXEN | UCR2_TXEN,
        );
        uart
    }

    /// A second view of an already initialised UART (no register writes).
    ///
    /// # Safety
    /// As for `new`, except that another view may exist: callers only
    /// transmit, which is safe to interleave.
    pub unsafe fn attach(base: u64) -> Self {
        ImxUart {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        }
    }

    pub fn put(&mut self, byte: u8) {
        while self.regs.read(UTS) & UTS_TXFULL != 0 {
            core::hint::spin_loop();
        }
        self.regs.write(UTXD, byte as u32);
    }

    /// Interrupt when input arrives: from the first byte (threshold 1), as
    /// a level that reading the FIFO empty lowers.
    pub fn enable_rx_interrupt(&mut self) {
        self.regs
            .write(UFCR, (self.regs.read(UFCR) & !UFCR_RXTL) | 1);
        self.regs.write(UCR4, self.regs.read(UCR4) | UCR4_DREN);
        self.regs.write(UCR1, self.regs.read(UCR1) | UCR1_RRDYEN);
    }

    /// A received byte, if any.
    pub fn get(&mut self) -> Option<u8> {
        if self.regs.read(USR2) & USR2_RDR == 0 {
            None
        } else {
            Some(self.regs.read(URXD) as u8)
        }
    }
}
