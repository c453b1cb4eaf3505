//! The partitions of the host disk, read from its MBR or GPT, and the rule
//! a VM's disk region (raw sectors of the host disk) must keep: a board
//! may boot from the very card Aerie takes as its host disk, and a region
//! written over the partition table or the boot partition would destroy
//! what the machine boots from.
//!
//! The rule: a region may not touch the partition table (the MBR; a GPT's
//! header and entries, and their backup), nor any FAT partition (the boot
//! partition: an EFI System Partition, or an MBR FAT partition as the
//! Raspberry Pi boots from), and may touch another partition only by lying
//! wholly inside it (a partition set aside for that VM). Unless the region
//! holds the primary table, every partition, and the table parts it
//! touches: then the partitioning is the VM's own (a guest that
//! partitioned the disk it has from sector 0), not the machine's.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Bytes in a sector, for the tables.
pub const SECTOR: usize = 512;

/// Sectors `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sectors {
    pub first: u64,
    pub last: u64,
}

impl Sectors {
    fn overlaps(&self, other: &Sectors) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    fn within(&self, other: &Sectors) -> bool {
        other.first <= self.first && self.last <= other.last
    }
}

/// One partition: its number (from 1, as tools count them), its sectors,
/// and whether it holds a FAT file system (a boot partition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub number: u32,
    pub sectors: Sectors,
    pub fat: bool,
}

/// What a disk's first sectors say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The table's own sectors.
    pub table: Vec<Sectors>,
    pub partitions: Vec<Partition>,
}

/// MBR partition types of FAT file systems (FAT12, FAT16, FAT32 with CHS
/// or LBA, the EFI System Partition).
const MBR_FAT: [u8; 7] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef];
/// The protective MBR entry of a GPT disk.
const MBR_GPT: u8 = 0xee;
/// The EFI System Partition's type GUID (C12A7328-F81F-11D2-BA4B-00A0C93EC93B),
/// as a GPT entry stores it (the first three fields little-endian).
const ESP_GUID: [u8; 16] = [
    0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
];
/// Microsoft's basic data partition (FAT or NTFS: taken as FAT, the safe
/// side).
const BASIC_DATA_GUID: [u8; 16] = [
    0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7,
];
/// The most GPT entry sectors read (128 entries of 128 bytes: 32 sectors).
const MAX_ENTRY_SECTORS: u64 = 32;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// The layout of a disk of `sectors` sectors whose sectors `read` gives
/// (false: it could not). A disk without a valid MBR signature has no
/// table (a blank or raw disk: every region is allowed).
pub fn read_layout(sectors: u64, mut read: impl FnMut(u64, &mut [u8; SECTOR]) -> bool) -> Layout {
    let mut mbr = [0u8; SECTOR];
    if !read(0, &mut mbr) || mbr[510..512] != [0x55, 0xaa] {
        return Layout::default();
    }
    let entries: Vec<(u8, u64, u64)> = (0..4)
        .map(|i| {
            let e = &mbr[446 + 16 * i..462 + 16 * i];
            (e[4], u64::from(u32_at(e, 8)), u64::from(u32_at(e, 12)))
        })
        .collect();
    if entries.iter().any(|&(kind, _, _)| kind == MBR_GPT) {
        if let Some(gpt) = read_gpt(sectors, &mut read) {
            return gpt;
        }
    }
    let mut layout = Layout {
        table: Vec::from([Sectors { first: 0, last: 0 }]),
        partitions: Vec::new(),
    };
    for (i, &(kind, start, count)) in entries.iter().enumerate() {
        if kind != 0 && count != 0 {
            layout.partitions.push(Partition {
                number: i as u32 + 1,
                sectors: Sectors {
                    first: start,
                    last: start + count - 1,
                },
                fat: MBR_FAT.contains(&kind) || kind == MBR_GPT,
            });
        }
    }
    layout
}

/// A GPT's layout from its primary header (sector 1), or None if that is
/// not a GPT header.
fn read_gpt(sectors: u64, read: &mut impl FnMut(u64, &mut [u8; SECTOR]) -> bool) -> Option<Layout> {
    let mut header = [0u8; SECTOR];
    if !read(1, &mut header) || &header[0..8] != b"EFI PART" {
        return None;
    }
    let entries_at = u64_at(&header, 72);
    let count = u64::from(u32_at(&header, 80));
    let size = u64::from(u32_at(&header, 84));
    if !(128..=SECTOR as u64).contains(&size) || !size.is_power_of_two() {
        return None;
    }
    let entry_sectors = (count * size)
        .div_ceil(SECTOR as u64)
        .min(MAX_ENTRY_SECTORS);
    // The primary table from sector 0 to its last entry sector; the backup
    // (entries, then header) ending at the header's alternate LBA (the
    // disk's last sector when the GPT was written for this disk).
    // A corrupt header may say anything: the sums saturate.
    let primary = Sectors {
        first: 0,
        last: entries_at
            .saturating_add(entry_sectors)
            .saturating_sub(1)
            .max(1),
    };
    let mut table = Vec::from([primary]);
    let alternate = u64_at(&header, 32);
    if alternate > primary.last.saturating_add(entry_sectors) && alternate < sectors {
        table.push(Sectors {
            first: alternate - entry_sectors,
            last: alternate,
        });
    }
    let mut partitions = Vec::new();
    let per_sector = SECTOR as u64 / size;
    let mut sector = [0u8; SECTOR];
    for s in 0..entry_sectors {
        let Some(at) = entries_at.checked_add(s) else {
            break;
        };
        if !read(at, &mut sector) {
            break;
        }
        for i in 0..per_sector {
            let e = &sector[(i * size) as usize..((i + 1) * size) as usize];
            let guid: [u8; 16] = e[0..16].try_into().ok()?;
            if guid == [0; 16] {
                continue;
            }
            partitions.push(Partition {
                number: (s * per_sector + i + 1) as u32,
                sectors: Sectors {
                    first: u64_at(e, 32),
                    last: u64_at(e, 40),
                },
                fat: guid == ESP_GUID || guid == BASIC_DATA_GUID,
            });
        }
    }
    Some(Layout { table, partitions })
}

/// Why region `region` (sectors) may not be written as a VM's disk on a
/// disk of `layout`, or None if it may.
pub fn refuse(layout: &Layout, region: Sectors) -> Option<String> {
    let tables = || layout.table.iter().filter(|t| region.overlaps(t));
    let partitions = || {
        layout
            .partitions
            .iter()
            .filter(|p| region.overlaps(&p.sectors))
    };
    let owns_the_layout = layout.table.first().is_some_and(|t| t.within(&region))
        && tables().all(|t| t.within(&region))
        && layout.partitions.iter().all(|p| p.sectors.within(&region));
    if owns_the_layout {
        return None;
    }
    let Some(p) = partitions().find(|p| p.fat || !region.within(&p.sectors)) else {
        let t = tables().next()?;
        return Some(format!(
            "sectors {}..={} overlap the host disk's partition table (sectors {}..={})",
            region.first, region.last, t.first, t.last
        ));
    };
    Some(format!(
        "sectors {}..={} overlap partition {} of the host disk (sectors {}..={}{})",
        region.first,
        region.last,
        p.number,
        p.sectors.first,
        p.sectors.last,
        if p.fat {
            ", a FAT partition, which boards boot from"
        } else {
            ", not lying wholly inside it"
        }
    ))
}

#[cfg(test)]
mod tests;
