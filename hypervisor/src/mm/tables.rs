//! Translation-table pages from the frame allocator, reached through the
//! direct map: the memory behind every VM's stage 2 and every user world's
//! tables. The set remembers its pages so its owner can give them back.

use super::frames;
use super::layout::phys_to_virt;
use aerie_pagetable::{MapError, TableMemory, ENTRIES, PAGE_SIZE};
use alloc::vec::Vec;

#[derive(Default)]
pub struct FrameTables {
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

impl Drop for FrameTables {
    fn drop(&mut self) {
        for &pa in &self.pages {
            frames::free(pa, PAGE_SIZE);
        }
    }
}
