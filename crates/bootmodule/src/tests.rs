//! Boot module round trip and rejection tests.

use crate::format::{
    header, record, world, BACKDOOR_BRK, BACKDOOR_EL0, BACKDOOR_ENABLED, BACKDOOR_HIGH_BANDWIDTH,
    BLOB_ALIGN, HEADER_SIZE, RECORD_SIZE_V1, RECORD_SIZE_V2, RECORD_SIZE_V4, RECORD_SIZE_V7,
    VERSION_BACKDOOR, VERSION_SYMBOLS, VERSION_WORLDS, WORLD_FLAGS_KNOWN, WORLD_FLAG_CONTROL,
    WORLD_FLAG_CONTROL_LISTED, WORLD_FLAG_OPS_LISTED, WORLD_RECORD_SIZE, WORLD_RECORD_SIZE_V6,
};
use crate::{
    encode_guestinfo, guestinfo_entries, write, BackdoorPolicy, BootModule, BootModuleError,
    Control, DiskRegion, NetCard, Operations, VmField, VmFieldError, VmImage, WorldField,
    WorldImage,
};

fn sample() -> Vec<u8> {
    with_worlds(&[], None)
}

/// [`sample`]'s two VMs with `worlds` and `symbols`.
fn with_worlds(worlds: &[WorldImage], symbols: Option<&[u8]>) -> Vec<u8> {
    let kernel_a: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let kernel_b = vec![0xAB; 4096];
    let initrd = vec![0x5A; 100];
    write(
        &[
            VmImage {
                name: "testkit",
                vcpus: 2,
                memory: 64 << 20,
                kernel: &kernel_a,
                initrd: None,
                cmdline: "bench",
                disk: None,
                backdoor: None,
                guestinfo: &[],
                more_disks: &[],
                fixed_clock: false,
                net: None,
            },
            VmImage {
                name: "linux-1",
                vcpus: 8,
                memory: 1 << 30,
                kernel: &kernel_b,
                initrd: Some(&initrd),
                cmdline: "",
                disk: Some(DiskRegion {
                    offset: 64 << 20,
                    size: 32 << 20,
                }),
                backdoor: None,
                guestinfo: &[],
                more_disks: &[],
                fixed_clock: false,
                net: None,
            },
        ],
        worlds,
        symbols,
    )
}

/// Parses `bytes` and checks that VM `index` is refused with exactly this
/// field and error while every other VM still parses (a bad VM must not
/// poison the others); returns the error for message checks.
fn refused(bytes: &[u8], index: usize, field: VmField, error: VmFieldError) -> BootModuleError {
    let m = BootModule::parse(bytes).unwrap();
    let err = m.vm(index).unwrap_err();
    assert_eq!(
        err,
        BootModuleError::Vm {
            index,
            field,
            error
        }
    );
    for other in (0..m.vm_count()).filter(|&i| i != index) {
        assert!(m.vm(other).is_ok(), "vm[{other}] poisoned by vm[{index}]");
    }
    err
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn record_at(i: usize) -> usize {
    HEADER_SIZE + i * RECORD_SIZE_V7
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn round_trip() {
    let kernel_a: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let bytes = sample();
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.version(), crate::format::VERSION);
    assert_eq!(m.vm_count(), 2);
    let a = m.vm(0).unwrap();
    assert_eq!(a.name, "testkit");
    assert_eq!(a.vcpus, 2);
    assert_eq!(a.memory, 64 << 20);
    assert_eq!(a.kernel, &kernel_a[..]);
    assert_eq!(a.initrd, None);
    assert_eq!(a.cmdline, "bench");
    let b = m.vm(1).unwrap();
    assert_eq!(b.name, "linux-1");
    assert_eq!(b.vcpus, 8);
    assert_eq!(b.memory, 1 << 30);
    assert_eq!(b.kernel, &[0xAB; 4096][..]);
    assert_eq!(b.initrd, Some(&[0x5A; 100][..]));
    assert_eq!(b.cmdline, "");
    assert_eq!(a.disk, None);
    assert_eq!(
        b.disk,
        Some(DiskRegion {
            offset: 64 << 20,
            size: 32 << 20
        })
    );
    assert_eq!(m.vms().filter(|v| v.is_ok()).count(), 2);
    assert_eq!(
        m.vm(2),
        Err(BootModuleError::NoSuchVm { index: 2, count: 2 })
    );
}

#[test]
fn blobs_are_page_aligned_and_header_is_exact() {
    let bytes = sample();
    assert_eq!(&bytes[..8], b"AERIEBM1");
    assert_eq!(
        u64::from_le_bytes(bytes[header::TOTAL_SIZE..][..8].try_into().unwrap()),
        bytes.len() as u64
    );
    let m = BootModule::parse(&bytes).unwrap();
    let offset_of = |blob: &[u8]| blob.as_ptr() as usize - bytes.as_ptr() as usize;
    let mut offsets = vec![];
    for vm in m.vms() {
        let vm = vm.unwrap();
        offsets.push(offset_of(vm.kernel));
        offsets.extend(vm.initrd.map(offset_of));
    }
    // kernel A (5000 bytes) at 4096, cmdline A at 12288, kernel B, initrd B.
    assert_eq!(offsets, [4096, 16384, 20480]);
    assert!(offsets
        .iter()
        .all(|o| (*o as u64).is_multiple_of(BLOB_ALIGN)));
}

#[test]
fn trailing_padding_is_ignored() {
    let mut bytes = sample();
    let len = bytes.len();
    bytes.extend_from_slice(&[0xEE; 300]);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.as_bytes().len(), len);
    assert_eq!(m.vm(1).unwrap().initrd.unwrap().len(), 100);
}

#[test]
fn truncated_module_rejected() {
    let bytes = sample();
    assert_eq!(
        BootModule::parse(&bytes[..10]).unwrap_err(),
        BootModuleError::Truncated {
            needed: 64,
            available: 10
        }
    );
    let cut = bytes.len() - 1;
    assert_eq!(
        BootModule::parse(&bytes[..cut]).unwrap_err(),
        BootModuleError::Truncated {
            needed: bytes.len() as u64,
            available: cut as u64
        }
    );
}

#[test]
fn bad_magic_rejected() {
    let mut bytes = sample();
    bytes[7] = b'2';
    assert_eq!(
        BootModule::parse(&bytes).unwrap_err(),
        BootModuleError::BadMagic {
            found: *b"AERIEBM2"
        }
    );
}

#[test]
fn out_of_range_blob_rejected_naming_vm_and_field() {
    let mut bytes = sample();
    let size = bytes.len() as u64;
    // vm[1].initrd length pushed one byte past the end.
    let at = record_at(1) + record::INITRD;
    let offset = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    put_u64(&mut bytes, at + 8, size - offset + 1);
    let err = refused(
        &bytes,
        1,
        VmField::Initrd,
        VmFieldError::OutOfRange {
            offset,
            len: size - offset + 1,
            size,
        },
    );
    let msg = err.to_string();
    assert!(msg.contains("vm[1]") && msg.contains("`initrd`"), "{msg}");
}

#[test]
fn offset_overflow_is_out_of_range_not_panic() {
    let mut bytes = sample();
    put_u64(&mut bytes, record_at(0) + record::KERNEL, u64::MAX - 1);
    let m = BootModule::parse(&bytes).unwrap();
    assert!(matches!(
        m.vm(0),
        Err(BootModuleError::Vm {
            index: 0,
            field: VmField::Kernel,
            error: VmFieldError::OutOfRange { .. }
        })
    ));
}

#[test]
fn misaligned_kernel_rejected() {
    let mut bytes = sample();
    let at = record_at(0) + record::KERNEL;
    let offset = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    put_u64(&mut bytes, at, offset + 8);
    put_u64(&mut bytes, at + 8, 16);
    refused(
        &bytes,
        0,
        VmField::Kernel,
        VmFieldError::Misaligned { offset: offset + 8 },
    );
}

#[test]
fn non_utf8_name_rejected() {
    let mut bytes = sample();
    bytes[record_at(1) + record::NAME] = 0xFF;
    refused(&bytes, 1, VmField::Name, VmFieldError::NotUtf8);
}

#[test]
fn unterminated_and_empty_names_rejected() {
    let mut bytes = sample();
    let at = record_at(0) + record::NAME;
    bytes[at..at + 32].fill(b'a');
    refused(&bytes, 0, VmField::Name, VmFieldError::Unterminated);
    bytes[at..at + 32].fill(0);
    refused(&bytes, 0, VmField::Name, VmFieldError::Empty);
}

