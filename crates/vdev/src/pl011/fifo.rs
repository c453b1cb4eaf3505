//! The PL011 receive FIFO: 32 bytes deep (r1p5), a fixed ring buffer so
//! push and pop are a few instructions with no loops.

/// Depth of the r1p5 FIFOs.
pub const DEPTH: usize = 32;

/// A fixed-capacity byte ring.
#[derive(Clone, Debug)]
pub struct RxFifo {
    buf: [u8; DEPTH],
    head: u8,
    len: u8,
}

impl RxFifo {
    /// An empty FIFO.
    pub const fn new() -> RxFifo {
        RxFifo {
            buf: [0; DEPTH],
            head: 0,
            len: 0,
        }
    }

    /// Bytes waiting.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// No bytes waiting.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a byte; the caller checks capacity (the effective depth
    /// depends on LCR_H.FEN). Returns false only when the ring is full.
    #[inline]
    pub fn push(&mut self, b: u8) -> bool {
        if self.len() == DEPTH {
            return false;
        }
        let tail = (self.head as usize + self.len()) % DEPTH;
        self.buf[tail] = b;
        self.len += 1;
        true
    }

    /// Removes the oldest byte.
    #[inline]
    pub fn pop(&mut self) -> Option<u8> {
        if self.is_empty() {
            return None;
        }
        let b = self.buf[self.head as usize];
        self.head = ((self.head as usize + 1) % DEPTH) as u8;
        self.len -= 1;
        Some(b)
    }

    /// Drops everything.
    #[inline]
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

impl Default for RxFifo {
    fn default() -> Self {
        RxFifo::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_wraparound() {
        let mut f = RxFifo::new();
        for round in 0..3u8 {
            for i in 0..DEPTH as u8 {
                assert!(f.push(round.wrapping_mul(50).wrapping_add(i)));
            }
            assert!(!f.push(0xFF));
            assert_eq!(f.len(), DEPTH);
            // Drain half, refill half: exercises the wrap.
            for i in 0..16u8 {
                assert_eq!(f.pop(), Some(round.wrapping_mul(50).wrapping_add(i)));
            }
            for i in 0..16u8 {
                assert!(f.push(200 + i));
            }
            for i in 16..DEPTH as u8 {
                assert_eq!(f.pop(), Some(round.wrapping_mul(50).wrapping_add(i)));
            }
            for i in 0..16u8 {
                assert_eq!(f.pop(), Some(200 + i));
            }
            assert_eq!(f.pop(), None);
        }
        f.push(1);
        f.clear();
        assert!(f.is_empty());
    }
}
