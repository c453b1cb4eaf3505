//! One slot per physical CPU.

/// One `T` per pCPU index `0..N`, const-constructible so it can be a
/// `static`. Meant for `T` that is `Sync` without locks (atomics, or
/// structures of them such as [`SampleRing`](crate::SampleRing)), so a pNMI
/// handler can use its own CPU's slot and regular code any slot.
#[derive(Debug)]
pub struct PerCpu<T, const N: usize> {
    slots: [T; N],
}

impl<T, const N: usize> PerCpu<T, N> {
    /// Wrap one value per CPU. For atomics:
    /// `PerCpu::new([const { AtomicU64::new(0) }; 8])`.
    pub const fn new(slots: [T; N]) -> Self {
        PerCpu { slots }
    }

    /// The slot of CPU `cpu`.
    ///
    /// # Panics
    ///
    /// If `cpu >= N`: a CPU index beyond the table is a boot-time
    /// configuration bug (more pCPUs than the hypervisor was built for).
    pub fn get(&self, cpu: usize) -> &T {
        match self.slots.get(cpu) {
            Some(slot) => slot,
            None => panic!("PerCpu::get: cpu {cpu} out of range (table has {N} slots)"),
        }
    }

    /// The slot of CPU `cpu`, or `None` if `cpu >= N`.
    pub fn try_get(&self, cpu: usize) -> Option<&T> {
        self.slots.get(cpu)
    }

    /// Every slot, in CPU order.
    pub fn iter(&self) -> core::slice::Iter<'_, T> {
        self.slots.iter()
    }

    /// Number of slots (`N`).
    pub const fn len(&self) -> usize {
        N
    }

    /// Whether the table has no slots (`N == 0`).
    pub const fn is_empty(&self) -> bool {
        N == 0
    }
}