#[test]
fn zero_vcpus_rejected() {
    let mut bytes = sample();
    let at = record_at(1) + record::VCPUS;
    bytes[at..at + 4].fill(0);
    let err = refused(&bytes, 1, VmField::Vcpus, VmFieldError::Empty);
    assert_eq!(
        err.to_string(),
        "boot module: vm[1]: field `vcpus`: must not be empty or zero"
    );
}

#[test]
fn records_outside_module_rejected() {
    let mut bytes = sample();
    bytes[header::VM_COUNT..header::VM_COUNT + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(matches!(
        BootModule::parse(&bytes),
        Err(BootModuleError::RecordsOutOfRange { .. })
    ));
}

#[test]
fn small_record_size_rejected_larger_is_skipped() {
    let bytes = sample();
    let mut small = bytes.clone();
    put_u32(&mut small, header::RECORD_SIZE, 64);
    assert_eq!(
        BootModule::parse(&small).unwrap_err(),
        BootModuleError::BadHeader {
            field: "record_size",
            value: 64
        }
    );

    // A "version 5" module whose records carry a 64-byte tail this parser does not
    // know: rebuild the record table with the larger stride and check both VMs read.
    let m = BootModule::parse(&bytes).unwrap();
    let (a, b) = (m.vm(0).unwrap(), m.vm(1).unwrap());
    let stride = RECORD_SIZE_V4 + 64;
    let newer = restride(&bytes, 5, stride, RECORD_SIZE_V4);
    let m = BootModule::parse(&newer).unwrap();
    assert_eq!(m.version(), 5);
    assert_eq!(m.vm(0).unwrap(), a);
    assert_eq!(m.vm(1).unwrap(), b);
}

/// `bytes` (from [`sample`]) with its two records rewritten at `stride` bytes
/// apart, keeping the first `keep` bytes of each and filling the rest with 0xCC.
fn restride(bytes: &[u8], version: u32, stride: usize, keep: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    put_u32(&mut out, header::VERSION, version);
    put_u32(&mut out, header::RECORD_SIZE, stride as u32);
    // The first blob starts at 4096, so two larger records still fit before it.
    let rec0 = bytes[record_at(0)..record_at(0) + keep].to_vec();
    let rec1 = bytes[record_at(1)..record_at(1) + keep].to_vec();
    out[HEADER_SIZE..HEADER_SIZE + 2 * stride.max(RECORD_SIZE_V4)].fill(0xCC);
    out[HEADER_SIZE..HEADER_SIZE + keep].copy_from_slice(&rec0);
    out[HEADER_SIZE + stride..HEADER_SIZE + stride + keep].copy_from_slice(&rec1);
    out
}

#[test]
fn version_1_module_has_no_disks_whatever_its_tail_holds() {
    // What a writer from before disks produced: 128-byte records, version 1.
    let bytes = sample();
    let v1 = restride(&bytes, 1, RECORD_SIZE_V1, RECORD_SIZE_V1);
    let m = BootModule::parse(&v1).unwrap();
    assert_eq!(m.vm(1).unwrap().disk, None);
    assert_eq!(m.vm(1).unwrap().name, "linux-1");
    // A version-1 record with a tail: the tail is not a disk region, even
    // though it is long enough to hold one (here it is 0xCC garbage).
    let v1_tail = restride(&bytes, 1, RECORD_SIZE_V2 + 16, RECORD_SIZE_V1);
    let m = BootModule::parse(&v1_tail).unwrap();
    assert_eq!(m.vm(0).unwrap().disk, None);
    assert_eq!(m.vm(1).unwrap().disk, None);
}

#[test]
fn v1_field_offsets_are_unchanged() {
    // Older hypervisors read these offsets; version 2 only appended.
    assert_eq!(
        [
            record::NAME,
            record::VCPUS,
            record::MEMORY,
            record::KERNEL,
            record::INITRD,
            record::CMDLINE
        ],
        [0, 32, 40, 48, 64, 80]
    );
    assert_eq!((record::DISK_OFFSET, record::DISK_SIZE), (128, 136));
    assert_eq!(RECORD_SIZE_V2, RECORD_SIZE_V1 + 16);
    let bytes = sample();
    let rs = u32::from_le_bytes(bytes[header::RECORD_SIZE..][..4].try_into().unwrap());
    assert_eq!(rs as usize, RECORD_SIZE_V7);
    let at = record_at(1);
    assert_eq!(
        u64::from_le_bytes(bytes[at + 128..at + 136].try_into().unwrap()),
        64 << 20
    );
    assert_eq!(
        u64::from_le_bytes(bytes[at + 136..at + 144].try_into().unwrap()),
        32 << 20
    );
}

#[test]
fn bad_disk_regions_rejected() {
    for (offset, size) in [
        (100, 4096),            // offset not a sector multiple
        (4096, 1000),           // size not a sector multiple
        (512, 0),               // an offset without a size
        (u64::MAX - 511, 1024), // end overflows
    ] {
        let mut bytes = sample();
        put_u64(&mut bytes, record_at(1) + record::DISK_OFFSET, offset);
        put_u64(&mut bytes, record_at(1) + record::DISK_SIZE, size);
        let err = refused(
            &bytes,
            1,
            VmField::Disk,
            VmFieldError::BadDiskRegion { offset, size },
        );
        assert!(err.to_string().contains("field `disk`"), "{err}");
    }
}

#[test]
fn disk_region_overlap() {
    let r = |offset, size| DiskRegion { offset, size };
    assert!(r(0, 1024).overlaps(&r(512, 1024)));
    assert!(r(512, 1024).overlaps(&r(0, 1024)));
    assert!(r(0, 4096).overlaps(&r(1024, 512)), "containment");
    assert!(!r(0, 1024).overlaps(&r(1024, 1024)), "adjacent is fine");
    assert!(!r(2048, 512).overlaps(&r(0, 1024)));
    assert_eq!(r(1024, 512).end(), 1536);
}

#[test]
fn version_zero_rejected() {
    let mut bytes = sample();
    bytes[header::VERSION..header::VERSION + 4].fill(0);
    assert_eq!(
        BootModule::parse(&bytes).unwrap_err(),
        BootModuleError::UnsupportedVersion { version: 0 }
    );
}

#[test]
fn empty_module_round_trips() {
    let bytes = write(&[], &[], None);
    assert_eq!(bytes.len(), HEADER_SIZE);
    assert_eq!(BootModule::parse(&bytes).unwrap().vm_count(), 0);
}

#[test]
#[should_panic(expected = "must be 1..=31 bytes")]
fn writer_refuses_long_name() {
    let name = "a".repeat(32);
    write(
        &[VmImage {
            name: &name,
            vcpus: 1,
            memory: 1,
            kernel: &[1],
            initrd: None,
            cmdline: "",
            disk: None,
            backdoor: None,
            guestinfo: &[],
            more_disks: &[],
            fixed_clock: false,
            net: None,
        }],
        &[],
        None,
    );
}

/// A one-VM module carrying `symbols`.
fn with_symbols(symbols: &[u8]) -> Vec<u8> {
    write(
        &[VmImage {
            name: "testkit",
            vcpus: 1,
            memory: 64 << 20,
            kernel: &[7; 5000],
            initrd: None,
            cmdline: "x",
            disk: None,
            backdoor: None,
            guestinfo: &[],
            more_disks: &[],
            fixed_clock: false,
            net: None,
        }],
        &[],
        Some(symbols),
    )
}

fn header_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn symbols_round_trip_page_aligned_after_the_vm_blobs() {
    let table: Vec<u8> = (0..777u32).map(|i| (i * 3) as u8).collect();
    let bytes = with_symbols(&table);
    // Header, records, kernel at 4096 (5000 bytes), cmdline at 12288, symbols
    // on the next page.
    assert_eq!(header_u64(&bytes, header::SYMBOLS_OFFSET), 16384);
    assert_eq!(header_u64(&bytes, header::SYMBOLS_LEN), 777);
    assert_eq!(bytes.len(), 16384 + 777, "total_size ends with the table");
    let m = BootModule::parse(&bytes).unwrap();
    assert!(m.version() >= VERSION_SYMBOLS);
    assert_eq!(m.symbols(), Some(&table[..]));
    assert_eq!(m.vm(0).unwrap().kernel, &[7; 5000][..]);
}

#[test]
fn no_symbols_means_zero_words_and_none() {
    for bytes in [sample(), with_symbols(&[])] {
        assert_eq!(header_u64(&bytes, header::SYMBOLS_OFFSET), 0);
        assert_eq!(header_u64(&bytes, header::SYMBOLS_LEN), 0);
        assert_eq!(BootModule::parse(&bytes).unwrap().symbols(), None);
    }
}

#[test]
fn symbols_header_words_follow_the_extension_rule() {
    // Version 3 used the first reserved words; everything older stays put.
    assert_eq!((header::SYMBOLS_OFFSET, header::SYMBOLS_LEN), (40, 48));
    assert_eq!(header::RECORDS_OFFSET + 8, header::SYMBOLS_OFFSET);
    // A version-2 module whose reserved words hold anything has no symbols:
    // only version >= 3 gives them a meaning.
    let mut v2 = with_symbols(&[1, 2, 3]);
    put_u32(&mut v2, header::VERSION, 2);
    let m = BootModule::parse(&v2).unwrap();
    assert_eq!(m.symbols(), None);
    put_u64(&mut v2, header::SYMBOLS_OFFSET, u64::MAX);
    assert_eq!(BootModule::parse(&v2).unwrap().symbols(), None);
}

#[test]
fn symbols_outside_the_module_rejected() {
    let good = with_symbols(&[0x55; 100]);
    let size = good.len() as u64;
    for (offset, len) in [
        (size - 50, 100),    // runs past the end
        (size, 1),           // starts at the end
        (u64::MAX - 10, 20), // offset + len overflows
        (4096, 0),           // an offset without a length
    ] {
        let mut bytes = good.clone();
        put_u64(&mut bytes, header::SYMBOLS_OFFSET, offset);
        put_u64(&mut bytes, header::SYMBOLS_LEN, len);
        let err = BootModule::parse(&bytes).unwrap_err();
        assert_eq!(
            err,
            BootModuleError::SymbolsOutOfRange { offset, len, size },
            "{offset:#x}+{len:#x}"
        );
        assert!(err.to_string().contains("symbol table"), "{err}");
    }
    // Exactly up to total_size is fine; trailing padding beyond it is not
    // part of the module, so a table reaching into it is out of range.
    let mut bytes = good.clone();
    put_u64(&mut bytes, header::SYMBOLS_OFFSET, size - 1);
    put_u64(&mut bytes, header::SYMBOLS_LEN, 1);
    assert_eq!(
        BootModule::parse(&bytes).unwrap().symbols(),
        Some(&[0x55][..])
    );
    bytes.extend_from_slice(&[0; 64]);
    put_u64(&mut bytes, header::SYMBOLS_LEN, 2);
    assert!(matches!(
        BootModule::parse(&bytes),
        Err(BootModuleError::SymbolsOutOfRange { .. })
    ));
}

const BRK_POLICY: BackdoorPolicy = BackdoorPolicy {
    el0: true,
    brk_imm: Some(0x5658),
    high_bandwidth: true,
};
const EL1_POLICY: BackdoorPolicy = BackdoorPolicy {
    el0: false,
    brk_imm: None,
    high_bandwidth: false,
};

fn greeting_blob() -> Vec<u8> {
    encode_guestinfo([
        ("guestinfo.greeting", "from-config"),
        ("guestinfo.a.b", ""),
        ("guestinfo.ünï", "cødé ✓"),
    ])
}

/// A one-vCPU, 64 MiB VM named `name` with `kernel` and nothing else: the
/// base the tests change one field of.
fn plain_vm<'a>(name: &'a str, kernel: &'a [u8]) -> VmImage<'a> {
    VmImage {
        name,
        vcpus: 1,
        memory: 64 << 20,
        kernel,
        initrd: None,
        cmdline: "",
        disk: None,
        backdoor: None,
        guestinfo: &[],
        more_disks: &[],
        fixed_clock: false,
        net: None,
    }
}

/// Three VMs: a full backdoor with guestinfo, an EL1-only backdoor without,
/// no backdoor.
fn backdoor_sample(guestinfo: &[u8]) -> Vec<u8> {
    let vm = |name, backdoor, guestinfo| VmImage {
        cmdline: "k",
        backdoor,
        guestinfo,
        more_disks: &[],
        ..plain_vm(name, &[9; 100])
    };
    write(
        &[
            vm("full", Some(BRK_POLICY), guestinfo),
            vm("el1", Some(EL1_POLICY), &[]),
            vm("none", None, &[]),
        ],
        &[],
        None,
    )
}

fn rec_u32(bytes: &[u8], vm: usize, at: usize) -> u32 {
    u32::from_le_bytes(bytes[record_at(vm) + at..][..4].try_into().unwrap())
}

#[test]
fn backdoor_and_guestinfo_round_trip() {
    let blob = greeting_blob();
    let bytes = backdoor_sample(&blob);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.version(), crate::format::VERSION);
    let full = m.vm(0).unwrap();
    assert_eq!(full.backdoor, Some(BRK_POLICY));
    assert_eq!(full.guestinfo, &blob[..]);
    let entries: Vec<_> = full.guestinfo_entries().map(Result::unwrap).collect();
    assert_eq!(
        entries,
        [
            ("guestinfo.greeting", "from-config"),
            ("guestinfo.a.b", ""),
            ("guestinfo.ünï", "cødé ✓"),
        ]
    );
    let el1 = m.vm(1).unwrap();
    assert_eq!((el1.backdoor, el1.guestinfo), (Some(EL1_POLICY), &[][..]));
    let none = m.vm(2).unwrap();
    assert_eq!((none.backdoor, none.guestinfo), (None, &[][..]));
    assert_eq!(none.guestinfo_entries().count(), 0);

    // The words on disk, as format.rs documents them.
    let words = |vm| {
        (
            rec_u32(&bytes, vm, record::BACKDOOR_FLAGS),
            rec_u32(&bytes, vm, record::BRK_IMM),
        )
    };
    assert_eq!(words(0), (0b1111, 0x5658));
    assert_eq!(words(1), (BACKDOOR_ENABLED, 0));
    assert_eq!(words(2), (0, 0));
    let at = record_at(0) + record::GUESTINFO;
    let offset = header_u64(&bytes, at);
    assert_eq!(header_u64(&bytes, at + 8), blob.len() as u64);
    assert_eq!(&bytes[offset as usize..][..blob.len()], &blob[..]);
    // A VM without guestinfo records (0, 0).
    let at = record_at(1) + record::GUESTINFO;
    assert_eq!((header_u64(&bytes, at), header_u64(&bytes, at + 8)), (0, 0));
}

