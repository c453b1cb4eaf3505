//! A physical address range, the unit every `reg` entry decodes to.

/// `[base, base + size)` in the physical (or guest-physical) address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte, or `None` if the range wraps the address space.
    pub const fn end(&self) -> Option<u64> {
        self.base.checked_add(self.size)
    }
}
