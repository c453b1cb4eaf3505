use super::*;
use aerie_testrng::Rng;
use alloc::string::ToString;

/// One program header for [`image`].
#[derive(Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    vaddr: u64,
    file_size: u64,
    mem_size: u64,
}

const R: u32 = PF_R;
const RW: u32 = PF_R | PF_W;
const RX: u32 = PF_R | PF_X;

fn load(flags: u32, vaddr: u64, file_size: u64, mem_size: u64) -> Ph {
    Ph {
        p_type: PT_LOAD,
        flags,
        vaddr,
        file_size,
        mem_size,
    }
}

const TEXT: u64 = 0x40_0000;
const RODATA: u64 = 0x40_2000;
const DATA: u64 = 0x41_0000;

/// An ELF image: header, program headers at 64, then each segment's
/// file bytes in turn (byte `k` of segment `i` is `i * 16 + k`).
fn image(entry: u64, phs: &[Ph]) -> Vec<u8> {
    let mut b = alloc::vec![0u8; EHDR_SIZE];
    b[..4].copy_from_slice(&ELFMAG);
    b[4] = ELFCLASS64;
    b[5] = ELFDATA2LSB;
    b[6] = 1; // EI_VERSION
    b[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
    b[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[24..32].copy_from_slice(&entry.to_le_bytes());
    b[32..40].copy_from_slice(&(EHDR_SIZE as u64).to_le_bytes());
    b[52..54].copy_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    b[54..56].copy_from_slice(&PHDR_SIZE.to_le_bytes());
    b[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
    let mut offset = (EHDR_SIZE + phs.len() * usize::from(PHDR_SIZE)) as u64;
    for ph in phs {
        let mut h = [0u8; PHDR_SIZE as usize];
        h[0..4].copy_from_slice(&ph.p_type.to_le_bytes());
        h[4..8].copy_from_slice(&ph.flags.to_le_bytes());
        h[8..16].copy_from_slice(&offset.to_le_bytes());
        h[16..24].copy_from_slice(&ph.vaddr.to_le_bytes());
        h[24..32].copy_from_slice(&ph.vaddr.to_le_bytes());
        h[32..40].copy_from_slice(&ph.file_size.to_le_bytes());
        h[40..48].copy_from_slice(&ph.mem_size.to_le_bytes());
        h[48..56].copy_from_slice(&PAGE_SIZE.to_le_bytes());
        b.extend_from_slice(&h);
        offset += ph.file_size;
    }
    for (i, ph) in phs.iter().enumerate() {
        b.extend((0..ph.file_size).map(|k| (i as u64 * 16 + k) as u8));
    }
    b
}

/// Offset of field `at` in program header `i` of an [`image`].
fn ph_field(i: usize, at: usize) -> usize {
    EHDR_SIZE + i * usize::from(PHDR_SIZE) + at
}

fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Text, rodata and data+bss: the usual static program.
fn three() -> Vec<u8> {
    image(
        TEXT + 0x40,
        &[
            load(RX, TEXT, 0x1200, 0x1200),
            load(R, RODATA, 0x30, 0x30),
            load(RW, DATA, 0x20, 0x3000),
        ],
    )
}

fn err(bytes: &[u8]) -> ElfError {
    parse(bytes).expect_err("should be refused")
}

/// What every program [`parse`] accepts must satisfy.
fn check_invariants(bytes: &[u8], p: &Program) {
    assert!(!p.segments.is_empty() && p.segments.len() <= MAX_SEGMENTS);
    let mut total = 0;
    for (i, s) in p.segments.iter().enumerate() {
        assert!(s.file.start <= s.file.end && s.file.end <= bytes.len());
        assert!(s.mem_size > 0 && (s.file.len() as u64) <= s.mem_size);
        assert!(s.vaddr.is_multiple_of(PAGE_SIZE));
        assert!(s.vaddr >= LOW_GUARD && s.vaddr + s.mapped_size() <= PROGRAM_END);
        for t in &p.segments[i + 1..] {
            assert!(s.vaddr + s.mapped_size() <= t.vaddr || t.vaddr + t.mapped_size() <= s.vaddr);
        }
        total += s.mapped_size();
    }
    assert!(total <= PROGRAM_MAX_BYTES);
    assert!(p.segments.iter().any(
        |s| s.perms == Perms::ReadExecute && (s.vaddr..s.vaddr + s.mem_size).contains(&p.entry)
    ));
}

#[test]
fn three_segments_with_bss() {
    let img = three();
    let p = parse(&img).unwrap();
    assert_eq!(p.entry, TEXT + 0x40);
    let data_start = EHDR_SIZE + 3 * 56;
    assert_eq!(
        p.segments,
        alloc::vec![
            Segment {
                vaddr: TEXT,
                mem_size: 0x1200,
                file: data_start..data_start + 0x1200,
                perms: Perms::ReadExecute
            },
            Segment {
                vaddr: RODATA,
                mem_size: 0x30,
                file: data_start + 0x1200..data_start + 0x1230,
                perms: Perms::ReadOnly
            },
            Segment {
                vaddr: DATA,
                mem_size: 0x3000,
                file: data_start + 0x1230..data_start + 0x1250,
                perms: Perms::ReadWrite
            },
        ]
    );
    // The file range really holds that segment's bytes.
    assert_eq!(img[p.segments[2].file.clone()][..2], [32, 33]);
    assert_eq!(p.segments[0].mapped_size(), 0x2000);
    assert_eq!(p.segments[1].mapped_size(), 0x1000);
    assert_eq!(p.segments[2].mapped_size(), 0x3000);
    check_invariants(&img, &p);
}

#[test]
fn two_segments_and_bss_only() {
    let img = image(
        TEXT,
        &[load(RX, TEXT, 0x100, 0x100), load(RW, DATA, 0, 0x10_0000)],
    );
    let p = parse(&img).unwrap();
    assert_eq!(p.segments.len(), 2);
    assert_eq!(p.segments[1].file.len(), 0);
    assert_eq!(p.segments[1].perms, Perms::ReadWrite);
    check_invariants(&img, &p);
}

#[test]
fn one_page_touching_segments_are_not_overlapping() {
    // Text ends at 0x401000 exactly where rodata begins.
    let img = image(
        TEXT,
        &[
            load(RX, TEXT, 0x10, 0x1000),
            load(R, TEXT + 0x1000, 0x10, 0x10),
        ],
    );
    check_invariants(&img, &parse(&img).unwrap());
}

#[test]
fn other_program_headers_are_ignored() {
    const PT_NOTE: u32 = 4;
    const PT_GNU_STACK: u32 = 0x6474_E551;
    let img = image(
        TEXT,
        &[
            Ph {
                p_type: PT_GNU_STACK,
                flags: RW | PF_X,
                vaddr: 0,
                file_size: 0,
                mem_size: 0,
            },
            load(RX, TEXT, 0x10, 0x10),
            Ph {
                p_type: PT_NOTE,
                flags: 0,
                vaddr: 3,
                file_size: 0,
                mem_size: 0,
            },
        ],
    );
    let p = parse(&img).unwrap();
    assert_eq!(p.segments.len(), 1);
    assert_eq!(p.segments[0].vaddr, TEXT);
}

#[test]
fn perms_from_flags() {
    for (flags, want) in [
        (R, Perms::ReadOnly),
        (RW, Perms::ReadWrite),
        (PF_W, Perms::ReadWrite),
        (RX, Perms::ReadExecute),
        (PF_X, Perms::ReadExecute),
        // Bits beyond R/W/X (PF_MASKOS, PF_MASKPROC) are ignored.
        (R | 0x0FF0_0000, Perms::ReadOnly),
    ] {
        let img = image(
            TEXT,
            &[load(RX, TEXT, 0x10, 0x10), load(flags, DATA, 0x10, 0x10)],
        );
        assert_eq!(
            parse(&img).unwrap().segments[1].perms,
            want,
            "flags {flags:#x}"
        );
    }
}

#[test]
fn write_and_execute_is_refused() {
    for flags in [PF_W | PF_X, PF_R | PF_W | PF_X] {
        let img = image(
            TEXT,
            &[
                load(RX, TEXT, 0x10, 0x10),
                load(R, RODATA, 0, 0x10),
                load(flags, DATA, 0x10, 0x10),
            ],
        );
        let e = err(&img);
        assert_eq!(
            e,
            ElfError::WriteExecute {
                index: 2,
                vaddr: DATA
            }
        );
        assert_eq!(
            e.to_string(),
            "segment 2 at 0x410000 is writable and executable (W^X)"
        );
    }
}

#[test]
fn no_permissions_is_refused() {
    let img = image(
        TEXT,
        &[load(RX, TEXT, 0x10, 0x10), load(0x0010_0000, DATA, 0, 0x10)],
    );
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::NoPermissions {
            index: 1,
            vaddr: DATA,
            flags: 0x0010_0000
        }
    );
    assert_eq!(
        e.to_string(),
        "segment 1 at 0x410000 is neither readable, writable nor executable (p_flags 0x100000)"
    );
}

#[test]
fn entry_must_be_in_an_executable_segment() {
    let phs = [load(RX, TEXT, 0x100, 0x100), load(RW, DATA, 0x10, 0x2000)];
    // First and last byte of text are fine.
    assert!(parse(&image(TEXT, &phs)).is_ok());
    assert!(parse(&image(TEXT + 0xFF, &phs)).is_ok());
    // One past mem_size (inside the mapped page, but not the segment),
    // in the data segment, nowhere at all.
    for entry in [TEXT + 0x100, DATA, DATA + 0x1000, 0x1234, 0] {
        let e = err(&image(entry, &phs));
        assert_eq!(e, ElfError::EntryNotExecutable { entry });
    }
    assert_eq!(
        err(&image(0x1234, &phs)).to_string(),
        "entry point 0x1234 is not in an executable segment"
    );
    // No executable segment at all.
    let e = err(&image(DATA, &[load(RW, DATA, 0x10, 0x10)]));
    assert_eq!(e, ElfError::EntryNotExecutable { entry: DATA });
}

#[test]
fn too_short() {
    let img = three();
    for n in [0, 4, 63] {
        let e = err(&img[..n]);
        assert_eq!(e, ElfError::TooShort { len: n });
    }
    assert_eq!(
        err(&[]).to_string(),
        "file is 0 bytes, shorter than the 64-byte ELF header"
    );
}

#[test]
fn bad_magic() {
    let mut img = three();
    img[1] = b'X';
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::BadMagic {
            magic: [0x7F, b'X', b'L', b'F']
        }
    );
    assert_eq!(e.to_string(), "not an ELF file (magic 7f 58 4c 46)");
}

#[test]
fn not_elf64() {
    let mut img = three();
    img[4] = 1; // ELFCLASS32
    let e = err(&img);
    assert_eq!(e, ElfError::NotElf64 { class: 1 });
    assert_eq!(e.to_string(), "not a 64-bit ELF (EI_CLASS 1)");
}

#[test]
fn not_little_endian() {
    let mut img = three();
    img[5] = 2; // ELFDATA2MSB
    let e = err(&img);
    assert_eq!(e, ElfError::NotLittleEndian { data: 2 });
    assert_eq!(e.to_string(), "not a little-endian ELF (EI_DATA 2)");
}

#[test]
fn not_exec() {
    for e_type in [0u16, 1, 3, 4] {
        let mut img = three();
        put_u16(&mut img, 16, e_type);
        assert_eq!(err(&img), ElfError::NotExecutable { e_type });
    }
    let mut img = three();
    put_u16(&mut img, 16, 3); // ET_DYN
    assert_eq!(
        err(&img).to_string(),
        "not a static executable (e_type 3, want ET_EXEC 2)"
    );
}

#[test]
fn not_aarch64() {
    let mut img = three();
    put_u16(&mut img, 18, 62); // EM_X86_64
    let e = err(&img);
    assert_eq!(e, ElfError::NotAArch64 { machine: 62 });
    assert_eq!(e.to_string(), "not an AArch64 ELF (e_machine 62)");
}

#[test]
fn bad_phentsize() {
    for size in [0u16, 32, 55, 57, 64] {
        let mut img = three();
        put_u16(&mut img, 54, size);
        assert_eq!(err(&img), ElfError::BadPhentsize { size });
    }
    let mut img = three();
    put_u16(&mut img, 54, 32);
    assert_eq!(err(&img).to_string(), "program header size 32, want 56");
}

#[test]
fn program_headers_out_of_bounds() {
    let img = three();
    let len = img.len();
    // The table moved to the end; its start past the end; u64::MAX
    // (overflows start + size); too many entries.
    for (phoff, phnum) in [
        (len as u64 - 100, 3u16),
        (len as u64 + 1, 3),
        (u64::MAX, 3),
        (64, 0xFFFF),
    ] {
        let mut img = img.clone();
        put_u64(&mut img, 32, phoff);
        put_u16(&mut img, 56, phnum);
        assert_eq!(
            err(&img),
            ElfError::HeadersOutOfBounds {
                offset: phoff,
                count: phnum,
                len
            }
        );
    }
    let mut small = image(TEXT, &[load(RX, TEXT, 0, 0x10)]);
    put_u16(&mut small, 56, 2);
    assert_eq!(
        err(&small).to_string(),
        "program header table (2 entries at offset 0x40) runs past the end of the \
         120-byte file"
    );
}

#[test]
fn no_load_segment() {
    let mut img = three();
    put_u16(&mut img, 56, 0);
    assert_eq!(err(&img), ElfError::NoLoadSegment);
    let img = image(
        TEXT,
        &[Ph {
            p_type: 4,
            flags: R,
            vaddr: TEXT,
            file_size: 0,
            mem_size: 1,
        }],
    );
    let e = err(&img);
    assert_eq!(e, ElfError::NoLoadSegment);
    assert_eq!(e.to_string(), "no loadable (PT_LOAD) segment");
}

#[test]
fn at_most_sixteen_segments() {
    let phs: Vec<Ph> = (0..16)
        .map(|i| load(if i == 0 { RX } else { R }, TEXT + i * PAGE_SIZE, 8, 8))
        .collect();
    let img = image(TEXT, &phs);
    check_invariants(&img, &parse(&img).unwrap());

    let phs: Vec<Ph> = (0..17)
        .map(|i| load(if i == 0 { RX } else { R }, TEXT + i * PAGE_SIZE, 8, 8))
        .collect();
    let e = err(&image(TEXT, &phs));
    assert_eq!(e, ElfError::TooManySegments { count: 17 });
    assert_eq!(e.to_string(), "17 loadable segments, more than 16");
}

#[test]
fn empty_segment() {
    let img = image(TEXT, &[load(RX, TEXT, 0x10, 0x10), load(RW, DATA, 0, 0)]);
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::EmptySegment {
            index: 1,
            vaddr: DATA
        }
    );
    assert_eq!(
        e.to_string(),
        "segment 1 at 0x410000 has a memory size of 0"
    );
}

