use super::*;
use alloc::vec;

/// A disk of `n` zeroed sectors.
fn disk(n: usize) -> Vec<[u8; SECTOR]> {
    vec![[0u8; SECTOR]; n]
}

fn reader(d: &[[u8; SECTOR]]) -> impl FnMut(u64, &mut [u8; SECTOR]) -> bool + '_ {
    |lba, buf| match d.get(lba as usize) {
        Some(s) => {
            *buf = *s;
            true
        }
        None => false,
    }
}

/// MBR entry `i` of `d`: type, first sector, sector count.
fn mbr_entry(d: &mut [[u8; SECTOR]], i: usize, kind: u8, start: u32, count: u32) {
    let e = &mut d[0][446 + 16 * i..462 + 16 * i];
    e[4] = kind;
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&count.to_le_bytes());
    d[0][510] = 0x55;
    d[0][511] = 0xaa;
}

fn region(first: u64, last: u64) -> Sectors {
    Sectors { first, last }
}

#[test]
fn a_blank_disk_has_no_table_and_refuses_nothing() {
    let d = disk(64);
    let layout = read_layout(64, reader(&d));
    assert_eq!(layout, Layout::default());
    assert_eq!(refuse(&layout, region(0, 63)), None);
}

#[test]
fn an_mbr_card_keeps_its_table_and_its_fat_boot_partition() {
    // As a Raspberry Pi's card: FAT32 (LBA) boot partition, then Linux.
    let mut d = disk(4096);
    mbr_entry(&mut d, 0, 0x0c, 8, 1000);
    mbr_entry(&mut d, 1, 0x83, 1008, 2000);
    let layout = read_layout(4096, reader(&d));
    assert_eq!(layout.table, [region(0, 0)]);
    assert_eq!(
        layout.partitions,
        [
            Partition {
                number: 1,
                sectors: region(8, 1007),
                fat: true
            },
            Partition {
                number: 2,
                sectors: region(1008, 3007),
                fat: false
            },
        ]
    );
    let why = refuse(&layout, region(0, 7)).unwrap();
    assert!(why.contains("partition table"), "{why}");
    let why = refuse(&layout, region(100, 200)).unwrap();
    assert!(why.contains("partition 1") && why.contains("FAT"), "{why}");
    // Wholly inside the Linux partition, or in free space: allowed.
    assert_eq!(refuse(&layout, region(1008, 3007)), None);
    assert_eq!(refuse(&layout, region(3008, 4095)), None);
    // Across the Linux partition's end: refused.
    let why = refuse(&layout, region(3000, 3100)).unwrap();
    assert!(
        why.contains("partition 2") && why.contains("wholly"),
        "{why}"
    );
}

/// A GPT disk of `n` sectors: protective MBR, header at 1, 128 entries of
/// 128 bytes from sector 2, an ESP at 2048..=18431 and Linux data after.
fn gpt_disk(n: usize) -> Vec<[u8; SECTOR]> {
    let mut d = disk(n);
    mbr_entry(&mut d, 0, 0xee, 1, (n - 1) as u32);
    d[1][0..8].copy_from_slice(b"EFI PART");
    d[1][72..80].copy_from_slice(&2u64.to_le_bytes());
    d[1][80..84].copy_from_slice(&128u32.to_le_bytes());
    d[1][84..88].copy_from_slice(&128u32.to_le_bytes());
    d[1][32..40].copy_from_slice(&((n - 1) as u64).to_le_bytes());
    let mut entry = |i: usize, guid: [u8; 16], first: u64, last: u64| {
        let sector = 2 + i / 4;
        let at = (i % 4) * 128;
        d[sector][at..at + 16].copy_from_slice(&guid);
        d[sector][at + 32..at + 40].copy_from_slice(&first.to_le_bytes());
        d[sector][at + 40..at + 48].copy_from_slice(&last.to_le_bytes());
    };
    entry(0, ESP_GUID, 2048, 18431);
    entry(5, [0x42; 16], 18432, 40000);
    d
}

#[test]
fn a_gpt_disk_keeps_both_tables_and_its_efi_system_partition() {
    let n = 65536;
    let d = gpt_disk(n);
    let layout = read_layout(n as u64, reader(&d));
    // Header and 32 entry sectors at the start; entries and header at the end.
    assert_eq!(layout.table, [region(0, 33), region(65503, 65535)]);
    assert_eq!(
        layout.partitions,
        [
            Partition {
                number: 1,
                sectors: region(2048, 18431),
                fat: true
            },
            Partition {
                number: 6,
                sectors: region(18432, 40000),
                fat: false
            },
        ]
    );
    assert!(refuse(&layout, region(0, 2047)).is_some());
    assert!(refuse(&layout, region(65000, 65535)).is_some());
    assert!(refuse(&layout, region(4096, 8191)).unwrap().contains("FAT"));
    assert_eq!(refuse(&layout, region(20000, 30000)), None);
    assert_eq!(refuse(&layout, region(40001, 65000)), None);
}

#[test]
fn a_region_holding_the_whole_partitioning_is_the_vms_own_disk() {
    // A guest partitioned the region it has from sector 0 (its GPT's
    // backup at its own end): the region holds all of it, and another
    // VM's region after it touches none of it.
    let d = gpt_disk(65536);
    let mut layout = read_layout(131072, reader(&d));
    assert_eq!(layout.table[1], region(65503, 65535));
    assert_eq!(refuse(&layout, region(0, 65535)), None);
    assert_eq!(refuse(&layout, region(65536, 131071)), None);
    // Part of it is not: a region up to the ESP's middle.
    assert!(refuse(&layout, region(0, 4095)).is_some());
    // On an MBR card, a region from 0 over part of its FAT partition.
    layout = Layout {
        table: Vec::from([region(0, 0)]),
        partitions: Vec::from([Partition {
            number: 1,
            sectors: region(8192, 532479),
            fat: true,
        }]),
    };
    assert!(refuse(&layout, region(0, 131071)).unwrap().contains("FAT"));
}

#[test]
fn a_protective_mbr_without_a_gpt_header_is_read_as_an_mbr() {
    let mut d = disk(128);
    mbr_entry(&mut d, 0, 0xee, 1, 127);
    let layout = read_layout(128, reader(&d));
    // The whole disk is the one (unknown) partition: nothing may be written.
    assert!(refuse(&layout, region(64, 100)).is_some());
}

#[test]
fn an_unreadable_first_sector_is_no_table() {
    let layout = read_layout(16, |_, _| false);
    assert_eq!(layout, Layout::default());
}

#[test]
fn a_corrupt_gpt_header_is_read_without_overflowing() {
    // Entries "at" the last sector there is, none of them, an alternate
    // header past the disk: nothing overflows, and the table is kept.
    for (entries_at, count) in [(0u64, 0u32), (u64::MAX, 128), (u64::MAX - 3, 4)] {
        let mut d = gpt_disk(256);
        d[1][72..80].copy_from_slice(&entries_at.to_le_bytes());
        d[1][80..84].copy_from_slice(&count.to_le_bytes());
        d[1][32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let layout = read_layout(256, reader(&d));
        assert_eq!(layout.table[0].first, 0);
        assert!(refuse(&layout, region(0, 0)).is_some());
    }
}
