//! Counting samples by key and keeping the largest counts, without `alloc`.

/// Counts of `u64` keys (e.g. sampled PCs) in a fixed open-addressing table
/// of `CAP` slots (linear probing), reporting the `N` largest counts.
///
/// Plain data for regular code (the pNMI side only pushes into a
/// [`SampleRing`](crate::SampleRing)). Every operation is bounded by `CAP`
/// probes; once the table is full, records of keys not already in it are
/// counted in [`untracked`](Self::untracked) instead of being lost silently.
/// `CAP * 16` bytes: keep it in a `static` or on the heap, not on a small
/// stack.
#[derive(Clone, Debug)]
pub struct TopN<const N: usize, const CAP: usize = 512> {
    /// `(key, count)`; a count of 0 marks an empty slot, so any key
    /// (including 0) can be counted.
    table: [(u64, u64); CAP],
    distinct: usize,
    total: u64,
    untracked: u64,
}

/// The `N` largest counts: `(key, count)`, largest count first, ties by
/// ascending key (deterministic reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Top<const N: usize> {
    entries: [(u64, u64); N],
    len: usize,
}

impl<const N: usize> Top<N> {
    /// The entries, largest count first.
    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.entries[..self.len]
    }
}

impl<const N: usize, const CAP: usize> TopN<N, CAP> {
    const VALID: () = assert!(CAP > 0, "TopN needs at least one slot");

    /// An empty table.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        TopN {
            table: [(0, 0); CAP],
            distinct: 0,
            total: 0,
            untracked: 0,
        }
    }

    /// Count one more occurrence of `key`.
    pub fn record(&mut self, key: u64) {
        self.add(key, 1);
    }

    /// Count `weight` more occurrences of `key` (a weight of 0 is ignored).
    pub fn add(&mut self, key: u64, weight: u64) {
        if weight == 0 {
            return;
        }
        self.total = self.total.saturating_add(weight);
        let start = Self::home(key);
        for probe in 0..CAP {
            let slot = &mut self.table[(start + probe) % CAP];
            if slot.1 == 0 {
                *slot = (key, weight);
                self.distinct += 1;
                return;
            }
            if slot.0 == key {
                slot.1 = slot.1.saturating_add(weight);
                return;
            }
        }
        self.untracked = self.untracked.saturating_add(weight);
    }

    /// The count of `key` (0 if never seen or untracked).
    pub fn count(&self, key: u64) -> u64 {
        let start = Self::home(key);
        for probe in 0..CAP {
            let (k, c) = self.table[(start + probe) % CAP];
            if c == 0 {
                return 0;
            }
            if k == key {
                return c;
            }
        }
        0
    }

    /// The `N` keys with the largest counts.
    pub fn top(&self) -> Top<N> {
        let mut top = Top {
            entries: [(0, 0); N],
            len: 0,
        };
        for &(key, count) in self.table.iter().filter(|e| e.1 != 0) {
            // Position among the kept entries (sorted: count desc, key asc).
            let pos = top.entries[..top.len]
                .iter()
                .position(|&(k, c)| count > c || (count == c && key < k))
                .unwrap_or(top.len);
            if pos >= N {
                continue;
            }
            let end = if top.len < N { top.len } else { N - 1 };
            top.entries.copy_within(pos..end, pos + 1);
            top.entries[pos] = (key, count);
            top.len = (top.len + 1).min(N);
        }
        top
    }

    /// Sum of every weight added, tracked or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Weight of records whose key found no free slot (the table was full).
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Number of distinct keys in the table.
    pub fn distinct(&self) -> usize {
        self.distinct
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// First slot to probe: a Fibonacci hash, so PCs that differ only in
    /// low bits (instructions of one function) spread over the table.
    fn home(key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % CAP
    }
}

impl<const N: usize, const CAP: usize> Default for TopN<N, CAP> {
    fn default() -> Self {
        Self::new()
    }
}