#[test]
fn file_larger_than_memory() {
    let img = image(TEXT, &[load(RX, TEXT, 0x20, 0x10)]);
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::FileLargerThanMemory {
            index: 0,
            vaddr: TEXT,
            file_size: 0x20,
            mem_size: 0x10
        }
    );
    assert_eq!(
        e.to_string(),
        "segment 0 at 0x400000 has file size 0x20, larger than its memory size 0x10"
    );
}

#[test]
fn file_bytes_out_of_bounds() {
    let img = three();
    let len = img.len();
    // Offset moved so the range ends one byte past the file; offset past
    // the end; offset + size overflowing.
    for offset in [len as u64 - 0x1F, len as u64 + 1, u64::MAX - 0x10] {
        let mut img = img.clone();
        put_u64(&mut img, ph_field(2, 8), offset);
        assert_eq!(
            err(&img),
            ElfError::FileOutOfBounds {
                index: 2,
                vaddr: DATA,
                offset,
                file_size: 0x20,
                len
            }
        );
    }
    // Truncating the file cuts off the last segment's bytes.
    let cut = &img[..len - 1];
    assert_eq!(
        err(cut),
        ElfError::FileOutOfBounds {
            index: 2,
            vaddr: DATA,
            offset: (len - 0x20) as u64,
            file_size: 0x20,
            len: len - 1
        }
    );
    // A huge file size (still <= mem_size).
    let mut img = img.clone();
    put_u64(&mut img, ph_field(2, 32), u64::MAX);
    put_u64(&mut img, ph_field(2, 40), u64::MAX);
    assert!(matches!(
        err(&img),
        ElfError::FileOutOfBounds { index: 2, .. }
    ));
    let small = image(TEXT, &[load(RX, TEXT, 0x10, 0x10)]);
    let e = err(&small[..small.len() - 1]);
    assert_eq!(
        e.to_string(),
        "segment 0 at 0x400000 has file bytes 0x10 at offset 0x78, outside the 135-byte file"
    );
}