#[test]
fn guestinfo_blob_encoding_is_the_documented_one() {
    let blob = encode_guestinfo([("guestinfo.k", "vv"), ("guestinfo.x", "")]);
    let mut want = Vec::new();
    want.extend_from_slice(&11u32.to_le_bytes());
    want.extend_from_slice(&2u32.to_le_bytes());
    want.extend_from_slice(b"guestinfo.kvv");
    want.extend_from_slice(&11u32.to_le_bytes());
    want.extend_from_slice(&0u32.to_le_bytes());
    want.extend_from_slice(b"guestinfo.x");
    assert_eq!(blob, want);
    assert!(encode_guestinfo([]).is_empty());
}

#[test]
fn policy_flags_round_trip() {
    for el0 in [false, true] {
        for brk_imm in [None, Some(0), Some(0x5658), Some(0xffff)] {
            for high_bandwidth in [false, true] {
                let p = BackdoorPolicy {
                    el0,
                    brk_imm,
                    high_bandwidth,
                };
                let imm = brk_imm.map_or(0, u32::from);
                assert_eq!(BackdoorPolicy::from_record(p.flags(), imm), Ok(Some(p)));
            }
        }
    }
    assert_eq!(BRK_POLICY.flags(), 0xf);
    assert_eq!(EL1_POLICY.flags(), BACKDOOR_ENABLED);
    assert_eq!(BackdoorPolicy::from_record(0, 0), Ok(None));
}

#[test]
fn bad_backdoor_words_rejected() {
    let e = BACKDOOR_ENABLED;
    for (flags, brk_imm) in [
        (e | 0x10, 0),          // unknown bit
        (e | 0x8000_0000, 0),   // unknown bit
        (0x10, 0),              // unknown bit, backdoor off
        (BACKDOOR_EL0, 0),      // a policy bit without the enabled bit
        (BACKDOOR_BRK, 0x5658), // likewise
        (0, 5),                 // an immediate without a backdoor
        (e, 5),                 // an immediate with the BRK transport off
        (e | BACKDOOR_BRK, 0x1_0000),
        (e | BACKDOOR_BRK | BACKDOOR_HIGH_BANDWIDTH, u32::MAX),
    ] {
        let mut bytes = backdoor_sample(&[]);
        put_u32(&mut bytes, record_at(1) + record::BACKDOOR_FLAGS, flags);
        put_u32(&mut bytes, record_at(1) + record::BRK_IMM, brk_imm);
        let err = refused(
            &bytes,
            1,
            VmField::Backdoor,
            VmFieldError::BadBackdoor { flags, brk_imm },
        );
        assert!(err.to_string().contains("field `backdoor`"), "{err}");
    }
}

