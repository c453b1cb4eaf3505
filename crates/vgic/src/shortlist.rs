//! The best `capacity` candidates by key (lower is better), kept sorted in
//! a fixed array: no allocation, and nothing moves while there are fewer
//! candidates than list registers, which is the common case.

use crate::MAX_LIST_REGISTERS;

pub(crate) struct Shortlist {
    keys: [u32; MAX_LIST_REGISTERS],
    len: usize,
    capacity: usize,
    /// Every candidate offered, kept or not (to detect underflow).
    pub offered: usize,
}

impl Shortlist {
    pub fn new(capacity: usize) -> Shortlist {
        Shortlist {
            keys: [0; MAX_LIST_REGISTERS],
            len: 0,
            capacity: capacity.min(MAX_LIST_REGISTERS),
            offered: 0,
        }
    }

    pub fn offer(&mut self, key: u32) {
        self.offered += 1;
        if self.len == self.capacity {
            if self.capacity == 0 || key >= self.keys[self.len - 1] {
                return;
            }
            self.len -= 1;
        }
        let mut i = self.len;
        while i > 0 && self.keys[i - 1] > key {
            self.keys[i] = self.keys[i - 1];
            i -= 1;
        }
        self.keys[i] = key;
        self.len += 1;
    }

    pub fn keys(&self) -> &[u32] {
        &self.keys[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_lowest_keys_sorted() {
        let mut s = Shortlist::new(3);
        for k in [50, 10, 40, 30, 20, 60] {
            s.offer(k);
        }
        assert_eq!(s.keys(), [10, 20, 30]);
        assert_eq!(s.offered, 6);
    }

    #[test]
    fn zero_capacity_only_counts() {
        let mut s = Shortlist::new(0);
        s.offer(1);
        assert!(s.keys().is_empty());
        assert_eq!(s.offered, 1);
    }
}
