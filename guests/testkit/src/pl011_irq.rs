//! The PL011's interrupt registers (PL011 TRM DDI 0183 §3.3.10-3.3.12). The
//! transmit interrupt (TXINTR) is asserted while the TX FIFO is at or below
//! its trigger level; a UART that drains instantly (emulated ones) is always
//! there, so setting the mask bit TXIM raises the UART's SPI on demand and
//! clearing it lowers the level again.

use crate::console::{read_reg, PL011_BASE};

/// UARTIMSC: interrupt mask set/clear (1 = enabled).
pub const UARTIMSC: usize = 0x038;
/// UARTRIS: raw interrupt status.
pub const UARTRIS: usize = 0x03c;
/// UARTMIS: masked interrupt status (RIS & IMSC).
pub const UARTMIS: usize = 0x040;
/// The transmit interrupt's bit in IMSC, RIS and MIS.
pub const TX: u32 = 1 << 5;

/// The PL011's SPI on `virt` (SPI 1, level-high).
pub const UART_INTID: u32 = 33;

pub fn write_reg(offset: usize, value: u32) {
    // SAFETY: PL011_BASE + offset is one of the UART's interrupt registers
    // (aligned MMIO, always mapped); writing it only changes which UART
    // interrupts are enabled.
    unsafe { core::ptr::write_volatile((PL011_BASE + offset) as *mut u32, value) };
}

pub fn interrupt_mask() -> u32 {
    read_reg(UARTIMSC)
}

/// Writes UARTIMSC; `tx` decides TXIM, the other enables stay `base`'s.
pub fn set_tx_interrupt(base: u32, tx: bool) {
    write_reg(UARTIMSC, if tx { base | TX } else { base & !TX });
}
