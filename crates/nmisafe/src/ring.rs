//! A lock-free single-producer / single-consumer ring of `u64` records.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::context::NmiContext;

/// `N` slots of `u64`, written by one producer (the pNMI handler of one CPU,
/// so keep one ring per CPU, e.g. in a [`PerCpu`](crate::PerCpu)) and
/// drained by regular code through a [`RingReader`].
///
/// **When full, new records are dropped** (and counted, see
/// [`dropped`](Self::dropped)), rather than overwriting the oldest:
/// overwriting would need the producer to move the consumer's index, which
/// races with a reader in the middle of a read and breaks the
/// single-writer-per-index rule that keeps this lock-free without a CAS
/// loop. For a sampling profiler losing the newest samples while the
/// reader is late is as good as losing the oldest, and the drop count says
/// how much was lost.
///
/// `head` and `tail` are free-running counters (wrapping); `N` must be a
/// power of two so `counter % N` stays continuous across the wrap.
#[derive(Debug)]
pub struct SampleRing<const N: usize> {
    slots: [AtomicU64; N],
    /// Records ever pushed; written only by the producer.
    head: AtomicUsize,
    /// Records ever consumed; written only by the reader.
    tail: AtomicUsize,
    dropped: AtomicU64,
    /// Set while a [`RingReader`] exists: at most one consumer at a time.
    reading: AtomicBool,
}

impl<const N: usize> SampleRing<N> {
    const VALID: () = assert!(
        N.is_power_of_two(),
        "SampleRing size must be a power of two"
    );

    /// An empty ring (const: usable in a `static`).
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        SampleRing {
            slots: [const { AtomicU64::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            reading: AtomicBool::new(false),
        }
    }

    /// Append `value`; returns `false` (and counts a drop) if the ring is
    /// full. Wait-free: a few atomic loads and stores, no loop.
    ///
    /// The `NmiContext` is the promise that the caller is this ring's only
    /// producer: the pNMI handler of the ring's CPU, which cannot nest.
    pub fn push(&self, _: &NmiContext, value: u64) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        // Acquire pairs with the reader's Release of `tail`: its read of the
        // slot we are about to reuse has completed.
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) >= N {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.slots[head % N].store(value, Ordering::Relaxed);
        // Release publishes the slot before the new head.
        self.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Become the ring's reader, or `None` if another reader is active.
    pub fn reader(&self) -> Option<RingReader<'_, N>> {
        self.reading
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| RingReader { ring: self })
    }

    /// Records waiting to be read (a snapshot).
    pub fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        head.wrapping_sub(tail).min(N)
    }

    /// Whether no record is waiting (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records refused because the ring was full, since creation.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Slots in the ring (`N`).
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for SampleRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The ring's one consumer (regular code). Dropping it lets another reader in.
#[derive(Debug)]
pub struct RingReader<'a, const N: usize> {
    ring: &'a SampleRing<N>,
}

impl<const N: usize> RingReader<'_, N> {
    /// Take the oldest record, if any.
    pub fn pop(&mut self) -> Option<u64> {
        let ring = self.ring;
        let tail = ring.tail.load(Ordering::Relaxed);
        // Acquire pairs with the producer's Release of `head`: the slot's
        // value is visible.
        let head = ring.head.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        let value = ring.slots[tail % N].load(Ordering::Relaxed);
        // Release: our read of the slot happens before the producer reuses it.
        ring.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(value)
    }

    /// Pop every record present now, oldest first, into `f`; returns how many.
    /// Records pushed meanwhile may or may not be included.
    pub fn drain(&mut self, mut f: impl FnMut(u64)) -> usize {
        let mut n = 0;
        while let Some(v) = self.pop() {
            f(v);
            n += 1;
            if n == N {
                // Bounded: a fast producer cannot keep the reader here forever.
                break;
            }
        }
        n
    }
}

impl<const N: usize> Drop for RingReader<'_, N> {
    fn drop(&mut self) {
        self.ring.reading.store(false, Ordering::Release);
    }
}
