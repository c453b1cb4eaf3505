//! The host console's UART, whichever kind the machine has: the console
//! asks for bytes in and out and never needs to know which.

use super::cadence_uart::CadenceUart;
use super::imx_uart::ImxUart;
use super::ns16550::Ns16550;
use super::pl011::Pl011;
use aerie_dt::UartKind;

pub enum HostUart {
    Pl011(Pl011),
    Imx(ImxUart),
    Ns16550(Ns16550),
    Cadence(CadenceUart),
}

impl HostUart {
    /// The UART of `kind` at `base`, set up to transmit and receive.
    ///
    /// # Safety
    /// `base` must be the virtual address of that UART's mapped registers,
    /// used by nobody else.
    pub unsafe fn new(base: u64, kind: UartKind) -> Self {
        // SAFETY: per the contract.
        unsafe {
            match kind {
                UartKind::Pl011 => HostUart::Pl011(Pl011::new(base, false)),
                UartKind::Sbsa => HostUart::Pl011(Pl011::new(base, true)),
                UartKind::Imx => HostUart::Imx(ImxUart::new(base)),
                UartKind::Ns16550 { .. } | UartKind::MiniUart => {
                    let (shift, width) = kind.ns16550_layout().unwrap_or((0, 1));
                    HostUart::Ns16550(Ns16550::new(base, shift, width))
                }
                UartKind::Cadence => HostUart::Cadence(CadenceUart::new(base)),
            }
        }
    }

    /// A second, transmit-only view of a UART `new` set up.
    ///
    /// # Safety
    /// As for `new`, except that another view may exist: callers only
    /// transmit, which is safe to interleave.
    pub unsafe fn attach(base: u64, kind: UartKind) -> Self {
        // SAFETY: per the contract.
        unsafe {
            match kind {
                UartKind::Pl011 | UartKind::Sbsa => HostUart::Pl011(Pl011::attach(base)),
                UartKind::Imx => HostUart::Imx(ImxUart::attach(base)),
                UartKind::Ns16550 { .. } | UartKind::MiniUart => {
                    let (shift, width) = kind.ns16550_layout().unwrap_or((0, 1));
                    HostUart::Ns16550(Ns16550::attach(base, shift, width))
                }
                UartKind::Cadence => HostUart::Cadence(CadenceUart::attach(base)),
            }
        }
    }

    pub fn put(&mut self, byte: u8) {
        match self {
            HostUart::Pl011(u) => u.put(byte),
            HostUart::Imx(u) => u.put(byte),
            HostUart::Ns16550(u) => u.put(byte),
            HostUart::Cadence(u) => u.put(byte),
        }
    }

    /// A received byte, if any.
    pub fn get(&mut self) -> Option<u8> {
        match self {
            HostUart::Pl011(u) => u.get(),
            HostUart::Imx(u) => u.get(),
            HostUart::Ns16550(u) => u.get(),
            HostUart::Cadence(u) => u.get(),
        }
    }

    /// Interrupt while received bytes wait (a level: reading them all
    /// lowers it).
    pub fn enable_rx_interrupt(&mut self) {
        match self {
            HostUart::Pl011(u) => u.enable_rx_interrupt(),
            HostUart::Imx(u) => u.enable_rx_interrupt(),
            HostUart::Ns16550(u) => u.enable_rx_interrupt(),
            HostUart::Cadence(u) => u.enable_rx_interrupt(),
        }
    }
}