#[test]
fn older_modules_have_no_backdoor_and_no_guestinfo() {
    let bytes = backdoor_sample(&greeting_blob());
    // Version 3 with version-4 records: the tail is not read.
    let mut v3 = bytes.clone();
    put_u32(&mut v3, header::VERSION, 3);
    let m = BootModule::parse(&v3).unwrap();
    for i in 0..3 {
        let vm = m.vm(i).unwrap();
        assert_eq!((vm.backdoor, vm.guestinfo), (None, &[][..]), "vm[{i}]");
    }
    assert_eq!(m.vm(0).unwrap().kernel, &[9; 100][..]);
    // Version 4 but records too short to hold the fields (what a version-3
    // writer with a bumped version would give): none either, whatever the
    // bytes after the disk region hold.
    let mut short = bytes.clone();
    put_u32(&mut short, header::RECORD_SIZE, RECORD_SIZE_V2 as u32);
    let stride = RECORD_SIZE_V2;
    for i in 0..3 {
        let rec = bytes[record_at(i)..record_at(i) + stride].to_vec();
        short[HEADER_SIZE + i * stride..HEADER_SIZE + (i + 1) * stride].copy_from_slice(&rec);
    }
    let m = BootModule::parse(&short).unwrap();
    assert_eq!(m.vm(0).unwrap().backdoor, None);
    assert_eq!(m.vm(2).unwrap().name, "none");
    // The sample() modules restrided to version 1 (above) and version 3 read
    // as before.
    let mut old = sample();
    put_u32(&mut old, header::VERSION, 3);
    let vm = BootModule::parse(&old).unwrap().vm(1).unwrap();
    assert_eq!(
        (vm.name, vm.backdoor, vm.guestinfo),
        ("linux-1", None, &[][..])
    );
}

#[test]
fn malformed_guestinfo_blobs_are_errors_not_panics() {
    let good = encode_guestinfo([("guestinfo.a", "1")]);
    let second = good.len() as u64;
    let entry = |key_len: u32, value_len: u32, body: &[u8]| {
        let mut b = good.clone();
        b.extend_from_slice(&key_len.to_le_bytes());
        b.extend_from_slice(&value_len.to_le_bytes());
        b.extend_from_slice(body);
        b
    };
    let cases: [(Vec<u8>, VmFieldError); 8] = [
        (
            good[..5].to_vec(),
            VmFieldError::GuestinfoTruncated { at: 0 },
        ),
        (
            good[..good.len() - 1].to_vec(),
            VmFieldError::GuestinfoTruncated { at: 0 },
        ),
        (
            entry(3, 0, b"ab"),
            VmFieldError::GuestinfoTruncated { at: second },
        ),
        (
            entry(2, 1, b"ab"),
            VmFieldError::GuestinfoTruncated { at: second },
        ),
        (
            entry(u32::MAX, u32::MAX, b"abc"),
            VmFieldError::GuestinfoTruncated { at: second },
        ),
        (
            entry(1, u32::MAX, b"abc"),
            VmFieldError::GuestinfoTruncated { at: second },
        ),
        (
            entry(0, 1, b"x"),
            VmFieldError::GuestinfoEmptyKey { at: second },
        ),
        (
            entry(1, 1, b"k\xff"),
            VmFieldError::GuestinfoNotUtf8 { at: second },
        ),
    ];
    for (blob, want) in cases {
        let items: Vec<_> = guestinfo_entries(&blob).collect();
        assert_eq!(items.last(), Some(&Err(want)), "{blob:x?}");
        assert!(items[..items.len() - 1].iter().all(Result::is_ok));

        // The same blob in a module: the VM is refused, naming the field.
        let bytes = splice_blob(&blob);
        let err = refused(&bytes, 0, VmField::Guestinfo, want);
        assert!(err.to_string().contains("field `guestinfo`"), "{err}");
    }
}

/// A [`backdoor_sample`] module whose vm[0] has `blob` as its guestinfo
/// (written valid, then overwritten: the writer refuses bad blobs).
fn splice_blob(blob: &[u8]) -> Vec<u8> {
    let room = "k".repeat(300);
    let mut bytes = backdoor_sample(&encode_guestinfo([(room.as_str(), "")]));
    assert!(blob.len() <= room.len());
    let at = record_at(0) + record::GUESTINFO;
    let offset = header_u64(&bytes, at) as usize;
    bytes[offset..offset + blob.len()].copy_from_slice(blob);
    put_u64(&mut bytes, at + 8, blob.len() as u64);
    bytes
}

#[test]
fn guestinfo_outside_module_or_without_backdoor_rejected() {
    let blob = greeting_blob();
    let bytes = backdoor_sample(&blob);
    let size = bytes.len() as u64;
    let at = record_at(0) + record::GUESTINFO;
    let offset = header_u64(&bytes, at);
    for len in [size - offset + 1, u64::MAX] {
        let mut bad = bytes.clone();
        put_u64(&mut bad, at + 8, len);
        refused(
            &bad,
            0,
            VmField::Guestinfo,
            VmFieldError::OutOfRange { offset, len, size },
        );
    }
    // A blob that ends early inside the module: the last entry is cut.
    let mut cut = bytes.clone();
    put_u64(&mut cut, at + 8, blob.len() as u64 - 1);
    assert!(matches!(
        BootModule::parse(&cut).unwrap().vm(0),
        Err(BootModuleError::Vm {
            field: VmField::Guestinfo,
            error: VmFieldError::GuestinfoTruncated { .. },
            ..
        })
    ));
    // Guestinfo but no backdoor.
    let mut off = bytes.clone();
    put_u32(&mut off, record_at(0) + record::BACKDOOR_FLAGS, 0);
    put_u32(&mut off, record_at(0) + record::BRK_IMM, 0);
    let err = BootModule::parse(&off).unwrap().vm(0).unwrap_err();
    assert_eq!(
        err,
        BootModuleError::Vm {
            index: 0,
            field: VmField::Guestinfo,
            error: VmFieldError::GuestinfoWithoutBackdoor
        }
    );
    assert_eq!(
        err.to_string(),
        "boot module: vm[0]: field `guestinfo`: guestinfo present but the VM has no backdoor"
    );
}

#[test]
fn v4_fields_are_appended_after_v2() {
    assert_eq!(
        (record::BACKDOOR_FLAGS, record::BRK_IMM, record::GUESTINFO),
        (144, 148, 152)
    );
    assert_eq!(RECORD_SIZE_V2, record::BACKDOOR_FLAGS);
    assert_eq!(RECORD_SIZE_V4, record::GUESTINFO + 16);
    assert_eq!(
        [
            BACKDOOR_ENABLED,
            BACKDOOR_EL0,
            BACKDOOR_BRK,
            BACKDOOR_HIGH_BANDWIDTH
        ],
        [1, 2, 4, 8]
    );
}

#[test]
#[should_panic(expected = "guestinfo without a backdoor")]
fn writer_refuses_guestinfo_without_backdoor() {
    let blob = greeting_blob();
    write(
        &[VmImage {
            name: "x",
            vcpus: 1,
            memory: 1,
            kernel: &[1],
            initrd: None,
            cmdline: "",
            disk: None,
            backdoor: None,
            guestinfo: &blob,
            more_disks: &[],
            fixed_clock: false,
            net: None,
        }],
        &[],
        None,
    );
}

#[test]
#[should_panic(expected = "malformed guestinfo blob")]
fn writer_refuses_malformed_guestinfo() {
    write(
        &[VmImage {
            name: "x",
            vcpus: 1,
            memory: 1,
            kernel: &[1],
            initrd: None,
            cmdline: "",
            disk: None,
            backdoor: Some(EL1_POLICY),
            guestinfo: &[1, 0, 0],
            more_disks: &[],
            fixed_clock: false,
            net: None,
        }],
        &[],
        None,
    );
}

/// The first VM of `sample()` with its flags word set to `flags` and the
/// module's version to `version`.
fn sample_with_flags(version: u32, flags: u32) -> Vec<u8> {
    let mut bytes = sample();
    put_u32(&mut bytes, crate::format::header::VERSION, version);
    let rec = crate::format::HEADER_SIZE + crate::format::record::FLAGS;
    put_u32(&mut bytes, rec, flags);
    bytes
}