#[test]
fn below_low_guard() {
    for vaddr in [0, 0x8, 0x1000, LOW_GUARD - PAGE_SIZE] {
        let img = image(
            TEXT,
            &[load(RX, TEXT, 0x10, 0x10), load(R, vaddr, 0x10, 0x10)],
        );
        assert_eq!(err(&img), ElfError::BelowLowGuard { index: 1, vaddr });
    }
    let img = image(TEXT, &[load(R, 0x8, 0, 0x10), load(RX, TEXT, 0x10, 0x10)]);
    assert_eq!(
        err(&img).to_string(),
        "segment 0 at 0x8 lies below the low guard 0x10000"
    );
    // The guard's own first page is fine.
    let img = image(LOW_GUARD, &[load(RX, LOW_GUARD, 0x10, 0x10)]);
    assert!(parse(&img).is_ok());
}

#[test]
fn misaligned() {
    for vaddr in [DATA + 1, DATA + 0x800, DATA + PAGE_SIZE - 1] {
        let img = image(
            TEXT,
            &[load(RX, TEXT, 0x10, 0x10), load(RW, vaddr, 0x10, 0x10)],
        );
        assert_eq!(err(&img), ElfError::Misaligned { index: 1, vaddr });
    }
    let img = image(TEXT, &[load(RX, TEXT + 4, 0x10, 0x10)]);
    assert_eq!(
        err(&img).to_string(),
        "segment 0 at 0x400004 is not page aligned"
    );
}

