//! PL011 register offsets, bits and reset values (Arm PrimeCell UART
//! (PL011) Technical Reference Manual r1p5, DDI 0183G, chapter 3).

/// Size of the register window (one 4 KiB page).
pub const WINDOW: u64 = crate::primecell::WINDOW;

/// UARTDR: data.
pub const DR: u64 = 0x000;
/// UARTRSR (read) / UARTECR (write): receive status / error clear.
pub const RSR_ECR: u64 = 0x004;
/// UARTFR: flags (read-only).
pub const FR: u64 = 0x018;
/// UARTILPR: IrDA low-power counter.
pub const ILPR: u64 = 0x020;
/// UARTIBRD: integer baud rate divisor.
pub const IBRD: u64 = 0x024;
/// UARTFBRD: fractional baud rate divisor.
pub const FBRD: u64 = 0x028;
/// UARTLCR_H: line control.
pub const LCR_H: u64 = 0x02C;
/// UARTCR: control.
pub const CR: u64 = 0x030;
/// UARTIFLS: interrupt FIFO level select.
pub const IFLS: u64 = 0x034;
/// UARTIMSC: interrupt mask set/clear.
pub const IMSC: u64 = 0x038;
/// UARTRIS: raw interrupt status (read-only).
pub const RIS: u64 = 0x03C;
/// UARTMIS: masked interrupt status (read-only).
pub const MIS: u64 = 0x040;
/// UARTICR: interrupt clear (write-only, write 1 to clear).
pub const ICR: u64 = 0x044;
/// UARTDMACR: DMA control.
pub const DMACR: u64 = 0x048;
/// UARTPeriphID0; ID registers run to UARTPCellID3 at 0xFFC.
pub const PERIPH_ID0: u64 = crate::primecell::PERIPH_ID0;

/// UARTPeriphID0..3, UARTPCellID0..3 (TRM 3.3.14-3.3.15). PeriphID2 =
/// 0x34: revision 3 (= r1p5, the 32-deep FIFO PL011), designer 0x4 (Arm).
/// Linux's amba-pl011 sizes its FIFO from this revision (32 when >= 3).
pub const ID: [u8; 8] = [0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

/// UARTFR bits.
pub mod fr {
    /// Clear to send (modem input).
    pub const CTS: u32 = 1 << 0;
    /// Data set ready (modem input).
    pub const DSR: u32 = 1 << 1;
    /// Data carrier detect (modem input).
    pub const DCD: u32 = 1 << 2;
    /// UART busy transmitting.
    pub const BUSY: u32 = 1 << 3;
    /// Receive FIFO (or holding register) empty.
    pub const RXFE: u32 = 1 << 4;
    /// Transmit FIFO full.
    pub const TXFF: u32 = 1 << 5;
    /// Receive FIFO full.
    pub const RXFF: u32 = 1 << 6;
    /// Transmit FIFO empty.
    pub const TXFE: u32 = 1 << 7;
    /// Ring indicator (modem input).
    pub const RI: u32 = 1 << 8;
}

/// UARTLCR_H bits.
pub mod lcr_h {
    /// FIFOs enabled; clear = character mode (1-deep holding registers).
    pub const FEN: u32 = 1 << 4;
}

/// UARTCR bits.
pub mod cr {
    /// UART enable.
    pub const UARTEN: u32 = 1 << 0;
    /// Loopback: transmitted data is also received.
    pub const LBE: u32 = 1 << 7;
    /// Transmit enable.
    pub const TXE: u32 = 1 << 8;
    /// Receive enable.
    pub const RXE: u32 = 1 << 9;
    /// Implemented bits: \[15:7\] and \[2:0\] (\[6:3\] are reserved).
    pub const MASK: u32 = 0xFF87;
    /// Reset value: TXE and RXE set, UART disabled.
    pub const RESET: u32 = TXE | RXE;
}

/// Interrupt bits shared by UARTIMSC, UARTRIS, UARTMIS and UARTICR.
pub mod int {
    /// nUARTRI modem interrupt.
    pub const RI: u32 = 1 << 0;
    /// nUARTCTS modem interrupt.
    pub const CTS: u32 = 1 << 1;
    /// nUARTDCD modem interrupt.
    pub const DCD: u32 = 1 << 2;
    /// nUARTDSR modem interrupt.
    pub const DSR: u32 = 1 << 3;
    /// Receive.
    pub const RX: u32 = 1 << 4;
    /// Transmit.
    pub const TX: u32 = 1 << 5;
    /// Receive timeout.
    pub const RT: u32 = 1 << 6;
    /// Framing error.
    pub const FE: u32 = 1 << 7;
    /// Parity error.
    pub const PE: u32 = 1 << 8;
    /// Break error.
    pub const BE: u32 = 1 << 9;
    /// Overrun error.
    pub const OE: u32 = 1 << 10;
    /// All eleven interrupt bits.
    pub const MASK: u32 = 0x7FF;
}

/// UARTRSR bits.
pub mod rsr {
    /// Overrun error.
    pub const OE: u8 = 1 << 3;
}

/// UARTIFLS reset value: both trigger levels at 1/2 full.
pub const IFLS_RESET: u32 = 0x12;