#[test]
fn fixed_clock_round_trips_and_defaults_off() {
    let kernel = [1u8; 64];
    let vm = |fixed_clock| VmImage {
        fixed_clock,
        ..plain_vm("vm", &kernel)
    };
    let bytes = write(&[vm(true), vm(false)], &[], None);
    let m = BootModule::parse(&bytes).unwrap();
    assert!(m.vm(0).unwrap().fixed_clock);
    assert!(!m.vm(1).unwrap().fixed_clock);
    assert!(
        !BootModule::parse(&sample())
            .unwrap()
            .vm(0)
            .unwrap()
            .fixed_clock
    );
}

#[test]
fn flags_mean_nothing_before_version_5_and_unknown_bits_are_refused() {
    // A version-4 module's flags word is ignored, whatever it holds.
    let old = sample_with_flags(VERSION_BACKDOOR, 0xffff_ffff);
    assert!(!BootModule::parse(&old).unwrap().vm(0).unwrap().fixed_clock);
    let bytes = sample_with_flags(crate::format::VERSION, 1 << 5);
    let err = BootModule::parse(&bytes).unwrap().vm(0).unwrap_err();
    assert!(err.to_string().contains("flags"), "{err}");
    let fixed = sample_with_flags(crate::format::VERSION, crate::format::FLAG_FIXED_CLOCK);
    assert!(
        BootModule::parse(&fixed)
            .unwrap()
            .vm(0)
            .unwrap()
            .fixed_clock
    );
}

/// Program blobs for [`three_worlds`] (the parser does not look inside).
fn programs() -> [Vec<u8>; 3] {
    [
        (0..5000u32).map(|i| (i * 7) as u8).collect(),
        vec![0x7F],
        vec![0xE1; 4096],
    ]
}

/// Three worlds: a longest name with the `control` right, a non-ASCII name
/// with an empty arg, and a multi-line arg.
fn three_worlds(programs: &[Vec<u8>; 3]) -> [WorldImage<'_>; 3] {
    [
        WorldImage {
            name: "vmctl-0123456789abcdef012345678",
            program: &programs[0],
            arg: "reset linux-1",
            control: Control::All,
            operations: Operations::ALL,
        },
        WorldImage {
            name: "wörld",
            program: &programs[1],
            arg: "",
            control: Control::None,
            operations: Operations::ALL,
        },
        WorldImage {
            name: "w3",
            program: &programs[2],
            arg: "cødé ✓\nsecond line",
            control: Control::Listed(0b10),
            operations: Operations(Operations::HALT | Operations::POWER_BUTTON),
        },
    ]
}

fn header_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Where world record `i` starts, from the module's own header.
fn world_at(bytes: &[u8], i: usize) -> usize {
    header_u64(bytes, header::RECORDS_OFFSET) as usize
        + header_u32(bytes, header::VM_COUNT) as usize
            * header_u32(bytes, header::RECORD_SIZE) as usize
        + i * header_u32(bytes, header::WORLD_RECORD_SIZE) as usize
}

/// World record `i`'s flags and its word at `field`.
fn world_flags_and(bytes: &[u8], i: usize, field: usize) -> (u32, u32) {
    let rec = world_at(bytes, i);
    (
        header_u32(bytes, rec + world::FLAGS),
        header_u32(bytes, rec + field),
    )
}

/// Like [`refused`], for world `index`: every other world and every VM still
/// parses.
fn world_refused(
    bytes: &[u8],
    index: usize,
    field: WorldField,
    error: VmFieldError,
) -> BootModuleError {
    let m = BootModule::parse(bytes).unwrap();
    let err = m.world(index).unwrap_err();
    assert_eq!(
        err,
        BootModuleError::World {
            index,
            field,
            error
        }
    );
    for other in (0..m.world_count()).filter(|&i| i != index) {
        assert!(
            m.world(other).is_ok(),
            "world[{other}] poisoned by world[{index}]"
        );
    }
    assert!(m.vms().all(|vm| vm.is_ok()));
    err
}

#[test]
fn no_worlds_round_trip() {
    let bytes = sample();
    assert_eq!(header_u32(&bytes, header::WORLD_COUNT), 0);
    assert_eq!(
        header_u32(&bytes, header::WORLD_RECORD_SIZE) as usize,
        WORLD_RECORD_SIZE
    );
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.world_count(), 0);
    assert_eq!(m.worlds().count(), 0);
    assert_eq!(
        m.world(0),
        Err(BootModuleError::NoSuchWorld { index: 0, count: 0 })
    );
    let empty = write(&[], &[], None);
    assert_eq!(BootModule::parse(&empty).unwrap().world_count(), 0);
}

#[test]
fn one_world_round_trips_beside_the_vms() {
    let programs = programs();
    let w = three_worlds(&programs)[0];
    let bytes = with_worlds(&[w], None);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.version(), crate::format::VERSION);
    assert_eq!(m.world_count(), 1);
    assert_eq!(m.world(0), Ok(w));
    // The VMs read exactly as without the world.
    let plain = sample();
    let plain = BootModule::parse(&plain).unwrap();
    for i in 0..2 {
        assert_eq!(m.vm(i).unwrap(), plain.vm(i).unwrap());
    }
    // A module of worlds alone works too.
    let alone = write(&[], &[w], None);
    let m = BootModule::parse(&alone).unwrap();
    assert_eq!((m.vm_count(), m.world_count()), (0, 1));
    assert_eq!(m.world(0), Ok(w));
}

#[test]
fn three_worlds_round_trip_with_blobs_in_order() {
    let programs = programs();
    let worlds = three_worlds(&programs);
    let table = [0x55; 300];
    let bytes = with_worlds(&worlds, Some(&table));
    assert_eq!(header_u32(&bytes, header::WORLD_COUNT), 3);
    assert_eq!(header_u32(&bytes, header::WORLD_RECORD_SIZE), 76);
    // World records right after the two VM records.
    assert_eq!(world_at(&bytes, 0), HEADER_SIZE + 2 * RECORD_SIZE_V7);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.world_count(), 3);
    let got: Vec<_> = m.worlds().map(Result::unwrap).collect();
    assert_eq!(got, worlds);
    assert_eq!(m.world(1).unwrap().arg, "");
    let err = m.world(3).unwrap_err();
    assert_eq!(err, BootModuleError::NoSuchWorld { index: 3, count: 3 });
    assert_eq!(
        err.to_string(),
        "boot module: no world[3] (module has 3 worlds)"
    );
    assert_eq!(m.symbols(), Some(&table[..]));

    // Programs page aligned, after every VM blob and before the symbol table.
    let offset_of = |blob: &[u8]| blob.as_ptr() as usize - bytes.as_ptr() as usize;
    let vm_end = m
        .vms()
        .map(Result::unwrap)
        .flat_map(|vm| [vm.kernel, vm.initrd.unwrap_or(&[]), vm.cmdline.as_bytes()])
        .filter(|b| !b.is_empty())
        .map(|b| offset_of(b) + b.len())
        .max()
        .unwrap();
    let symbols_at = header_u64(&bytes, header::SYMBOLS_OFFSET) as usize;
    for w in &got {
        let at = offset_of(w.program);
        assert!((at as u64).is_multiple_of(BLOB_ALIGN), "{}", w.name);
        assert!(
            vm_end <= at && at + w.program.len() <= symbols_at,
            "{}",
            w.name
        );
    }
    // The empty arg is recorded as (0, 0).
    let at = world_at(&bytes, 1) + world::ARG;
    assert_eq!((header_u64(&bytes, at), header_u64(&bytes, at + 8)), (0, 0));
}

#[test]
fn world_fields_follow_the_extension_rule() {
    assert_eq!((header::WORLD_COUNT, header::WORLD_RECORD_SIZE), (56, 60));
    assert_eq!(header::SYMBOLS_LEN + 8, header::WORLD_COUNT);
    assert_eq!(header::WORLD_RECORD_SIZE + 4, HEADER_SIZE);
    assert_eq!(
        (
            world::NAME,
            world::NAME_LEN,
            world::PROGRAM,
            world::ARG,
            world::FLAGS
        ),
        (0, 32, 32, 48, 64)
    );
    assert_eq!(world::ARG + 16, world::FLAGS);
    // flags, then the control list in what was a reserved word.
    assert_eq!(world::FLAGS + 4, world::CONTROL_VMS);
    assert_eq!(WORLD_RECORD_SIZE_V6, world::CONTROL_VMS + 4);
    assert_eq!(WORLD_RECORD_SIZE_V6, 72);
    // Then the operations list, appended.
    assert_eq!(world::CONTROL_OPS, WORLD_RECORD_SIZE_V6);
    assert_eq!(WORLD_RECORD_SIZE, world::CONTROL_OPS + 4);
    assert_eq!(
        (
            WORLD_FLAG_CONTROL,
            WORLD_FLAG_CONTROL_LISTED,
            WORLD_FLAG_OPS_LISTED,
            WORLD_FLAGS_KNOWN
        ),
        (1, 2, 4, 7)
    );
    assert_eq!((VERSION_WORLDS, crate::format::VERSION), (6, 7));
}

