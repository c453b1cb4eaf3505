//! Frames for the guest waiting for the driver to post receive buffers.
//! Bounded in frames and in bytes (an offloaded packet may be 64 KiB), so a
//! guest that never reads its network cannot make the hypervisor's heap
//! grow; when full, new frames are dropped (as a NIC drops on a full
//! receive ring).

use super::offload::Packet;
use alloc::collections::VecDeque;

/// Frames the backlog holds at most.
pub const BACKLOG_FRAMES: usize = 256;
/// Frame bytes the backlog holds at most: every slot full of whole frames,
/// or a few dozen offloaded packets.
pub const BACKLOG_BYTES: usize = 1 << 20;

/// FIFO of packets.
#[derive(Clone, Debug)]
pub struct Backlog {
    frames: VecDeque<Packet>,
    bytes: usize,
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
            bytes: 0,
        }
    }

    /// Appends `packet`; false (and nothing kept) when full.
    pub fn push(&mut self, packet: Packet) -> bool {
        let len = packet.frame.len();
        if self.frames.len() >= BACKLOG_FRAMES || self.bytes + len > BACKLOG_BYTES {
            return false;
        }
        self.bytes += len;
        self.frames.push_back(packet);
        true
    }

    /// The oldest waiting packet.
    pub fn front(&self) -> Option<&Packet> {
        self.frames.front()
    }

    /// Drops the oldest packet (after it was delivered or given up on).
    pub fn pop(&mut self) {
        if let Some(p) = self.frames.pop_front() {
            self.bytes -= p.frame.len();
        }
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
        self.bytes = 0;
    }
}
