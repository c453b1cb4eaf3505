//! Aerie's own mappings added after the switch: the direct map of RAM and
//! the devices it drives. Tables come from the boot pool.

use super::layout::phys_to_virt;
use crate::arch::aarch64::el2::flush_el2_tlb;
use crate::boot::BootPool;
use aerie_pagetable::boot::el2_space;
use aerie_pagetable::{map_range, Attributes, MapError, PAGE_SIZE};

/// The final space, now that Aerie runs in it.
pub struct KernelSpace {
    root: u64,
    pool: BootPool,
}

impl KernelSpace {
    pub fn new(final_root: u64, delta: u64) -> Self {
        KernelSpace {
            root: final_root,
            pool: BootPool { va_offset: delta },
        }
    }

    /// Map RAM `[pa, pa + len)` into the direct map, with blocks where aligned.
    pub fn map_ram(&mut self, pa: u64, len: u64) -> Result<(), MapError> {
        let (start, end) = page_bounds(pa, len);
        map_range(
            &mut self.pool,
            el2_space(self.root),
            phys_to_virt(start),
            start,
            end - start,
            Attributes::DATA,
            true,
        )?;
        flush_el2_tlb();
        Ok(())
    }

    /// Map a device's registers into the direct map; returns their address.
    pub fn map_device(&mut self, pa: u64, len: u64) -> Result<u64, MapError> {
        let (start, end) = page_bounds(pa, len);
        map_range(
            &mut self.pool,
            el2_space(self.root),
            phys_to_virt(start),
            start,
            end - start,
            Attributes::DEVICE,
            false,
        )?;
        flush_el2_tlb();
        Ok(phys_to_virt(pa))
    }
}

fn page_bounds(pa: u64, len: u64) -> (u64, u64) {
    (
        pa & !(PAGE_SIZE - 1),
        (pa + len + PAGE_SIZE - 1) & !(PAGE_SIZE - 1),
    )
}
