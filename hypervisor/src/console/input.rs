//! Console input: bytes typed on the host UART wait here (taken from the
//! UART by its interrupt, which reading it empty acknowledges) until the
//! machine hands them to the VM with the focus.

use super::CONSOLE;
use spin::Mutex;

/// Typed bytes taken from the UART but not yet given to a VM. Bounded: a
/// flood of input is dropped rather than exhausting memory.
static INPUT: Mutex<Ring> = Mutex::new(Ring::new());

/// Move what the UART has received into the input buffer (from the
/// interrupt path: reading the FIFO empty is what lowers its line).
pub fn receive() {
    if let Some(console) = CONSOLE.lock().as_mut() {
        let mut input = INPUT.lock();
        while let Some(b) = console.uart.get() {
            input.push(b);
        }
    }
}

/// Bytes typed on the console since the last call, into `buf`.
pub fn read_input(buf: &mut [u8]) -> usize {
    let mut input = INPUT.lock();
    let mut n = 0;
    while n < buf.len() {
        match input.pop() {
            Some(b) => {
                buf[n] = b;
                n += 1;
            }
            None => break,
        }
    }
    n
}

/// A fixed ring of bytes, usable in a static.
const SIZE: usize = 4096;

struct Ring {
    buf: [u8; SIZE],
    head: usize,
    len: usize,
}

impl Ring {
    pub const fn new() -> Self {
        Ring {
            buf: [0; SIZE],
            head: 0,
            len: 0,
        }
    }

    /// Append `b`; dropped when full.
    pub fn push(&mut self, b: u8) {
        if self.len < SIZE {
            self.buf[(self.head + self.len) % SIZE] = b;
            self.len += 1;
        }
    }

    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % SIZE;
        self.len -= 1;
        Some(b)
    }
}