#[test]
fn past_program_end() {
    // The last page below PROGRAM_END is fine; a byte more rounds past it.
    let last = PROGRAM_END - PAGE_SIZE;
    let ok = image(
        TEXT,
        &[load(RX, TEXT, 0x10, 0x10), load(RW, last, 0, PAGE_SIZE)],
    );
    check_invariants(&ok, &parse(&ok).unwrap());
    for (vaddr, mem_size) in [
        (last, PAGE_SIZE + 1),
        (PROGRAM_END, 1),
        (crate::layout::STACK_BOTTOM, 0x10),
        (crate::layout::SHIM_VA, 0x10),
        (crate::layout::VA_END, 0x10),
        // Rounding or adding overflows.
        (DATA, u64::MAX),
        (!(PAGE_SIZE - 1), PAGE_SIZE),
    ] {
        let img = image(
            TEXT,
            &[load(RX, TEXT, 0x10, 0x10), load(RW, vaddr, 0, mem_size)],
        );
        assert_eq!(
            err(&img),
            ElfError::PastProgramEnd {
                index: 1,
                vaddr,
                mem_size
            }
        );
    }
    let img = image(
        TEXT,
        &[load(RX, TEXT, 0x10, 0x10), load(RW, PROGRAM_END, 0, 0x10)],
    );
    assert_eq!(
        err(&img).to_string(),
        alloc::format!(
            "segment 1 at {PROGRAM_END:#x} (0x10 bytes) reaches past the end of the program \
             area {PROGRAM_END:#x}"
        )
    );
}

