//! Translation tables for Aerie: the EL2 stage-1 regime and guest stage-2,
//! 4 KiB granule, built by plain code that the host can test.
//!
//! The same walker builds three kinds of table: the boot-time transitional and
//! final spaces (see [`boot`]), Aerie's own kernel mappings after boot, and each
//! VM's stage-2 tables. Tables are reached through [`TableMemory`], so the
//! caller decides how a table's physical address becomes something it can
//! write (identity with the MMU off, the image alias or the direct map later,
//! a `Vec` of boxed pages in host tests).
//!
//! Nothing here panics on bad input: every failure is a [`MapError`]. That
//! matters because the boot path runs this code with the MMU off, where a
//! panic could not even print.
#![cfg_attr(not(test), no_std)]

pub mod boot;
mod descriptor;
mod walk;

pub use descriptor::{
    Access, Attributes, MemoryKind, Regime, MAIR_DEVICE_INDEX, MAIR_EL2_VALUE, MAIR_NORMAL_INDEX,
};
pub use walk::{map_range, translate, unmap_range, Space, Translation};

/// Bytes in a translation granule (and a page).
pub const PAGE_SIZE: u64 = 4096;
/// Entries in one 4 KiB table.
pub const ENTRIES: usize = 512;

/// Where tables live. Implemented by the boot pool, the kernel's frame
/// allocator and the host tests' fake memory.
pub trait TableMemory {
    /// A zeroed, page-aligned table; returns its physical address.
    fn alloc_table(&mut self) -> Result<u64, MapError>;
    /// The table at physical address `pa`, which `alloc_table` returned.
    fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES];
}

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The table memory has no free page left.
    OutOfTables,
    /// An address or length is not page aligned.
    Unaligned { va: u64, pa: u64, len: u64 },
    /// The range runs past the top of the regime's address space.
    OutOfRange { va: u64, len: u64 },
    /// Part of the range is mapped already (mappings are never silently replaced).
    AlreadyMapped { va: u64 },
    /// A block mapping sits where a table is needed (or the reverse).
    Conflict { va: u64 },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MapError::OutOfTables => write!(f, "out of page-table pages"),
            MapError::Unaligned { va, pa, len } => {
                write!(f, "unaligned mapping va={va:#x} pa={pa:#x} len={len:#x}")
            }
            MapError::OutOfRange { va, len } => {
                write!(
                    f,
                    "range va={va:#x} len={len:#x} is outside the address space"
                )
            }
            MapError::AlreadyMapped { va } => write!(f, "va {va:#x} is already mapped"),
            MapError::Conflict { va } => write!(f, "block/table conflict at va {va:#x}"),
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! Host memory for table tests: each table is a boxed page at a made-up
    //! physical address.
    use super::*;
    use std::collections::BTreeMap;

    pub struct FakeMemory {
        pub tables: BTreeMap<u64, Box<[u64; ENTRIES]>>,
        next: u64,
        limit: usize,
    }

    impl FakeMemory {
        pub fn new(limit: usize) -> Self {
            FakeMemory {
                tables: BTreeMap::new(),
                next: 0x8000_0000,
                limit,
            }
        }
    }

    impl TableMemory for FakeMemory {
        fn alloc_table(&mut self) -> Result<u64, MapError> {
            if self.tables.len() >= self.limit {
                return Err(MapError::OutOfTables);
            }
            let pa = self.next;
            self.next += PAGE_SIZE;
            self.tables.insert(pa, Box::new([0; ENTRIES]));
            Ok(pa)
        }
        fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
            self.tables.get_mut(&pa).expect("table pa from alloc_table")
        }
    }
}
