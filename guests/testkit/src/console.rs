//! PL011 console output (polled, transmit only).

use core::fmt;

/// PL011 base address in the guest's `virt`-shaped machine.
pub const PL011_BASE: usize = 0x0900_0000;
/// UARTDR: data register.
const UARTDR: usize = 0x000;
/// UARTFR: flag register.
pub const UARTFR: usize = 0x018;
/// UARTFR.TXFF: transmit FIFO full.
pub const UARTFR_TXFF: u32 = 1 << 5;

/// Reads a 32-bit PL011 register.
pub fn read_reg(offset: usize) -> u32 {
    // SAFETY: PL011_BASE + offset is the UART's MMIO window (offsets < 0x1000,
    // 4-aligned), always mapped for this machine; a volatile aligned read has no
    // effect on Rust memory.
    unsafe { core::ptr::read_volatile((PL011_BASE + offset) as *const u32) }
}

fn write_byte(byte: u8) {
    // Bounded wait: a wedged UART must not hang the run; dropping output is better.
    for _ in 0..1_000_000 {
        if read_reg(UARTFR) & UARTFR_TXFF == 0 {
            break;
        }
    }
    // SAFETY: UARTDR is the PL011 data register (aligned MMIO); writing it queues a byte.
    unsafe { core::ptr::write_volatile((PL011_BASE + UARTDR) as *mut u32, u32::from(byte)) };
}

/// A `fmt::Write` sink for the UART.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(write_byte);
        Ok(())
    }
}

/// Prints formatted text (used by `println!`).
pub fn print(args: fmt::Arguments<'_>) {
    // Console::write_str never fails.
    let _ = fmt::Write::write_fmt(&mut Console, args);
}

macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use println;
