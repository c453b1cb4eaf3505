//! The three address spaces of the boot re-map (C4).
//!
//! Aerie starts wherever it was loaded, with the MMU off (or under a UEFI 1:1
//! map), and must end up running at its link address high in the EL2 space,
//! with no identity alias left behind. It gets there through three spaces:
//!
//! 1. the space it starts in (physical addresses);
//! 3. the *transitional* space: everything the final space maps, plus the
//!    trampoline pages mapped a second time at their load (identity) address,
//!    so the instruction after the TTBR switch is still mapped;
//! 2. the *final* space: the image at its link address, nothing at the load
//!    address.
//!
//! The trampoline turns the MMU on in (3) while executing at the identity
//! address, branches by `link_va - load_pa` into the high alias, switches TTBR
//! to (2) and continues there. This module builds (2) and (3); it runs with
//! the MMU off, so it only does arithmetic and stores through [`TableMemory`].

use crate::walk::Space;
use crate::{map_range, Attributes, MapError, Regime, TableMemory, ENTRIES, PAGE_SIZE};

/// Width of the EL2 virtual address space (`TCR_EL2.T0SZ = 16`).
pub const EL2_VA_BITS: u8 = 48;

/// A piece of the image: `[start, end)` as byte offsets from the image start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub start: u64,
    pub end: u64,
}

/// Where the image was loaded, where it was linked, and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    /// Physical address the image was loaded at (page aligned).
    pub load_pa: u64,
    /// Virtual address the image was linked at (page aligned).
    pub link_va: u64,
    /// Executable code.
    pub text: Part,
    /// Read-only data.
    pub rodata: Part,
    /// Writable data, bss, stacks and boot tables.
    pub data: Part,
    /// The switching code, inside `text`; mapped at both addresses in (3).
    pub trampoline: Part,
}

impl ImageLayout {
    /// What the trampoline adds to an address to reach the high alias.
    pub fn delta(&self) -> u64 {
        self.link_va.wrapping_sub(self.load_pa)
    }
}

/// A further range the final space needs from the start (the device tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub va: u64,
    pub pa: u64,
    pub len: u64,
    pub attributes: Attributes,
}

/// Roots of the two spaces the boot code switches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct BootSpaces {
    pub transitional: u64,
    pub final_root: u64,
}

/// The EL2 space rooted at `root`.
pub fn el2_space(root: u64) -> Space {
    Space {
        root,
        start_level: 0,
        va_bits: EL2_VA_BITS,
        regime: Regime::El2,
    }
}

/// Build the final space (image at its link address plus `windows`) and the
/// transitional space (the final one plus an identity alias of the
/// trampoline).
pub fn build(
    mem: &mut impl TableMemory,
    layout: &ImageLayout,
    windows: &[Window],
) -> Result<BootSpaces, MapError> {
    let final_space = el2_space(mem.alloc_table()?);
    for (part, attributes) in [
        (layout.text, Attributes::TEXT),
        (layout.rodata, Attributes::RODATA),
        (layout.data, Attributes::DATA),
    ] {
        map_part(
            mem,
            final_space,
            layout.link_va,
            layout.load_pa,
            part,
            attributes,
        )?;
    }
    for w in windows {
        map_range(mem, final_space, w.va, w.pa, w.len, w.attributes, false)?;
    }

    // The transitional root shares every lower table with the final space;
    // the identity alias must therefore land in a root entry that the final
    // space leaves empty, or it would leak into the final space.
    let transitional = el2_space(mem.alloc_table()?);
    let top_shift = 12 + 9 * 3;
    let first = (layout.load_pa + layout.trampoline.start) >> top_shift;
    let last = (layout.load_pa + layout.trampoline.end - 1) >> top_shift;
    for i in 0..ENTRIES {
        let entry = mem.table(final_space.root)[i];
        if entry != 0 && (first..=last).contains(&(i as u64)) {
            return Err(MapError::Conflict {
                va: layout.load_pa + layout.trampoline.start,
            });
        }
        mem.table(transitional.root)[i] = entry;
    }
    map_part(
        mem,
        transitional,
        layout.load_pa,
        layout.load_pa,
        layout.trampoline,
        Attributes::TEXT,
    )?;
    Ok(BootSpaces {
        transitional: transitional.root,
        final_root: final_space.root,
    })
}

