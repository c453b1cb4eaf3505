//! Round trip, boundary lookups and refusal of malformed tables.

use crate::format::{ENTRY_LEN, HEADER_LEN};
use crate::*;

fn sample() -> Vec<u8> {
    let mut syms = vec![
        (0x4008_1000, 0x40, "aerie::irq::handle".to_string()),
        (0x4008_0000, 0x100, "_start".to_string()),
        (0x4008_2000, 0, "marker_no_size".to_string()),
        (0x4008_3000, 0x10, "last".to_string()),
        // Alias of _start with a smaller size: dropped in favour of _start.
        (0x4008_0000, 0x8, "_alias".to_string()),
    ];
    write(&mut syms)
}

#[test]
fn round_trip() {
    let blob = sample();
    let t = Symbols::parse(&blob).unwrap();
    assert_eq!(t.len(), 4);
    let all: Vec<_> = t.iter().map(|s| (s.addr, s.size, s.name)).collect();
    assert_eq!(
        all,
        [
            (0x4008_0000, 0x100, "_start"),
            (0x4008_1000, 0x40, "aerie::irq::handle"),
            (0x4008_2000, 0, "marker_no_size"),
            (0x4008_3000, 0x10, "last"),
        ]
    );
    assert_eq!(&blob[..8], b"AESYMS01");
    assert_eq!(u32::from_le_bytes(blob[8..12].try_into().unwrap()), 4);
}

#[test]
fn lookups_at_boundaries() {
    let blob = sample();
    let t = Symbols::parse(&blob).unwrap();
    assert_eq!(t.lookup(0x4007_ffff), None, "below the first symbol");
    assert_eq!(t.lookup(0x4008_0000), Some(("_start", 0)));
    assert_eq!(t.lookup(0x4008_00ff), Some(("_start", 0xff)));
    assert_eq!(t.lookup(0x4008_0100), None, "one past a sized symbol");
    assert_eq!(t.lookup(0x4008_0fff), None);
    assert_eq!(t.lookup(0x4008_1000), Some(("aerie::irq::handle", 0)));
    assert_eq!(t.lookup(0x4008_103f), Some(("aerie::irq::handle", 0x3f)));
    assert_eq!(t.lookup(0x4008_1040), None);
    // Size 0: extends to the next symbol.
    assert_eq!(t.lookup(0x4008_2000), Some(("marker_no_size", 0)));
    assert_eq!(t.lookup(0x4008_2fff), Some(("marker_no_size", 0xfff)));
    assert_eq!(t.lookup(0x4008_3000), Some(("last", 0)));
    assert_eq!(t.lookup(0x4008_300f), Some(("last", 0xf)));
    assert_eq!(t.lookup(0x4008_3010), None);
    assert_eq!(t.lookup(u64::MAX), None);
    assert_eq!(t.lookup(0), None);
}

#[test]
fn empty_table() {
    let blob = write(&mut Vec::new());
    assert_eq!(blob.len(), HEADER_LEN);
    let t = Symbols::parse(&blob).unwrap();
    assert!(t.is_empty());
    assert_eq!(t.lookup(0x1234), None);
}

#[test]
fn names_cut_at_nul_and_zero_padding_allowed() {
    let mut blob = write(&mut vec![
        (0x10, 4, "a\0b".to_string()),
        (0x20, 0, String::new()),
    ]);
    blob.extend_from_slice(&[0; 7]);
    let t = Symbols::parse(&blob).unwrap();
    assert_eq!(t.lookup(0x12), Some(("a", 2)));
    assert_eq!(t.lookup(0x25), Some(("", 5)));
}

#[test]
fn large_table_binary_search() {
    let mut syms: Vec<_> = (0..1000u64)
        .map(|i| (0x1000 + i * 0x100, 0x80, format!("f{i}")))
        .collect();
    let blob = write(&mut syms);
    let t = Symbols::parse(&blob).unwrap();
    for i in [0u64, 1, 499, 998, 999] {
        let base = 0x1000 + i * 0x100;
        let name = format!("f{i}");
        assert_eq!(t.lookup(base + 0x7f), Some((name.as_str(), 0x7f)));
        assert_eq!(t.lookup(base + 0x80), None);
    }
}

fn set_u32(blob: &mut [u8], off: usize, v: u32) {
    blob[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn set_u64(blob: &mut [u8], off: usize, v: u64) {
    blob[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn malformed_refused() {
    let good = sample();
    let entry = |i: usize| HEADER_LEN + i * ENTRY_LEN;

    assert_eq!(
        Symbols::parse(&good[..10]).unwrap_err(),
        SymbolsError::Truncated {
            needed: 16,
            len: 10
        }
    );
    assert_eq!(
        Symbols::parse(b"short").unwrap_err(),
        SymbolsError::Truncated { needed: 16, len: 5 }
    );

    let mut b = good.clone();
    b[7] = b'2';
    assert_eq!(Symbols::parse(&b).unwrap_err(), SymbolsError::BadMagic);

    let cut = good.len() - 1;
    assert_eq!(
        Symbols::parse(&good[..cut]).unwrap_err(),
        SymbolsError::Truncated {
            needed: good.len(),
            len: cut
        }
    );

    let mut b = good.clone();
    set_u32(&mut b, 8, u32::MAX);
    assert!(matches!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::Truncated { .. }
    ));

    let mut b = good.clone();
    b.push(1);
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::TrailingBytes { offset: good.len() }
    );

    let mut b = good.clone();
    set_u64(&mut b, entry(2), 0x4008_1000);
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::NotSorted {
            index: 2,
            prev: 0x4008_1000,
            addr: 0x4008_1000
        }
    );

    let mut b = good.clone();
    set_u64(&mut b, entry(3), u64::MAX - 4);
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::SizeOverflow { index: 3 }
    );

    let strtab_len = u32::from_le_bytes(good[12..16].try_into().unwrap());
    let mut b = good.clone();
    set_u32(&mut b, entry(1) + 12, strtab_len);
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::NameOutOfBounds {
            index: 1,
            name_off: strtab_len
        }
    );

    // Last byte of the string table is the last name's NUL: remove it.
    let mut b = good.clone();
    *b.last_mut().unwrap() = b'x';
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::NameNotTerminated { index: 3 }
    );

    let mut b = good.clone();
    let first_name = HEADER_LEN + 4 * ENTRY_LEN; // "_start" at offset 0
    b[first_name] = 0xff;
    assert_eq!(
        Symbols::parse(&b).unwrap_err(),
        SymbolsError::NameNotUtf8 { index: 0 }
    );
}

#[test]
fn errors_display_context() {
    let e = SymbolsError::NotSorted {
        index: 3,
        prev: 0x20,
        addr: 0x10,
    };
    assert_eq!(
        e.to_string(),
        "symbol table: entry 3 at 0x10 does not follow previous 0x20"
    );
}
