//! A popped descriptor chain, seen by a device as two byte streams: the
//! device-readable bytes (all readable descriptors in order) and the
//! device-writable bytes (all writable descriptors in order). Devices must
//! not assume any particular framing of a request into descriptors (spec
//! 2.6.4), so they address the streams by offset, never by descriptor.

use crate::mem::{GuestMemory, MemError};
use alloc::vec::Vec;

/// One guest buffer of a chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    /// Guest physical address.
    pub addr: u64,
    /// Length in bytes (never zero: empty descriptors are dropped).
    pub len: u32,
}

/// The buffers of one available-ring entry, validated for shape (no loops,
/// indices in range, readable before writable, lengths that fit) but not for
/// addresses: those are checked by [`GuestMemory`] on each access.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DescriptorChain {
    head: u16,
    /// Descriptors walked, empty ones included.
    descriptors: u16,
    /// The readable buffers, then the writable ones (the spec's order, so
    /// one list serves both: a chain is one allocation, not two).
    segments: Vec<Segment>,
    /// Where the writable buffers start in `segments`.
    first_writable: usize,
    readable_len: u32,
    writable_len: u32,
}

impl DescriptorChain {
    pub(crate) fn new(head: u16) -> DescriptorChain {
        DescriptorChain {
            head,
            descriptors: 0,
            segments: Vec::new(),
            first_writable: 0,
            readable_len: 0,
            writable_len: 0,
        }
    }

    /// Appends a buffer; `None` when the stream length would overflow u32
    /// (the used ring's `len` is 32 bits, so no chain may be longer) or a
    /// readable buffer follows a writable one (the walk refuses that first).
    pub(crate) fn push(&mut self, seg: Segment, writable: bool) -> Option<()> {
        // At most the queue's size: the walk stops there.
        self.descriptors = self.descriptors.saturating_add(1);
        if seg.len == 0 {
            return Some(());
        }
        if writable {
            self.writable_len = self.writable_len.checked_add(seg.len)?;
        } else if self.first_writable == self.segments.len() {
            self.readable_len = self.readable_len.checked_add(seg.len)?;
            self.first_writable += 1;
        } else {
            return None;
        }
        self.segments.push(seg);
        Some(())
    }

    /// The readable (`writable` false) or the writable buffers.
    fn stream(&self, writable: bool) -> &[Segment] {
        let (readable, writable_segs) = self.segments.split_at(self.first_writable);
        if writable {
            writable_segs
        } else {
            readable
        }
    }

    /// How many descriptors the chain is made of, empty ones included.
    pub fn descriptors(&self) -> u16 {
        self.descriptors
    }

    /// Index of the head descriptor: the id the used ring entry must carry.
    pub fn head(&self) -> u16 {
        self.head
    }

    /// Total device-readable bytes.
    pub fn readable_len(&self) -> u32 {
        self.readable_len
    }

    /// Total device-writable bytes.
    pub fn writable_len(&self) -> u32 {
        self.writable_len
    }

    /// The guest buffers holding `len` bytes of the readable (`writable`
    /// false) or writable stream from `offset`, in order, as guest
    /// addresses; fewer bytes than `len` when the stream ends first.
    pub fn pieces(&self, writable: bool, offset: u32, len: u32) -> Vec<Segment> {
        let segs = self.stream(writable);
        let mut pieces = Vec::with_capacity(segs.len());
        let _ = for_each_piece(segs, offset, len as usize, |addr, _, n| {
            // n is at most a segment's u32 length.
            pieces.push(Segment {
                addr,
                len: n as u32,
            });
            Ok(())
        });
        pieces
    }

    /// Copies readable bytes from stream offset `offset` into `buf`. Returns
    /// how many bytes were copied: less than `buf.len()` only when the
    /// stream ends first.
    pub fn read_at(
        &self,
        mem: &dyn GuestMemory,
        offset: u32,
        buf: &mut [u8],
    ) -> Result<usize, MemError> {
        let mut done = 0;
        for_each_piece(self.stream(false), offset, buf.len(), |addr, at, n| {
            mem.read(addr, &mut buf[at..at + n])?;
            done += n;
            Ok(())
        })?;
        Ok(done)
    }

    /// Copies `buf` into the writable stream at offset `offset`. Returns how
    /// many bytes were written: less than `buf.len()` only when the stream
    /// ends first.
    pub fn write_at(
        &self,
        mem: &mut dyn GuestMemory,
        offset: u32,
        buf: &[u8],
    ) -> Result<usize, MemError> {
        let mut done = 0;
        for_each_piece(self.stream(true), offset, buf.len(), |addr, at, n| {
            mem.write(addr, &buf[at..at + n])?;
            done += n;
            Ok(())
        })?;
        Ok(done)
    }
}

/// Walks the part of a segment stream covering `len` bytes from `offset`,
/// calling `f(guest_addr, buf_offset, n)` once per contiguous piece.
fn for_each_piece(
    segs: &[Segment],
    offset: u32,
    len: usize,
    mut f: impl FnMut(u64, usize, usize) -> Result<(), MemError>,
) -> Result<(), MemError> {
    let mut skip = u64::from(offset);
    let mut at = 0usize;
    for seg in segs {
        if at == len {
            break;
        }
        let seg_len = u64::from(seg.len);
        if skip >= seg_len {
            skip -= seg_len;
            continue;
        }
        // Both bounded by seg.len (u32), so the casts cannot truncate.
        let avail = (seg_len - skip) as usize;
        let n = avail.min(len - at);
        // addr + len was checked not to wrap when the chain was built.
        f(seg.addr + skip, at, n)?;
        at += n;
        skip = 0;
    }
    Ok(())
}