#[test]
fn version_5_module_has_no_worlds_whatever_words_56_to_64_hold() {
    let programs = programs();
    let mut bytes = with_worlds(&three_worlds(&programs), None);
    put_u32(&mut bytes, header::VERSION, 5);
    for (count, size) in [(3, 72), (0xffff_ffff, 1), (7, 0)] {
        put_u32(&mut bytes, header::WORLD_COUNT, count);
        put_u32(&mut bytes, header::WORLD_RECORD_SIZE, size);
        let m = BootModule::parse(&bytes).unwrap();
        assert_eq!(m.world_count(), 0, "{count:#x} {size:#x}");
        assert_eq!(
            m.world(0),
            Err(BootModuleError::NoSuchWorld { index: 0, count: 0 })
        );
        assert!(m.vms().all(|vm| vm.is_ok()));
    }
}

#[test]
fn small_world_record_size_rejected_larger_is_skipped() {
    let programs = programs();
    let worlds = three_worlds(&programs);
    let bytes = with_worlds(&worlds, None);
    for size in [0, 1, 64, 71] {
        let mut small = bytes.clone();
        put_u32(&mut small, header::WORLD_RECORD_SIZE, size);
        assert_eq!(
            BootModule::parse(&small).unwrap_err(),
            BootModuleError::BadHeader {
                field: "world_record_size",
                value: size.into()
            }
        );
    }
    // No worlds: the size is not looked at.
    let mut none = bytes.clone();
    put_u32(&mut none, header::WORLD_COUNT, 0);
    put_u32(&mut none, header::WORLD_RECORD_SIZE, 0);
    assert_eq!(BootModule::parse(&none).unwrap().world_count(), 0);

    // A later version's 104-byte world records with a tail this parser does
    // not know (0xCC): the first blob starts at 4096, so they still fit.
    let stride = WORLD_RECORD_SIZE + 28;
    let first = world_at(&bytes, 0);
    let mut newer = bytes.clone();
    put_u32(&mut newer, header::VERSION, 8);
    put_u32(&mut newer, header::WORLD_RECORD_SIZE, stride as u32);
    newer[first..first + 3 * stride].fill(0xCC);
    for i in 0..3 {
        let old = first + i * WORLD_RECORD_SIZE;
        let new = first + i * stride;
        newer[new..new + WORLD_RECORD_SIZE].copy_from_slice(&bytes[old..old + WORLD_RECORD_SIZE]);
    }
    let m = BootModule::parse(&newer).unwrap();
    let got: Vec<_> = m.worlds().map(Result::unwrap).collect();
    assert_eq!(got, worlds);
}

#[test]
fn world_table_past_the_end_rejected() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let size = bytes.len() as u64;
    let offset = world_at(&bytes, 0) as u64;
    let fits = ((size - offset) / WORLD_RECORD_SIZE as u64) as u32;
    let written = WORLD_RECORD_SIZE as u32;
    for (count, record_size) in [(fits + 1, written), (3, u32::MAX), (u32::MAX, u32::MAX)] {
        let mut bad = bytes.clone();
        put_u32(&mut bad, header::WORLD_COUNT, count);
        put_u32(&mut bad, header::WORLD_RECORD_SIZE, record_size);
        let len = u64::from(count) * u64::from(record_size);
        let err = BootModule::parse(&bad).unwrap_err();
        assert_eq!(
            err,
            BootModuleError::WorldRecordsOutOfRange { offset, len, size }
        );
        assert!(err.to_string().contains("world records"), "{err}");
    }
    // The table moves with the VM records: more VMs push it past the end.
    let mut bad = bytes.clone();
    let vms = ((size - HEADER_SIZE as u64) / RECORD_SIZE_V7 as u64) as u32;
    put_u32(&mut bad, header::VM_COUNT, vms);
    assert!(matches!(
        BootModule::parse(&bad),
        Err(BootModuleError::WorldRecordsOutOfRange { .. })
    ));
    // A table that just fits is read (the extra records are garbage, but
    // parse only checks bounds).
    let mut fit = bytes.clone();
    put_u32(&mut fit, header::WORLD_COUNT, fits);
    assert_eq!(
        BootModule::parse(&fit).unwrap().world_count(),
        fits as usize
    );
}

#[test]
fn bad_world_names_rejected() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let at = world_at(&bytes, 1) + world::NAME;
    let mut bad = bytes.clone();
    bad[at..at + 32].fill(b'a');
    let err = world_refused(&bad, 1, WorldField::Name, VmFieldError::Unterminated);
    assert_eq!(
        err.to_string(),
        "boot module: world[1]: field `name`: longer than 31 bytes (no NUL terminator)"
    );
    bad[at..at + 32].fill(0);
    world_refused(&bad, 1, WorldField::Name, VmFieldError::Empty);
    let mut bad = bytes.clone();
    bad[at] = 0xFF;
    world_refused(&bad, 1, WorldField::Name, VmFieldError::NotUtf8);
}

#[test]
fn bad_world_programs_rejected() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let size = bytes.len() as u64;
    let at = world_at(&bytes, 0) + world::PROGRAM;
    let offset = header_u64(&bytes, at);

    for len in [size - offset + 1, u64::MAX] {
        let mut bad = bytes.clone();
        put_u64(&mut bad, at + 8, len);
        world_refused(
            &bad,
            0,
            WorldField::Program,
            VmFieldError::OutOfRange { offset, len, size },
        );
    }
    let mut bad = bytes.clone();
    put_u64(&mut bad, at, u64::MAX - 1);
    let err = world_refused(
        &bad,
        0,
        WorldField::Program,
        VmFieldError::OutOfRange {
            offset: u64::MAX - 1,
            len: 5000,
            size,
        },
    );
    assert_eq!(
        err.to_string(),
        format!(
            "boot module: world[0]: field `program`: bytes 0xfffffffffffffffe..0x10000000000001386 \
             lie outside the {size:#x}-byte module"
        )
    );

    let mut bad = bytes.clone();
    put_u64(&mut bad, at, offset + 8);
    put_u64(&mut bad, at + 8, 16);
    world_refused(
        &bad,
        0,
        WorldField::Program,
        VmFieldError::Misaligned { offset: offset + 8 },
    );

    // Empty, whatever the offset.
    for offset in [offset, 0, u64::MAX] {
        let mut bad = bytes.clone();
        put_u64(&mut bad, at, offset);
        put_u64(&mut bad, at + 8, 0);
        world_refused(&bad, 0, WorldField::Program, VmFieldError::Empty);
    }
}

#[test]
fn bad_world_args_rejected_empty_and_unaligned_ones_read() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let size = bytes.len() as u64;
    let at = world_at(&bytes, 0) + world::ARG;
    let offset = header_u64(&bytes, at);

    let mut bad = bytes.clone();
    bad[offset as usize + 2] = 0xFF;
    world_refused(&bad, 0, WorldField::Arg, VmFieldError::NotUtf8);

    for (offset, len) in [(offset, size - offset + 1), (u64::MAX, 2), (size, 1)] {
        let mut bad = bytes.clone();
        put_u64(&mut bad, at, offset);
        put_u64(&mut bad, at + 8, len);
        let err = world_refused(
            &bad,
            0,
            WorldField::Arg,
            VmFieldError::OutOfRange { offset, len, size },
        );
        assert!(err.to_string().contains("field `arg`"), "{err}");
    }

    // Text need not be aligned: skip the first byte of "reset linux-1".
    let mut shifted = bytes.clone();
    put_u64(&mut shifted, at, offset + 1);
    put_u64(&mut shifted, at + 8, 12);
    let m = BootModule::parse(&shifted).unwrap();
    assert_eq!(m.world(0).unwrap().arg, "eset linux-1");

    // Length 0 is "" whatever the offset.
    let mut empty = bytes.clone();
    put_u64(&mut empty, world_at(&bytes, 1) + world::ARG, u64::MAX);
    let m = BootModule::parse(&empty).unwrap();
    assert_eq!(m.world(1).unwrap().arg, "");
}