fn map_part(
    mem: &mut impl TableMemory,
    space: Space,
    va_base: u64,
    pa_base: u64,
    part: Part,
    attributes: Attributes,
) -> Result<(), MapError> {
    let start = part.start & !(PAGE_SIZE - 1);
    let end = (part.end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    if end <= start {
        return Ok(());
    }
    map_range(
        mem,
        space,
        va_base + start,
        pa_base + start,
        end - start,
        attributes,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeMemory;
    use crate::translate;

    const LINK: u64 = 0xffff_c000_0000;
    const LOAD: u64 = 0x4020_0000;

    fn layout() -> ImageLayout {
        ImageLayout {
            load_pa: LOAD,
            link_va: LINK,
            text: Part {
                start: 0,
                end: 0x9000,
            },
            rodata: Part {
                start: 0x9000,
                end: 0xb000,
            },
            data: Part {
                start: 0xb000,
                end: 0x3_0000,
            },
            trampoline: Part {
                start: 0x1000,
                end: 0x2000,
            },
        }
    }

    fn dtb_window() -> Window {
        Window {
            va: 0xffff_e000_0000,
            pa: 0x4800_0000,
            len: 0x2000,
            attributes: Attributes::RODATA,
        }
    }

    #[test]
    fn transitional_maps_trampoline_at_both_addresses() {
        let mut mem = FakeMemory::new(32);
        let l = layout();
        let spaces = build(&mut mem, &l, &[dtb_window()]).unwrap();
        let t = el2_space(spaces.transitional);
        let low = translate(&mut mem, t, LOAD + 0x1000).unwrap();
        let high = translate(&mut mem, t, LOAD + 0x1000 + l.delta()).unwrap();
        assert_eq!(low.pa, LOAD + 0x1000);
        assert_eq!(high.pa, low.pa, "both aliases reach the same code");
        assert!(low.attributes.executable && high.attributes.executable);
        assert_eq!(l.delta(), LINK - LOAD);
        // Only the trampoline is identity mapped, not the rest of the image.
        assert!(translate(&mut mem, t, LOAD).is_none());
        assert!(translate(&mut mem, t, LOAD + 0x2000).is_none());
        // Everything the final space maps, the transitional one maps too.
        assert_eq!(
            translate(&mut mem, t, LINK + 0xb000).unwrap().pa,
            LOAD + 0xb000
        );
        assert_eq!(
            translate(&mut mem, t, 0xffff_e000_0000).unwrap().pa,
            0x4800_0000
        );
    }

    #[test]
    fn final_space_has_no_identity_alias() {
        let mut mem = FakeMemory::new(32);
        let l = layout();
        let spaces = build(&mut mem, &l, &[dtb_window()]).unwrap();
        let f = el2_space(spaces.final_root);
        for off in (0..0x3_0000).step_by(PAGE_SIZE as usize) {
            assert!(
                translate(&mut mem, f, LOAD + off).is_none(),
                "identity page at +{off:#x}"
            );
            assert_eq!(translate(&mut mem, f, LINK + off).unwrap().pa, LOAD + off);
        }
        // Nothing at all below 2^39: that range belongs to user worlds.
        assert_eq!(mem.table(spaces.final_root)[0], 0);
    }

    #[test]
    fn image_parts_get_their_permissions() {
        let mut mem = FakeMemory::new(32);
        let spaces = build(&mut mem, &layout(), &[]).unwrap();
        let f = el2_space(spaces.final_root);
        assert_eq!(
            translate(&mut mem, f, LINK).unwrap().attributes,
            Attributes::TEXT
        );
        assert_eq!(
            translate(&mut mem, f, LINK + 0x9000).unwrap().attributes,
            Attributes::RODATA
        );
        assert_eq!(
            translate(&mut mem, f, LINK + 0x2_f000).unwrap().attributes,
            Attributes::DATA
        );
    }

    #[test]
    fn refuses_identity_that_would_share_the_kernel_root_entry() {
        let mut mem = FakeMemory::new(32);
        let mut l = layout();
        // Load address in the same 512 GiB slot as the link address.
        l.load_pa = LINK - 0x100_0000;
        assert!(matches!(
            build(&mut mem, &l, &[]),
            Err(MapError::Conflict { .. })
        ));
    }

    #[test]
    fn reports_exhausted_pool() {
        let mut mem = FakeMemory::new(3);
        assert_eq!(build(&mut mem, &layout(), &[]), Err(MapError::OutOfTables));
    }
}
