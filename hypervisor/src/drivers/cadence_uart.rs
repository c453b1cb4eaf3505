//! The host's Cadence UART (Xilinx Zynq and ZynqMP, `cdns,uart-r1p12`),
//! polled for transmit, interrupting on receive. Register names and bits
//! are those of the ZynqMP's register reference (UG1087, UART).

use super::registers::Registers;

/// Control: enables and resets.
const CR: usize = 0x00;
/// Interrupt enable and disable (write ones), and the mask they set.
const IER: usize = 0x08;
/// Channel interrupt status: events latched until written back as ones.
const ISR: usize = 0x14;
/// Receiver FIFO trigger level.
const RXWM: usize = 0x20;
/// Channel status: the FIFOs' levels now.
const SR: usize = 0x2c;
/// Transmit and receive FIFO.
const FIFO: usize = 0x30;

const CR_RX_EN: u32 = 1 << 2;
const CR_RX_DIS: u32 = 1 << 3;
const CR_TX_EN: u32 = 1 << 4;
const CR_TX_DIS: u32 = 1 << 5;
/// ISR and IER: the receive FIFO holds RXWM bytes or more.
const INTR_RTRIG: u32 = 1 << 0;
/// SR: the receive FIFO is empty.
const SR_RXEMPTY: u32 = 1 << 1;
/// SR: the transmit FIFO is full.
const SR_TXFULL: u32 = 1 << 4;

pub struct CadenceUart {
    regs: Registers,
}

impl CadenceUart {
    /// The UART at `base`, with its transmitter and receiver on. Line
    /// settings (baud rate, word size) stay as the boot loader left them;
    /// only the enables change.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped Cadence UART's
    /// registers, used by nobody else.
    pub unsafe fn new(base: u64) -> Self {
        let uart = CadenceUart {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        };
        // An enable takes effect only with its disable bit clear.
        let cr = uart.regs.read(CR) & !(CR_RX_DIS | CR_TX_DIS);
        uart.regs.write(CR, cr | CR_RX_EN | CR_TX_EN);
        uart
    }

    /// A second view of an already initialised UART (no register writes).
    ///
    /// # Safety
    /// As for `new`, except that another view may exist: callers only
    /// transmit, which is safe to interleave.
    pub unsafe fn attach(base: u64) -> Self {
        CadenceUart {
            // SAFETY: per this function's contract.
            regs: unsafe { Registers::new(base) },
        }
    }

    pub fn put(&mut self, byte: u8) {
        while self.regs.read(SR) & SR_TXFULL != 0 {
            core::hint::spin_loop();
        }
        self.regs.write(FIFO, u32::from(byte));
    }

    /// Interrupt when input arrives: from the first byte (trigger level 1).
    pub fn enable_rx_interrupt(&mut self) {
        self.regs.write(RXWM, 1);
        self.regs.write(ISR, INTR_RTRIG);
        self.regs.write(IER, INTR_RTRIG);
    }

    /// A received byte, if any. The trigger event is latched, not a level:
    /// once the FIFO is found empty it is cleared, so the interrupt drops,
    /// and the FIFO looked at once more, for a byte that arrived between
    /// (its event came before the clear, so nothing else would tell).
    pub fn get(&mut self) -> Option<u8> {
        if self.rx_empty() {
            self.regs.write(ISR, INTR_RTRIG);
            if self.rx_empty() {
                return None;
            }
        }
        Some(self.regs.read(FIFO) as u8)
    }

    fn rx_empty(&self) -> bool {
        self.regs.read(SR) & SR_RXEMPTY != 0
    }
}