#[test]
fn overlapping_segments() {
    // Same page after rounding: text is 0x10 bytes, but its page covers
    // TEXT..TEXT+0x1000, and rodata starts inside it.
    for (second, mem_size) in [
        (TEXT, 0x10),
        (TEXT - PAGE_SIZE, PAGE_SIZE + 1),
        (TEXT - 0x10000, 0x20000),
    ] {
        let img = image(
            TEXT,
            &[load(RX, TEXT, 0x10, 0x10), load(R, second, 0, mem_size)],
        );
        assert_eq!(
            err(&img),
            ElfError::Overlap {
                first: 0,
                first_vaddr: TEXT,
                second: 1,
                second_vaddr: second
            }
        );
    }
    // The pair is named in header order: the earlier, then the later.
    let img = image(
        TEXT,
        &[
            load(RX, TEXT, 0x10, 0x10),
            load(R, DATA, 0, 0x10),
            load(RW, DATA, 0, 0x10),
        ],
    );
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::Overlap {
            first: 1,
            first_vaddr: DATA,
            second: 2,
            second_vaddr: DATA
        }
    );
    assert_eq!(
        e.to_string(),
        "segments 1 at 0x410000 and 2 at 0x410000 overlap"
    );
}

#[test]
fn total_size_limit() {
    let ok = image(
        TEXT,
        &[
            load(RX, TEXT, 0x10, 0x10),
            load(RW, DATA, 0, PROGRAM_MAX_BYTES - PAGE_SIZE),
        ],
    );
    check_invariants(&ok, &parse(&ok).unwrap());
    let img = image(
        TEXT,
        &[
            load(RX, TEXT, 0x10, 0x10),
            load(RW, DATA, 0, PROGRAM_MAX_BYTES - PAGE_SIZE + 1),
        ],
    );
    let e = err(&img);
    assert_eq!(
        e,
        ElfError::TooLarge {
            total: PROGRAM_MAX_BYTES + PAGE_SIZE
        }
    );
    assert_eq!(
        e.to_string(),
        "segments take 0x1001000 bytes, more than the 0x1000000-byte limit"
    );
}

