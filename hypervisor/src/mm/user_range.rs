//! The user range `[0, 2^39)` of Aerie's own space (C6).
//!
//! Entry 0 of the EL2 level-0 table covers exactly the 39 bits a user world
//! can name. While a world runs on a pCPU, that entry holds the world's
//! level-1 table, so Aerie reads and writes the world's buffers at the
//! world's own addresses. Worlds run on several pCPUs at once, so each pCPU
//! walks a level-0 table of its own: a copy of the boot pCPU's, made once
//! all of Aerie's mappings exist (they live in entries 1 to 511 and below,
//! and nothing is mapped in Aerie's space after boot), that differs from it
//! in entry 0 alone.

use super::frames;
use super::layout::phys_to_virt;
use crate::arch::aarch64::el2;
use aerie_pagetable::{ENTRIES, PAGE_SIZE};

/// Give this (secondary) pCPU a level-0 table of its own, entry 0 empty.
pub fn own_root() {
    let shared = el2::el2_root();
    let Some(pa) = frames::alloc(PAGE_SIZE) else {
        panic!("no memory for a pCPU's page-table root");
    };
    // SAFETY: both tables are whole pages of RAM in the direct map; the
    // shared one is only read (another pCPU may be writing its entry 0,
    // which the copy does not keep), the new one is ours alone.
    unsafe {
        let from = phys_to_virt(shared) as *const u64;
        let to = phys_to_virt(pa) as *mut u64;
        for i in 1..ENTRIES {
            to.add(i).write(from.add(i).read_volatile());
        }
        to.write(0);
    }
    // SAFETY: the new root maps everything above 2^39 as the shared one
    // does (the same lower-level tables), and nothing below it.
    unsafe { el2::set_el2_root(pa) };
}

/// Make this pCPU's user range the level-1 table `l1` (a world's), or
/// empty again. The TLB of this pCPU's EL2 regime is flushed: entries of
/// the previous world would otherwise outlive it (the EL2 regime has no
/// ASIDs).
pub fn set(l1: Option<u64>) {
    // Table descriptor: valid, table.
    let entry = l1.map_or(0, |pa| pa | 0b11);
    // SAFETY: entry 0 of this pCPU's own root (own_root, or the boot pCPU's,
    // whose entry 0 nothing else uses): no other pCPU walks it.
    unsafe { (phys_to_virt(el2::el2_root()) as *mut u64).write_volatile(entry) };
    el2::flush_el2_tlb();
}
