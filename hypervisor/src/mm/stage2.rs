//! A VM's stage-2 translation tables, in frames from the frame allocator.

use super::frames;
use super::layout::phys_to_virt;
use aerie_pagetable::{
    map_range, Attributes, MapError, Regime, Space, TableMemory, ENTRIES, PAGE_SIZE,
};
use alloc::vec::Vec;

/// Width of a guest's IPA space (VTCR_EL2.T0SZ = 25, walk starts at level 1).
pub const IPA_BITS: u8 = 39;

/// Table pages, reached through the direct map. Remembers them so the VM
/// can give them back.
struct FrameTables {
    pages: Vec<u64>,
}

impl TableMemory for FrameTables {
    fn alloc_table(&mut self) -> Result<u64, MapError> {
        let pa = frames::alloc(PAGE_SIZE).ok_or(MapError::OutOfTables)?;
        // SAFETY: a fresh frame, mapped writable in the direct map and owned
        // by this table set from now on.
        unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
        self.pages.push(pa);
        Ok(pa)
    }

    fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
        // SAFETY: `pa` is one of our table frames (from alloc_table), mapped
        // in the direct map and referenced only through this object.
        unsafe { &mut *(phys_to_virt(pa) as *mut [u64; ENTRIES]) }
    }
}

pub struct Stage2 {
    tables: FrameTables,
    space: Space,
}

impl Stage2 {
    pub fn new() -> Result<Self, MapError> {
        let mut tables = FrameTables { pages: Vec::new() };
        let root = tables.alloc_table()?;
        Ok(Stage2 {
            tables,
            space: Space {
                root,
                start_level: 1,
                va_bits: IPA_BITS,
                regime: Regime::Stage2,
            },
        })
    }

    pub fn root(&self) -> u64 {
        self.space.root
    }

    /// Map guest RAM `[ipa, ipa + len)` to `[pa, pa + len)`.
    pub fn map_ram(&mut self, ipa: u64, pa: u64, len: u64) -> Result<(), MapError> {
        map_range(
            &mut self.tables,
            self.space,
            ipa,
            pa,
            len,
            Attributes::GUEST_RAM,
            true,
        )
    }
}

impl Drop for Stage2 {
    fn drop(&mut self) {
        for &pa in &self.tables.pages {
            frames::free(pa, PAGE_SIZE);
        }
    }
}