#[test]
fn every_error_message_is_distinct_and_nonempty() {
    let all = [
        ElfError::TooShort { len: 1 },
        ElfError::BadMagic { magic: [0; 4] },
        ElfError::NotElf64 { class: 1 },
        ElfError::NotLittleEndian { data: 2 },
        ElfError::NotExecutable { e_type: 3 },
        ElfError::NotAArch64 { machine: 62 },
        ElfError::BadPhentsize { size: 1 },
        ElfError::HeadersOutOfBounds {
            offset: 1,
            count: 1,
            len: 1,
        },
        ElfError::NoLoadSegment,
        ElfError::TooManySegments { count: 17 },
        ElfError::WriteExecute { index: 0, vaddr: 0 },
        ElfError::NoPermissions {
            index: 0,
            vaddr: 0,
            flags: 0,
        },
        ElfError::EmptySegment { index: 0, vaddr: 0 },
        ElfError::FileLargerThanMemory {
            index: 0,
            vaddr: 0,
            file_size: 2,
            mem_size: 1,
        },
        ElfError::FileOutOfBounds {
            index: 0,
            vaddr: 0,
            offset: 0,
            file_size: 1,
            len: 0,
        },
        ElfError::BelowLowGuard { index: 0, vaddr: 0 },
        ElfError::Misaligned { index: 0, vaddr: 1 },
        ElfError::PastProgramEnd {
            index: 0,
            vaddr: 0,
            mem_size: 1,
        },
        ElfError::Overlap {
            first: 0,
            first_vaddr: 0,
            second: 1,
            second_vaddr: 0,
        },
        ElfError::TooLarge { total: 1 },
        ElfError::EntryNotExecutable { entry: 0 },
    ];
    let texts: Vec<_> = all.iter().map(|e| e.to_string()).collect();
    for (i, t) in texts.iter().enumerate() {
        assert!(!t.is_empty());
        assert!(
            texts[i + 1..].iter().all(|u| u != t),
            "duplicate message {t:?}"
        );
    }
}

