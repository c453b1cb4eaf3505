//! The RAM Aerie gets, from the UEFI memory map: on a UEFI machine the map
//! is what the firmware vouches for, and the device tree's /memory nodes
//! may be stale and say nothing of the memory the firmware keeps after
//! boot (runtime services, reserved ranges). The loader writes these
//! ranges into the tree in place of its /memory nodes.

use aerie_dt::Region;
use alloc::vec::Vec;

/// UEFI memory types (UEFI 2.10, table 7.10) that are RAM Aerie may use once
/// it runs: loader code and data, boot services code and data (free after
/// ExitBootServices), conventional memory, and ACPI reclaim (Aerie reads no
/// ACPI). Reserved, runtime services, unusable, ACPI NVS, MMIO, PAL code,
/// persistent and unaccepted memory are not.
pub fn usable(memory_type: u32) -> bool {
    matches!(memory_type, 1 | 2 | 3 | 4 | 7 | 9)
}

/// Sorts `regions` and merges those that touch or overlap, so the list
/// stays short (a firmware map has runs of adjacent entries).
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
    fn loader_boot_services_and_conventional_memory_are_usable() {
        for t in [1, 2, 3, 4, 7, 9] {
            assert!(usable(t), "{t}");
        }
        // reserved, runtime code/data, unusable, ACPI NVS, MMIO, MMIO port
        // space, PAL code, persistent, unaccepted
        for t in [0, 5, 6, 8, 10, 11, 12, 13, 14, 15] {
            assert!(!usable(t), "{t}");
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
