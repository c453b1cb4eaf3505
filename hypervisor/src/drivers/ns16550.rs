//! A 16550-compatible UART, the 8250 family: the console of Rockchip, TI,
//! MediaTek and many other boards (`ns16550a`, `snps,dw-apb-uart`), and the
//! Raspberry Pi's mini UART, a subset of it. Polled for transmit,
//! interrupting on receive. Register names and bits are the 16550's; the
//! registers sit `1 << shift` bytes apart, each read and written `width`
//! bytes wide (1 or 4), as the device tree says.

/// Receiver buffer (read) and transmitter holding register (write).
const RBR_THR: usize = 0;
/// Interrupt enable.
const IER: usize = 1;
/// Line status.
const LSR: usize = 5;
/// IER: received data available.
const IER_ERBFI: u8 = 1 << 0;
/// LSR: a received byte waits.
const LSR_DR: u8 = 1 << 0;
/// LSR: the transmitter holding register (or FIFO) can take a byte.
const LSR_THRE: u8 = 1 << 5;

pub struct Ns16550 {
    base: usize,
    shift: u8,
    width: u8,
}

impl Ns16550 {
    /// The UART at `base` with registers `1 << shift` bytes apart, `width`
    /// bytes wide, its interrupts off. Line settings (baud rate, word
    /// size, FIFOs) stay as the boot loader left them.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped 16550's registers
    /// with that layout (covering register 7), used by nobody else.
    pub unsafe fn new(base: u64, shift: u8, width: u8) -> Self {
        // SAFETY: per this function's contract.
        let uart = unsafe { Ns16550::attach(base, shift, width) };
        uart.write(IER, 0);
        uart
    }

    /// A second view of an already initialised UART (no register writes).
    ///
    /// # Safety
    /// As for `new`, except that another view may exist: callers only
    /// transmit, which is safe to interleave.
    pub unsafe fn attach(base: u64, shift: u8, width: u8) -> Self {
        Ns16550 {
            base: base as usize,
            shift,
            width,
        }
    }

    fn read(&self, reg: usize) -> u8 {
        let addr = self.base + (reg << self.shift);
        // SAFETY: one of the UART's registers, mapped as device memory, at
        // the width its tree gives (`new`).
        unsafe {
            if self.width == 4 {
                core::ptr::read_volatile(addr as *const u32) as u8
            } else {
                core::ptr::read_volatile(addr as *const u8)
            }
        }
    }

    fn write(&self, reg: usize, value: u8) {
        let addr = self.base + (reg << self.shift);
        // SAFETY: as for `read`.
        unsafe {
            if self.width == 4 {
                core::ptr::write_volatile(addr as *mut u32, u32::from(value))
            } else {
                core::ptr::write_volatile(addr as *mut u8, value)
            }
        }
    }

    pub fn put(&mut self, byte: u8) {
        while self.read(LSR) & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        self.write(RBR_THR, byte);
    }

    /// Interrupt while received bytes wait (a level: reading them all
    /// lowers it).
    pub fn enable_rx_interrupt(&mut self) {
        self.write(IER, IER_ERBFI);
    }

    /// A received byte, if any.
    pub fn get(&mut self) -> Option<u8> {
        (self.read(LSR) & LSR_DR != 0).then(|| self.read(RBR_THR))
    }
}
