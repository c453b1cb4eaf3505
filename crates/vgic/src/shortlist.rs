//! The best candidates by key (lower is better), kept sorted in a slice the
//! caller lends (the list registers' images about to be written): no
//! allocation, nothing to clear, and nothing moves while there are fewer
//! candidates than slots, which is the common case.

pub(crate) struct Shortlist<'a> {
    keys: &'a mut [u64],
    len: usize,
    /// Every candidate offered, kept or not (to detect underflow).
    pub offered: usize,
}

impl<'a> Shortlist<'a> {
    /// An empty list with room for `keys.len()` candidates, kept in `keys`.
    pub fn new(keys: &'a mut [u64]) -> Shortlist<'a> {
        Shortlist {
            keys,
            len: 0,
            offered: 0,
        }
    }

    pub fn offer(&mut self, key: u32) {
        let key = u64::from(key);
        self.offered += 1;
        if self.len == self.keys.len() {
            if self.len == 0 || key >= self.keys[self.len - 1] {
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

    /// How many candidates it holds: they are `keys[..len]`, sorted.
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn keys(&self) -> &[u64] {
        &self.keys[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_lowest_keys_sorted() {
        let mut slots = [7; 3];
        let mut s = Shortlist::new(&mut slots);
        for k in [50, 10, 40, 30, 20, 60] {
            s.offer(k);
        }
        assert_eq!(s.keys(), [10, 20, 30]);
        assert_eq!(s.offered, 6);
    }

    #[test]
    fn zero_capacity_only_counts() {
        let mut s = Shortlist::new(&mut []);
        s.offer(1);
        assert!(s.keys().is_empty());
        assert_eq!(s.offered, 1);
    }

    #[test]
    fn fewer_candidates_than_slots_leave_the_rest_alone() {
        let mut slots = [7; 4];
        let mut s = Shortlist::new(&mut slots);
        s.offer(5);
        s.offer(3);
        assert_eq!(s.len(), 2);
        assert_eq!(slots, [3, 5, 7, 7]);
    }
}
