//! Frames for the guest waiting for the driver to post receive buffers.
//! Bounded, so a guest that never reads its network cannot make the
//! hypervisor's heap grow; when full, new frames are dropped (as a NIC
//! drops on a full receive ring).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Frames the backlog holds at most.
pub const BACKLOG_FRAMES: usize = 256;

/// FIFO of whole frames.
#[derive(Clone, Debug)]
pub struct Backlog {
    frames: VecDeque<Vec<u8>>,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog::new()
    }
}

impl Backlog {
    /// An empty backlog with its slot array allocated up front.
    pub fn new() -> Backlog {
        Backlog {
            frames: VecDeque::with_capacity(BACKLOG_FRAMES),
        }
    }

    /// Appends a copy of `frame`; false (and nothing kept) when full.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if self.frames.len() >= BACKLOG_FRAMES {
            return false;
        }
        self.frames.push_back(frame.to_vec());
        true
    }

    /// The oldest waiting frame.
    pub fn front(&self) -> Option<&[u8]> {
        self.frames.front().map(Vec::as_slice)
    }

    /// Drops the oldest frame (after it was delivered or given up on).
    pub fn pop(&mut self) {
        self.frames.pop_front();
    }

    /// Number of frames waiting.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}
