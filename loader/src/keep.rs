//! Memory the firmware keeps after ExitBootServices, as memory reservations
//! in the device tree Aerie gets: the UEFI memory map says which RAM is
//! firmware's, the device tree's /memory nodes do not.

use aerie_dt::Region;
use alloc::vec::Vec;

/// UEFI memory types (UEFI 2.10, table 7.10) Aerie must not hand out: the
/// firmware's reserved and runtime memory, ACPI NVS, unusable, PAL code and
/// persistent memory. Boot services, loader, conventional and ACPI reclaim
/// memory are free once Aerie runs (it reads no ACPI); MMIO is not RAM.
pub fn kept(memory_type: u32) -> bool {
    matches!(memory_type, 0 | 5 | 6 | 8 | 10 | 13 | 14)
}

/// Sorts `regions` and merges those that touch or overlap, so the reservation
/// block stays short (a firmware map has runs of adjacent runtime entries).
pub fn merged(mut regions: Vec<Region>) -> Vec<Region> {
    regions.retain(|r| r.size > 0);
    regions.sort_by_key(|r| r.base);
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for r in regions {
        let end = r.base.saturating_add(r.size);
        match out.last_mut() {
            Some(last) if r.base <= last.base.saturating_add(last.size) => {
                let last_end = last.base.saturating_add(last.size).max(end);
                last.size = last_end - last.base;
            }
            _ => out.push(Region::new(r.base, end - r.base)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn runtime_and_reserved_are_kept_boot_and_conventional_are_not() {
        for t in [0, 5, 6, 8, 10, 13, 14] {
            assert!(kept(t), "{t}");
        }
        // loader code/data, boot services code/data, conventional, ACPI
        // reclaim, MMIO, MMIO port space, unaccepted
        for t in [1, 2, 3, 4, 7, 9, 11, 12, 15] {
            assert!(!kept(t), "{t}");
        }
    }

    #[test]
    fn adjacent_and_overlapping_ranges_merge() {
        let r = Region::new;
        assert_eq!(
            merged(vec![
                r(0x5000, 0x1000),
                r(0x1000, 0x1000),
                r(0x2000, 0x1000),
                r(0x5800, 0x100),
                r(0x9000, 0),
                r(0x5f00, 0x400),
            ]),
            vec![r(0x1000, 0x2000), r(0x5000, 0x1300)]
        );
        assert_eq!(merged(vec![]), vec![]);
    }
}
