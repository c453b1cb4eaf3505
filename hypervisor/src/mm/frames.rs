//! Physical page frames: RAM that Aerie does not occupy, handed out in
//! power-of-two blocks (naturally aligned, which stage-2 block mappings like).

use aerie_pagetable::PAGE_SIZE;
use alloc::vec::Vec;
use buddy_system_allocator::FrameAllocator;
use spin::Mutex;

static FRAMES: Mutex<FrameAllocator<32>> = Mutex::new(FrameAllocator::new());
static TOTAL: Mutex<u64> = Mutex::new(0);

/// A physical range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

/// Hand `ram` minus `busy` to the allocator. Returns the bytes added.
pub fn init(ram: &[Range], busy: &[Range]) -> u64 {
    let mut free: Vec<Range> = ram.to_vec();
    for b in busy {
        let mut next = Vec::new();
        for r in free {
            if b.end <= r.start || b.start >= r.end {
                next.push(r);
                continue;
            }
            if b.start > r.start {
                next.push(Range {
                    start: r.start,
                    end: b.start,
                });
            }
            if b.end < r.end {
                next.push(Range {
                    start: b.end,
                    end: r.end,
                });
            }
        }
        free = next;
    }
    let mut added = 0;
    let mut frames = FRAMES.lock();
    for r in free {
        let start = r.start.div_ceil(PAGE_SIZE);
        let end = r.end / PAGE_SIZE;
        if end > start {
            frames.add_frame(start as usize, end as usize);
            added += (end - start) * PAGE_SIZE;
        }
    }
    *TOTAL.lock() += added;
    added
}

/// `bytes` of contiguous physical memory, aligned to its size rounded up to
/// a power of two. Contents are not cleared.
pub fn alloc(bytes: u64) -> Option<u64> {
    let count = bytes.div_ceil(PAGE_SIZE) as usize;
    FRAMES.lock().alloc(count).map(|f| f as u64 * PAGE_SIZE)
}

/// Return what [`alloc`] gave out for `bytes`.
pub fn free(pa: u64, bytes: u64) {
    let count = bytes.div_ceil(PAGE_SIZE) as usize;
    FRAMES.lock().dealloc((pa / PAGE_SIZE) as usize, count);
}

/// Bytes handed to the allocator at boot.
pub fn total() -> u64 {
    *TOTAL.lock()
}
