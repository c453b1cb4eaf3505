//! Aerie's own mappings added after the switch: the direct map of RAM and
//! the devices it drives. Tables come from the boot pool.

use super::layout::{phys_to_virt, UNCACHED_WINDOW_SIZE, UNCACHED_WINDOW_VA};
use crate::arch::aarch64::el2::flush_el2_tlb;
use crate::boot::BootPool;
use aerie_pagetable::boot::el2_space;
use aerie_pagetable::{map_range, Attributes, MapError, PAGE_SIZE};

/// The final space, now that Aerie runs in it.
pub struct KernelSpace {
    root: u64,
    pool: BootPool,
    /// The uncached window's first unused address.
    uncached_next: u64,
}

impl KernelSpace {
    pub fn new(final_root: u64, delta: u64) -> Self {
        KernelSpace {
            root: final_root,
            pool: BootPool { va_offset: delta },
            uncached_next: UNCACHED_WINDOW_VA,
        }
    }

    /// Map RAM `[pa, pa + len)` into the direct map, with blocks where aligned.
    pub fn map_ram(&mut self, pa: u64, len: u64) -> Result<(), MapError> {
        self.map_direct(pa, len, Attributes::DATA, true)
    }

    /// Map a device's registers into the direct map; returns their address.
    /// Pages only: a block could cover a neighbouring device Aerie must not touch.
    pub fn map_device(&mut self, pa: u64, len: u64) -> Result<u64, MapError> {
        self.map_direct(pa, len, Attributes::DEVICE, false)?;
        Ok(phys_to_virt(pa))
    }

    /// Map RAM `[pa, pa + len)` (page-aligned) a second time, as Device
    /// memory, in the uncached window; returns its address there. For
    /// what a device that does not snoop the caches shares with Aerie
    /// word by word (a network card's descriptor rings): accesses there
    /// reach memory at once, with no cache line to write back over the
    /// device's own writes. The direct map's cached alias stays; the
    /// caller never writes through it after cleaning it once, as Linux's
    /// non-coherent DMA allocations do on arm64.
    pub fn map_uncached(&mut self, pa: u64, len: u64) -> Result<u64, MapError> {
        let (start, end) = page_bounds(pa, len);
        let va = self.uncached_next;
        if va + (end - start) > UNCACHED_WINDOW_VA + UNCACHED_WINDOW_SIZE {
            return Err(MapError::OutOfRange {
                va,
                len: end - start,
            });
        }
        let space = el2_space(self.root);
        map_range(
            &mut self.pool,
            space,
            va,
            start,
            end - start,
            Attributes::DEVICE,
            false,
        )?;
        flush_el2_tlb();
        self.uncached_next = va + (end - start);
        Ok(va + (pa - start))
    }

    fn map_direct(
        &mut self,
        pa: u64,
        len: u64,
        attributes: Attributes,
        blocks: bool,
    ) -> Result<(), MapError> {
        let (start, end) = page_bounds(pa, len);
        let space = el2_space(self.root);
        map_range(
            &mut self.pool,
            space,
            phys_to_virt(start),
            start,
            end - start,
            attributes,
            blocks,
        )?;
        flush_el2_tlb();
        Ok(())
    }
}

fn page_bounds(pa: u64, len: u64) -> (u64, u64) {
    (
        pa & !(PAGE_SIZE - 1),
        (pa + len + PAGE_SIZE - 1) & !(PAGE_SIZE - 1),
    )
}