#[test]
fn world_control_round_trips_as_its_flag_bits_and_vm_list() {
    let programs = programs();
    let w = |name, control| WorldImage {
        name,
        program: &programs[1],
        arg: "a",
        control,
        operations: Operations::ALL,
    };
    let worlds = [
        w("all", Control::All),
        w("none", Control::None),
        w("second", Control::Listed(0b10)),
        w("both", Control::Listed(0b11)),
    ];
    let bytes = with_worlds(&worlds, None);
    let words = [
        (WORLD_FLAG_CONTROL, 0),
        (0, 0),
        (WORLD_FLAG_CONTROL_LISTED, 0b10),
        (WORLD_FLAG_CONTROL_LISTED, 0b11),
    ];
    for (i, want) in words.iter().enumerate() {
        let got = world_flags_and(&bytes, i, world::CONTROL_VMS);
        assert_eq!(got, *want, "world {i}");
    }
    let m = BootModule::parse(&bytes).unwrap();
    let got: Vec<_> = m.worlds().map(Result::unwrap).collect();
    assert_eq!(got, worlds);
    let allowed = |c: Control| (0..3).map(|vm| c.allows(vm)).collect::<Vec<_>>();
    assert_eq!(allowed(got[0].control), [true, true, true]);
    assert_eq!(allowed(got[1].control), [false, false, false]);
    assert_eq!(allowed(got[2].control), [false, true, false]);
    assert_eq!(allowed(got[3].control), [true, true, false]);
    // Setting a bit by hand grants the right; clearing it takes it away.
    let mut flipped = bytes.clone();
    put_u32(&mut flipped, world_at(&bytes, 0) + world::FLAGS, 0);
    put_u32(
        &mut flipped,
        world_at(&bytes, 1) + world::FLAGS,
        WORLD_FLAG_CONTROL,
    );
    let m = BootModule::parse(&flipped).unwrap();
    assert_eq!(m.world(0).unwrap().control, Control::None);
    assert_eq!(m.world(1).unwrap().control, Control::All);
}

#[test]
fn contradicting_control_rights_are_refused() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let at = world_at(&bytes, 1) + world::FLAGS;
    let both = WORLD_FLAG_CONTROL | WORLD_FLAG_CONTROL_LISTED;
    // Both bits; a list without its bit (with the all bit, or none); a
    // listed VM the module (two VMs) does not have.
    for (flags, vms) in [
        (both, 1),
        (WORLD_FLAG_CONTROL, 1),
        (0, 1),
        (WORLD_FLAG_CONTROL_LISTED, 0b100),
        (WORLD_FLAG_CONTROL_LISTED, 1 << 31),
    ] {
        let mut bad = bytes.clone();
        put_u32(&mut bad, at, flags);
        put_u32(&mut bad, at + 4, vms);
        let err = world_refused(
            &bad,
            1,
            WorldField::Flags,
            VmFieldError::BadControl { flags, vms },
        );
        assert!(err.to_string().contains("control_vms"), "{err}");
    }
}

#[test]
fn listed_operations_round_trip_and_all_is_no_list() {
    let programs = programs();
    let worlds = three_worlds(&programs);
    let bytes = with_worlds(&worlds, None);
    assert_eq!(
        header_u32(&bytes, header::WORLD_RECORD_SIZE) as usize,
        WORLD_RECORD_SIZE
    );
    // Only the third lists its operations: bit 2 and the word.
    for (i, want) in [
        (WORLD_FLAG_CONTROL, 0),
        (0, 0),
        (
            WORLD_FLAG_CONTROL_LISTED | WORLD_FLAG_OPS_LISTED,
            Operations::HALT | Operations::POWER_BUTTON,
        ),
    ]
    .iter()
    .enumerate()
    {
        let got = world_flags_and(&bytes, i, world::CONTROL_OPS);
        assert_eq!(got, *want, "world {i}");
    }
    let m = BootModule::parse(&bytes).unwrap();
    let got: Vec<_> = m.worlds().map(Result::unwrap).collect();
    assert_eq!(got, worlds);
    // vm_op numbers: stop 0, ..., halt 3, reboot 4, button 5.
    let ops = got[2].operations;
    let allowed: Vec<bool> = (0..7).map(|op| ops.allows(op)).collect();
    assert_eq!(allowed, [false, false, false, true, false, true, false]);
    assert!((0..6).all(|op| got[0].operations.allows(op)));
    assert!(!Operations::ALL.allows(6) && !Operations::ALL.allows(64));
}

#[test]
fn a_version_6_world_record_has_every_operation() {
    // One world, so its record reads the same at 72 bytes a record.
    let programs = programs();
    let one = [three_worlds(&programs)[0]];
    let mut bytes = with_worlds(&one, None);
    put_u32(
        &mut bytes,
        header::WORLD_RECORD_SIZE,
        WORLD_RECORD_SIZE_V6 as u32,
    );
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.world(0).unwrap().operations, Operations::ALL);
    // It has no room for a list: bit 2 is refused there.
    let at = world_at(&bytes, 0) + world::FLAGS;
    let flags = WORLD_FLAG_CONTROL | WORLD_FLAG_OPS_LISTED;
    put_u32(&mut bytes, at, flags);
    world_refused(
        &bytes,
        0,
        WorldField::Flags,
        VmFieldError::BadOperations { flags, ops: 0 },
    );
}

#[test]
fn contradicting_operations_are_refused() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    // World 1 controls nothing, world 2 the second VM.
    for (w, flags, ops) in [
        // Listed without a control right.
        (1, WORLD_FLAG_OPS_LISTED, Operations::STOP),
        // A word without its bit.
        (1, 0, Operations::STOP),
        (2, WORLD_FLAG_CONTROL_LISTED, Operations::HALT),
        // An operation this parser does not know.
        (2, WORLD_FLAG_CONTROL_LISTED | WORLD_FLAG_OPS_LISTED, 1 << 6),
        (
            2,
            WORLD_FLAG_CONTROL_LISTED | WORLD_FLAG_OPS_LISTED,
            1 << 31,
        ),
    ] {
        let mut bad = bytes.clone();
        let rec = world_at(&bytes, w);
        put_u32(&mut bad, rec + world::FLAGS, flags);
        put_u32(&mut bad, rec + world::CONTROL_OPS, ops);
        let err = world_refused(
            &bad,
            w,
            WorldField::Flags,
            VmFieldError::BadOperations { flags, ops },
        );
        assert!(err.to_string().contains("control_ops"), "{err}");
    }
    // An empty list is a world that may do nothing: allowed, if odd.
    let mut none = bytes.clone();
    put_u32(&mut none, world_at(&bytes, 2) + world::CONTROL_OPS, 0);
    let m = BootModule::parse(&none).unwrap();
    assert_eq!(m.world(2).unwrap().operations, Operations(0));
}

#[test]
#[should_panic(expected = "world[0] (\"w\"): operations 0x1 without control, or unknown")]
fn writer_refuses_operations_without_control() {
    write(
        &[],
        &[WorldImage {
            name: "w",
            program: &[1],
            arg: "",
            control: Control::None,
            operations: Operations(Operations::STOP),
        }],
        None,
    );
}

#[test]
fn unknown_world_flag_bits_are_refused() {
    let programs = programs();
    let bytes = with_worlds(&three_worlds(&programs), None);
    let at = world_at(&bytes, 1) + world::FLAGS;
    for flags in [1 << 3, 1 << 31, !WORLD_FLAGS_KNOWN, u32::MAX] {
        let mut bad = bytes.clone();
        put_u32(&mut bad, at, flags);
        let err = world_refused(
            &bad,
            1,
            WorldField::Flags,
            VmFieldError::UnknownFlags { flags },
        );
        assert!(err.to_string().contains("field `flags`"), "{err}");
    }
    let mut bad = bytes.clone();
    put_u32(&mut bad, at, 1 << 3);
    assert_eq!(
        BootModule::parse(&bad)
            .unwrap()
            .world(1)
            .unwrap_err()
            .to_string(),
        "boot module: world[1]: field `flags`: flags 0x8 has an unknown bit"
    );
}

#[test]
#[should_panic(expected = "world[0] (\"w\"): control lists a VM the module does not have")]
fn writer_refuses_a_listed_vm_it_does_not_have() {
    write(
        &[],
        &[WorldImage {
            name: "w",
            program: &[1],
            arg: "",
            control: Control::Listed(1),
            operations: Operations::ALL,
        }],
        None,
    );
}

#[test]
#[should_panic(
    expected = "world[0]: name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" must be 1..=31 bytes"
)]
fn writer_refuses_long_world_name() {
    let name = "a".repeat(32);
    write(
        &[],
        &[WorldImage {
            name: &name,
            program: &[1],
            arg: "",
            control: Control::None,
            operations: Operations::ALL,
        }],
        None,
    );
}

