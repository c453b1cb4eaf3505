//! Host keystrokes waiting for the driver to post receive buffers. Bounded,
//! so a guest that never reads its console cannot make the hypervisor's
//! heap grow; when full, new input is dropped (like a UART overrun).

use alloc::collections::VecDeque;

/// Bytes the ring holds at most.
pub const INPUT_CAPACITY: usize = 4096;

/// FIFO of pending input bytes.
#[derive(Clone, Debug)]
pub struct InputRing {
    bytes: VecDeque<u8>,
}

impl Default for InputRing {
    fn default() -> Self {
        InputRing::new()
    }
}

impl InputRing {
    /// An empty ring with its storage allocated up front.
    pub fn new() -> InputRing {
        InputRing {
            bytes: VecDeque::with_capacity(INPUT_CAPACITY),
        }
    }

    /// Appends as much of `input` as fits; returns how many bytes were taken.
    pub fn push(&mut self, input: &[u8]) -> usize {
        let n = input.len().min(INPUT_CAPACITY - self.bytes.len());
        self.bytes.extend(&input[..n]);
        n
    }

    /// Number of bytes waiting.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The oldest waiting bytes that are contiguous in storage (non-empty
    /// unless the ring is).
    pub fn front(&self) -> &[u8] {
        self.bytes.as_slices().0
    }

    /// Drops the `n` oldest bytes (after they were delivered).
    pub fn consume(&mut self, n: usize) {
        self.bytes.drain(..n.min(self.bytes.len()));
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }
}
