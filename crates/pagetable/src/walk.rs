//! Mapping, unmapping and translating ranges in one table hierarchy.

use crate::descriptor::{decode_attributes, leaf_attributes, OA_MASK, TABLE_OR_PAGE, VALID};
use crate::{Attributes, MapError, Regime, TableMemory, ENTRIES, PAGE_SIZE};

/// One translation table hierarchy: its root and how the hardware walks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Physical address of the root table.
    pub root: u64,
    /// Level of the root table (0 for a 48-bit EL2 space, 1 for a 39-bit stage 2).
    pub start_level: u8,
    /// Width of the input address (48 or 39 here); one root table covers it.
    pub va_bits: u8,
    pub regime: Regime,
}

/// The result of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    pub pa: u64,
    pub attributes: Attributes,
    /// Size of the block or page that maps the address.
    pub size: u64,
}

/// Bytes mapped by one entry at `level`.
const fn entry_size(level: u8) -> u64 {
    1 << (12 + 9 * (3 - level as u64))
}

fn index(va: u64, level: u8) -> usize {
    ((va >> (12 + 9 * (3 - level as u64))) as usize) & (ENTRIES - 1)
}

impl Space {
    fn check(&self, va: u64, pa: u64, len: u64) -> Result<(), MapError> {
        let mask = PAGE_SIZE - 1;
        if va & mask != 0 || pa & mask != 0 || len & mask != 0 {
            return Err(MapError::Unaligned { va, pa, len });
        }
        let top = 1u64 << self.va_bits;
        if va >= top || len > top - va {
            return Err(MapError::OutOfRange { va, len });
        }
        Ok(())
    }
}

/// Map `[va, va + len)` to `[pa, pa + len)`. With `blocks`, 2 MiB and 1 GiB
/// blocks are used wherever alignment allows (fewer tables, fewer TLB
/// entries); without, every page gets its own level-3 entry so it can later
/// be changed alone. Refuses to replace an existing mapping.
pub fn map_range(
    mem: &mut impl TableMemory,
    space: Space,
    va: u64,
    pa: u64,
    len: u64,
    attrs: Attributes,
    blocks: bool,
) -> Result<(), MapError> {
    space.check(va, pa, len)?;
    let leaf = leaf_attributes(space.regime, attrs);
    let mut offset = 0;
    while offset < len {
        let (v, p) = (va + offset, pa + offset);
        let remaining = len - offset;
        // Pick the largest leaf that fits here.
        let mut level = 3;
        if blocks {
            for l in [1u8, 2] {
                let size = entry_size(l);
                if l >= space.start_level && v % size == 0 && p % size == 0 && remaining >= size {
                    level = l;
                    break;
                }
            }
        }
        map_one(mem, space, v, p, level, leaf)?;
        offset += entry_size(level);
    }
    Ok(())
}

fn map_one(
    mem: &mut impl TableMemory,
    space: Space,
    va: u64,
    pa: u64,
    leaf_level: u8,
    leaf: u64,
) -> Result<(), MapError> {
    let mut table = space.root;
    let mut level = space.start_level;
    while level < leaf_level {
        let i = index(va, level);
        let entry = mem.table(table)[i];
        table = if entry & VALID == 0 {
            let next = mem.alloc_table()?;
            mem.table(table)[i] = next | TABLE_OR_PAGE | VALID;
            next
        } else if entry & TABLE_OR_PAGE == 0 {
            return Err(MapError::Conflict { va });
        } else {
            entry & OA_MASK
        };
        level += 1;
    }
    let i = index(va, leaf_level);
    let slot = &mut mem.table(table)[i];
    if *slot & VALID != 0 {
        return Err(MapError::AlreadyMapped { va });
    }
    let kind = if leaf_level == 3 { TABLE_OR_PAGE } else { 0 };
    *slot = (pa & OA_MASK) | leaf | kind | VALID;
    Ok(())
}