/// Every byte of the headers set to a few interesting values: never a
/// panic, and anything accepted still satisfies the invariants.
#[test]
fn header_byte_mutations_never_panic() {
    let img = three();
    let headers = EHDR_SIZE + 3 * usize::from(PHDR_SIZE);
    for i in 0..headers {
        for v in [0x00, 0xFF, 0x80, 0x01, 0x7F] {
            let mut m = img.clone();
            m[i] = v;
            if let Ok(p) = parse(&m) {
                check_invariants(&m, &p);
            }
        }
    }
}

/// Every truncation of a valid image: refused (the last segment's
/// bytes are at the end), never a panic.
#[test]
fn truncations_never_panic() {
    let img = three();
    for n in 0..img.len() {
        assert!(parse(&img[..n]).is_err(), "accepted a {n}-byte prefix");
    }
    assert!(parse(&img).is_ok());
}

/// Seeded random damage: several bytes at once, whole fields set to
/// boundary values, random lengths.
#[test]
fn seeded_random_mutations_never_panic() {
    let base = three();
    let headers = (EHDR_SIZE + 3 * usize::from(PHDR_SIZE)) as u64;
    let interesting = [
        0,
        1,
        PAGE_SIZE,
        LOW_GUARD,
        TEXT,
        PROGRAM_END,
        PROGRAM_MAX_BYTES,
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        u32::MAX as u64,
    ];
    let mut rng = Rng::new(0x5EED_E1F0);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut m = base.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(headers) as usize;
            if rng.chance(50) {
                m[at] = rng.next_u64() as u8;
            } else {
                let v = rng.pick(&interesting).to_le_bytes();
                let width = rng.pick(&[2usize, 4, 8]);
                let end = (at + width).min(m.len());
                m[at..end].copy_from_slice(&v[..end - at]);
            }
        }
        if rng.chance(10) {
            m.truncate(rng.below(m.len() as u64 + 1) as usize);
        }
        if let Ok(p) = parse(&m) {
            check_invariants(&m, &p);
            accepted += 1;
        }
    }
    // Some damage is harmless (p_paddr, p_align, e_flags...): the
    // accepting paths were exercised too.
    assert!(accepted > 0);
}

/// Random bytes after a valid ELF identification and machine.
#[test]
fn seeded_random_headers_never_panic() {
    let mut rng = Rng::new(42);
    for _ in 0..5_000 {
        let len = rng.below(512) as usize;
        let mut m: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if len >= EHDR_SIZE {
            m[..4].copy_from_slice(&ELFMAG);
            m[4] = ELFCLASS64;
            m[5] = ELFDATA2LSB;
            put_u16(&mut m, 16, ET_EXEC);
            put_u16(&mut m, 18, EM_AARCH64);
            put_u16(&mut m, 54, PHDR_SIZE);
            put_u64(&mut m, 32, rng.below(len as u64 + 8));
            put_u16(&mut m, 56, rng.below(8) as u16);
        }
        if let Ok(p) = parse(&m) {
            check_invariants(&m, &p);
        }
    }
}
