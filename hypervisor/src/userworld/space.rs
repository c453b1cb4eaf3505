//! A user world's memory: its level-1 table (the EL1&0 regime's TTBR0_EL1,
//! and entry 0 of the root of the pCPU it runs on, `mm::user_range`), the frames behind its
//! program and stack, and the checks its system-call buffers go through.

use crate::arch::aarch64::el0::sync_icache;
use crate::mm::frames;
use crate::mm::layout::{phys_to_virt, virt_to_phys};
use crate::mm::tables::FrameTables;
use aerie_pagetable::{map_range, Attributes, MapError, Regime, Space, TableMemory};
use aerie_userworld::elf::{Perms, Program};
use aerie_userworld::layout;
use alloc::vec::Vec;
use core::fmt;

/// Why a program could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Elf(aerie_userworld::elf::ElfError),
    Map(MapError),
    OutOfMemory { bytes: u64 },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "bad program: {e}"),
            LoadError::Map(e) => write!(f, "cannot map it: {e}"),
            LoadError::OutOfMemory { bytes } => write!(f, "no memory for {bytes} bytes"),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(e: MapError) -> Self {
        LoadError::Map(e)
    }
}

/// A mapped range of the world, backed by frames of its own.
struct Region {
    start: u64,
    end: u64,
    writable: bool,
    pa: u64,
}

pub struct UserSpace {
    tables: FrameTables,
    space: Space,
    regions: Vec<Region>,
}

impl UserSpace {
    /// `program` (parsed from `elf`) loaded, its stack and the EL1 shim
    /// page (`shim`, a kernel address) mapped.
    pub fn load(program: &Program, elf: &[u8], shim: u64) -> Result<Self, LoadError> {
        let mut tables = FrameTables::default();
        let root = tables.alloc_table()?;
        let mut me = UserSpace {
            tables,
            space: Space {
                root,
                start_level: 1,
                va_bits: layout::VA_BITS,
                regime: Regime::User,
            },
            regions: Vec::new(),
        };
        for s in &program.segments {
            let attrs = match s.perms {
                Perms::ReadOnly => Attributes::RODATA,
                Perms::ReadWrite => Attributes::DATA,
                Perms::ReadExecute => Attributes::TEXT,
            };
            me.add_region(s.vaddr, s.mem_size, attrs, &elf[s.file.clone()])?;
        }
        me.add_region(
            layout::STACK_BOTTOM,
            layout::STACK_SIZE,
            Attributes::DATA,
            &[],
        )?;
        let vectors = Space {
            regime: Regime::UserVectors,
            ..me.space
        };
        map_range(
            &mut me.tables,
            vectors,
            layout::SHIM_VA,
            virt_to_phys(shim),
            layout::PAGE_SIZE,
            Attributes::TEXT,
            false,
        )?;
        Ok(me)
    }

    /// The level-1 table: TTBR0_EL1 while the world runs.
    pub fn root(&self) -> u64 {
        self.space.root
    }

    /// Fresh zeroed frames holding `init`, mapped at `[va, va + len)`.
    fn add_region(
        &mut self,
        va: u64,
        len: u64,
        attrs: Attributes,
        init: &[u8],
    ) -> Result<(), LoadError> {
        let bytes = len.next_multiple_of(layout::PAGE_SIZE);
        let pa = frames::alloc(bytes).ok_or(LoadError::OutOfMemory { bytes })?;
        let kva = phys_to_virt(pa);
        // SAFETY: fresh frames of `bytes`, mapped in the direct map and owned
        // by this region from now on; `init` is no longer than the segment
        // (the ELF parser checked file size <= memory size).
        unsafe {
            core::ptr::write_bytes(kva as *mut u8, 0, bytes as usize);
            core::ptr::copy_nonoverlapping(init.as_ptr(), kva as *mut u8, init.len());
        }
        self.regions.push(Region {
            start: va,
            end: va + bytes,
            writable: attrs.access == aerie_pagetable::Access::ReadWrite,
            pa,
        });
        if attrs.executable {
            sync_icache(kva, bytes);
        }
        map_range(&mut self.tables, self.space, va, pa, bytes, attrs, false)?;
        Ok(())
    }

    /// Whether `[va, va + len)` lies inside one of the world's regions (and
    /// a writable one, with `write`). A buffer across two regions is refused.
    pub fn allows(&self, va: u64, len: u64, write: bool) -> bool {
        let Some(end) = va.checked_add(len) else {
            return false;
        };
        self.regions
            .iter()
            .any(|r| r.start <= va && end <= r.end && (r.writable || !write))
    }
}

impl Drop for UserSpace {
    fn drop(&mut self) {
        for r in &self.regions {
            frames::free(r.pa, r.end - r.start);
        }
    }
}