/// Remove the leaf entries covering `[va, va + len)`. Blocks must be removed
/// whole. Tables that become empty are left in place (they are reused).
/// The caller invalidates TLBs.
pub fn unmap_range(
    mem: &mut impl TableMemory,
    space: Space,
    va: u64,
    len: u64,
) -> Result<(), MapError> {
    space.check(va, 0, len)?;
    let mut offset = 0;
    while offset < len {
        let v = va + offset;
        let mut table = space.root;
        let mut level = space.start_level;
        loop {
            let i = index(v, level);
            let entry = mem.table(table)[i];
            if entry & VALID == 0 {
                // Nothing here: skip the whole unmapped entry.
                offset += entry_size(level) - (v & (entry_size(level) - 1));
                break;
            }
            if level == 3 || entry & TABLE_OR_PAGE == 0 {
                let size = entry_size(level);
                if !v.is_multiple_of(size) || len - offset < size {
                    return Err(MapError::Conflict { va: v });
                }
                mem.table(table)[i] = 0;
                offset += size;
                break;
            }
            table = entry & OA_MASK;
            level += 1;
        }
    }
    Ok(())
}

/// Walk the tables for `va` as the hardware would.
pub fn translate(mem: &mut impl TableMemory, space: Space, va: u64) -> Option<Translation> {
    if va >> space.va_bits != 0 {
        return None;
    }
    let mut table = space.root;
    let mut level = space.start_level;
    loop {
        let entry = mem.table(table)[index(va, level)];
        if entry & VALID == 0 {
            return None;
        }
        let is_table = level < 3 && entry & TABLE_OR_PAGE != 0;
        if !is_table {
            if level == 3 && entry & TABLE_OR_PAGE == 0 {
                return None; // reserved encoding
            }
            let size = entry_size(level);
            return Some(Translation {
                pa: (entry & OA_MASK & !(size - 1)) | (va & (size - 1)),
                attributes: decode_attributes(space.regime, entry),
                size,
            });
        }
        table = entry & OA_MASK;
        level += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeMemory;
    use crate::{Access, MemoryKind};

    fn el2(mem: &mut FakeMemory) -> Space {
        Space {
            root: mem.alloc_table().unwrap(),
            start_level: 0,
            va_bits: 48,
            regime: Regime::El2,
        }
    }

    #[test]
    fn pages_translate_back() {
        let mut mem = FakeMemory::new(16);
        let s = el2(&mut mem);
        map_range(
            &mut mem,
            s,
            0xffff_c000_0000,
            0x4020_0000,
            3 * PAGE_SIZE,
            Attributes::TEXT,
            false,
        )
        .unwrap();
        let t = translate(&mut mem, s, 0xffff_c000_1234).unwrap();
        assert_eq!(t.pa, 0x4020_1234);
        assert_eq!(t.size, PAGE_SIZE);
        assert_eq!(t.attributes, Attributes::TEXT);
        assert!(translate(&mut mem, s, 0xffff_c000_3000).is_none());
        assert!(translate(&mut mem, s, 0x4020_0000).is_none());
    }

    #[test]
    fn blocks_used_when_aligned() {
        let mut mem = FakeMemory::new(16);
        let s = el2(&mut mem);
        // 1 GiB + 2 MiB + 4 KiB: one 1G block, one 2M block, one page.
        let len = (1 << 30) + (2 << 20) + PAGE_SIZE;
        map_range(
            &mut mem,
            s,
            0x8000_4000_0000,
            0x4000_0000,
            len,
            Attributes::DATA,
            true,
        )
        .unwrap();
        assert_eq!(
            translate(&mut mem, s, 0x8000_4000_0000).unwrap().size,
            1 << 30
        );
        assert_eq!(
            translate(&mut mem, s, 0x8000_8000_0000).unwrap().size,
            2 << 20
        );
        let last = translate(&mut mem, s, 0x8000_8020_0000).unwrap();
        assert_eq!((last.size, last.pa), (PAGE_SIZE, 0x8020_0000));
    }

    #[test]
    fn refuses_overlap_and_bad_input() {
        let mut mem = FakeMemory::new(16);
        let s = el2(&mut mem);
        map_range(
            &mut mem,
            s,
            0x1000,
            0x1000,
            PAGE_SIZE,
            Attributes::DATA,
            false,
        )
        .unwrap();
        assert_eq!(
            map_range(
                &mut mem,
                s,
                0x1000,
                0x2000,
                PAGE_SIZE,
                Attributes::DATA,
                false
            ),
            Err(MapError::AlreadyMapped { va: 0x1000 })
        );
        assert!(matches!(
            map_range(
                &mut mem,
                s,
                0x1001,
                0x2000,
                PAGE_SIZE,
                Attributes::DATA,
                false
            ),
            Err(MapError::Unaligned { .. })
        ));
        assert!(matches!(
            map_range(
                &mut mem,
                s,
                0xffff_ffff_f000,
                0,
                2 * PAGE_SIZE,
                Attributes::DATA,
                false
            ),
            Err(MapError::OutOfRange { .. })
        ));
    }

    #[test]
    fn runs_out_of_tables_cleanly() {
        let mut mem = FakeMemory::new(2);
        let s = el2(&mut mem);
        assert_eq!(
            map_range(&mut mem, s, 0, 0, PAGE_SIZE, Attributes::DATA, false),
            Err(MapError::OutOfTables)
        );
    }

    #[test]
    fn stage2_attributes_round_trip() {
        let mut mem = FakeMemory::new(16);
        let s = Space {
            root: mem.alloc_table().unwrap(),
            start_level: 1,
            va_bits: 39,
            regime: Regime::Stage2,
        };
        map_range(
            &mut mem,
            s,
            0x4000_0000,
            0x9000_0000,
            4 << 20,
            Attributes::GUEST_RAM,
            true,
        )
        .unwrap();
        map_range(
            &mut mem,
            s,
            0x0900_0000,
            0x0900_0000,
            PAGE_SIZE,
            Attributes::DEVICE,
            true,
        )
        .unwrap();
        let ram = translate(&mut mem, s, 0x4030_0010).unwrap();
        assert_eq!((ram.pa, ram.size), (0x9030_0010, 2 << 20));
        assert_eq!(ram.attributes, Attributes::GUEST_RAM);
        let dev = translate(&mut mem, s, 0x0900_0000).unwrap();
        assert_eq!(dev.attributes.kind, MemoryKind::Device);
        assert_eq!(dev.attributes.access, Access::ReadWrite);
        assert!(!dev.attributes.executable);
        // Stage-2 leaf bits: MemAttr=0b1111, S2AP=RW, AF, inner shareable.
        let l1 = mem.table(s.root)[1];
        let l2 = mem.table(l1 & OA_MASK)[0];
        // AF | SH=0b11 | S2AP=0b11 | MemAttr=0b1111 | block.
        assert_eq!(l2 & 0xfff, 0b111_1111_1101);
        assert!(translate(&mut mem, s, 1 << 39).is_none());
    }

    #[test]
    fn el2_leaf_bits() {
        let mut mem = FakeMemory::new(16);
        let s = el2(&mut mem);
        map_range(
            &mut mem,
            s,
            0,
            0x9000_0000,
            PAGE_SIZE,
            Attributes::DEVICE,
            false,
        )
        .unwrap();
        let l1 = mem.table(s.root)[0] & OA_MASK;
        let l2 = mem.table(l1)[0] & OA_MASK;
        let l3 = mem.table(l2)[0] & OA_MASK;
        let d = mem.table(l3)[0];
        // Page, valid, AttrIndx=1 (device), AP[1]=1, AF, XN.
        assert_eq!(d, 0x9000_0000 | 0b11 | 1 << 2 | 1 << 6 | 1 << 10 | 1 << 54);
    }

    #[test]
    fn unmap_removes_pages_and_blocks() {
        let mut mem = FakeMemory::new(16);
        let s = el2(&mut mem);
        map_range(
            &mut mem,
            s,
            0x20_0000,
            0x20_0000,
            2 << 20,
            Attributes::DATA,
            true,
        )
        .unwrap();
        map_range(
            &mut mem,
            s,
            0x40_0000,
            0x40_0000,
            2 * PAGE_SIZE,
            Attributes::DATA,
            false,
        )
        .unwrap();
        unmap_range(&mut mem, s, 0x20_0000, (2 << 20) + PAGE_SIZE).unwrap();
        assert!(translate(&mut mem, s, 0x20_0000).is_none());
        assert!(translate(&mut mem, s, 0x40_0000).is_none());
        assert!(translate(&mut mem, s, 0x40_1000).is_some());
        // Half a block cannot be unmapped.
        map_range(
            &mut mem,
            s,
            0x60_0000,
            0x60_0000,
            2 << 20,
            Attributes::DATA,
            true,
        )
        .unwrap();
        assert!(matches!(
            unmap_range(&mut mem, s, 0x60_0000, PAGE_SIZE),
            Err(MapError::Conflict { .. })
        ));
    }
}