#[test]
#[should_panic(expected = "world[1]: name \"\" must be 1..=31 bytes")]
fn writer_refuses_empty_world_name() {
    let w = |name| WorldImage {
        name,
        program: &[1],
        arg: "",
        control: Control::All,
        operations: Operations::ALL,
    };
    write(&[], &[w("ok"), w("")], None);
}

#[test]
#[should_panic(expected = "world[0] (\"w\"): empty program")]
fn writer_refuses_empty_program() {
    write(
        &[],
        &[WorldImage {
            name: "w",
            program: &[],
            arg: "x",
            control: Control::None,
            operations: Operations::ALL,
        }],
        None,
    );
}

/// Reads everything a hypervisor would from `bytes`: must not panic.
fn read_all(bytes: &[u8]) {
    let m = match BootModule::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = m.symbols();
    for i in 0..=m.vm_count() {
        if let Ok(vm) = m.vm(i) {
            vm.guestinfo_entries().for_each(drop);
        }
    }
    for i in 0..=m.world_count() {
        if let Err(e) = m.world(i) {
            let _ = e.to_string();
        }
    }
}

#[test]
fn corrupt_headers_and_records_never_panic() {
    // Two VMs (one with a backdoor and guestinfo), three worlds, symbols.
    let programs = programs();
    let blob = greeting_blob();
    let vm = |name, backdoor, guestinfo| VmImage {
        initrd: Some(&[3; 10]),
        cmdline: "k",
        disk: Some(DiskRegion {
            offset: 512,
            size: 4096,
        }),
        backdoor,
        guestinfo,
        more_disks: &[],
        fixed_clock: true,
        ..plain_vm(name, &[9; 100])
    };
    let bytes = write(
        &[vm("full", Some(BRK_POLICY), &blob), vm("none", None, &[])],
        &three_worlds(&programs),
        Some(&[0x55; 40]),
    );
    read_all(&bytes);
    let tables_end = world_at(&bytes, 3);
    let size = bytes.len() as u64;
    let mut parsed = 0;
    for at in 0..tables_end {
        let orig = bytes[at];
        let mut values = vec![0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xFF];
        values.extend((0..8).map(|bit| orig ^ (1 << bit)));
        for v in values {
            let mut b = bytes.clone();
            b[at] = v;
            read_all(&b);
            parsed += 1;
        }
        if at % 4 == 0 {
            for v in [u32::MAX, 0x8000_0000, size as u32, size as u32 - 1] {
                let mut b = bytes.clone();
                put_u32(&mut b, at, v);
                read_all(&b);
            }
        }
        if at % 8 == 0 && at + 8 <= tables_end {
            for v in [
                u64::MAX,
                u64::MAX - 4095,
                1 << 63,
                size,
                size - 1,
                size - 4096,
            ] {
                let mut b = bytes.clone();
                put_u64(&mut b, at, v);
                read_all(&b);
            }
        }
    }
    assert!(parsed > 0);
    // Every truncation, too.
    for len in 0..bytes.len() {
        read_all(&bytes[..len]);
    }
}

#[test]
fn net_card_round_trips_and_bad_fields_are_refused() {
    let kernel = [1u8; 64];
    let vm = |net| VmImage {
        net,
        ..plain_vm("vm", &kernel)
    };
    let mac = [0x52, 0x54, 0x00, 0xae, 0x00, 0x01];
    let lab = NetCard {
        mac,
        network: 3,
        uplink: false,
    };
    let public = NetCard {
        mac: [2, 0, 0, 0, 0, 9],
        network: 0,
        uplink: true,
    };
    let bytes = write(&[vm(Some(lab)), vm(None), vm(Some(public))], &[], None);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.vm(0).unwrap().net, Some(lab));
    assert_eq!(m.vm(1).unwrap().net, None);
    assert_eq!(m.vm(2).unwrap().net, Some(public));
    assert_eq!(
        (record::NET_FLAGS, record::MAC, record::NETWORK),
        (168, 172, 178)
    );
    assert_eq!(record::MORE_DISKS, record::NETWORK + 6);
    assert_eq!(RECORD_SIZE_V7, record::MORE_DISKS + 16);

    // Before version 7 the tail is not read, whatever it holds.
    let mut old = bytes.clone();
    put_u32(&mut old, header::VERSION, 6);
    assert_eq!(BootModule::parse(&old).unwrap().vm(0).unwrap().net, None);

    let rec = record_at(1);
    let refused = |flags: u32, mac: [u8; 6], network: u16| {
        let mut bad = bytes.clone();
        put_u32(&mut bad, rec + record::NET_FLAGS, flags);
        bad[rec + record::MAC..rec + record::MAC + 6].copy_from_slice(&mac);
        bad[rec + record::NETWORK..rec + record::NETWORK + 2]
            .copy_from_slice(&network.to_le_bytes());
        let err = BootModule::parse(&bad).unwrap().vm(1).unwrap_err();
        assert_eq!(
            err,
            BootModuleError::Vm {
                index: 1,
                field: VmField::Net,
                error: VmFieldError::BadNet {
                    flags,
                    mac,
                    network
                }
            }
        );
        assert!(err.to_string().contains("net_flags"), "{err}");
    };
    refused(1 << 2, mac, 0); // unknown bit
    refused(0, mac, 0); // an address without a card
    refused(0, [0; 6], 5); // a network without a card
    refused(2, [0; 6], 0); // no uplink for no card
    refused(1, [0; 6], 0); // a card without an address
    refused(1, [0x01, 0, 0x5e, 0, 0, 1], 0); // multicast
    refused(1, [0xff; 6], 0); // broadcast
}

#[test]
fn further_disks_round_trip_and_bad_tables_are_refused() {
    let kernel = [1u8; 64];
    let region = |offset: u64, size: u64| DiskRegion { offset, size };
    let more = crate::encode_disks(&[region(1 << 20, 2 << 20), region(8 << 20, 512)]);
    let vm = VmImage {
        disk: Some(region(0, 1 << 20)),
        more_disks: &more,
        ..plain_vm("vm", &kernel)
    };
    let bytes = write(&[vm, plain_vm("plain", &kernel)], &[], None);
    let m = BootModule::parse(&bytes).unwrap();
    let disks: Vec<_> = m.vm(0).unwrap().disks().collect();
    assert_eq!(
        disks,
        [
            region(0, 1 << 20),
            region(1 << 20, 2 << 20),
            region(8 << 20, 512)
        ]
    );
    assert_eq!(m.vm(1).unwrap().disks().count(), 0);

    // Rewrite VM 1's record to point at `blob` (placed past the module's
    // end, the module grown to hold it), with or without a first disk.
    let refused = |blob: &[u8], first: bool| {
        let mut bad = bytes.clone();
        let at = bad.len() as u64;
        bad.extend_from_slice(blob);
        let total = bad.len() as u64;
        bad[header::TOTAL_SIZE..header::TOTAL_SIZE + 8].copy_from_slice(&total.to_le_bytes());
        let rec = record_at(1);
        let put = |b: &mut Vec<u8>, field: usize, v: u64| {
            b[rec + field..rec + field + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut bad, record::MORE_DISKS, at);
        put(&mut bad, record::MORE_DISKS + 8, blob.len() as u64);
        if first {
            put(&mut bad, record::DISK_OFFSET, 0);
            put(&mut bad, record::DISK_SIZE, 1 << 20);
        }
        BootModule::parse(&bad).unwrap().vm(1).unwrap_err()
    };
    let one = crate::encode_disks(&[region(0, 4096)]);
    assert!(matches!(
        refused(&one, false),
        BootModuleError::Vm {
            field: VmField::Disk,
            error: VmFieldError::BadDiskTable { len: 16 },
            ..
        }
    ));
    assert!(matches!(
        refused(&one[..15], true),
        BootModuleError::Vm {
            error: VmFieldError::BadDiskTable { len: 15 },
            ..
        }
    ));
    let four = [0u8; 64];
    assert!(matches!(
        refused(&four, true),
        BootModuleError::Vm {
            error: VmFieldError::BadDiskTable { len: 64 },
            ..
        }
    ));
    // Entries follow the first disk's rules.
    for (offset, size) in [(0, 0), (100, 512), (0, 100), (u64::MAX - 511, 1024)] {
        let blob = crate::encode_disks(&[region(offset, size)]);
        assert_eq!(
            refused(&blob, true),
            BootModuleError::Vm {
                index: 1,
                field: VmField::Disk,
                error: VmFieldError::BadDiskRegion { offset, size }
            }
        );
    }
}
