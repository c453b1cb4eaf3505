//! Boot module round trip and rejection tests.

use crate::format::{
    header, record, BLOB_ALIGN, HEADER_SIZE, RECORD_SIZE_V1, RECORD_SIZE_V2, VERSION_SYMBOLS,
};
use crate::{write, BootModule, BootModuleError, DiskRegion, VmField, VmFieldError, VmImage};

fn sample() -> Vec<u8> {
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
            },
        ],
        None,
    )
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn record_at(i: usize) -> usize {
    HEADER_SIZE + i * RECORD_SIZE_V2
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn round_trip() {
    let kernel_a: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let bytes = sample();
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(m.version(), 3);
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
    let m = BootModule::parse(&bytes).unwrap();
    assert!(m.vm(0).is_ok(), "a bad VM must not poison the others");
    let err = m.vm(1).unwrap_err();
    assert_eq!(
        err,
        BootModuleError::Vm {
            index: 1,
            field: VmField::Initrd,
            error: VmFieldError::OutOfRange {
                offset,
                len: size - offset + 1,
                size
            }
        }
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
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(
        m.vm(0).unwrap_err(),
        BootModuleError::Vm {
            index: 0,
            field: VmField::Kernel,
            error: VmFieldError::Misaligned { offset: offset + 8 }
        }
    );
}

#[test]
fn non_utf8_name_rejected() {
    let mut bytes = sample();
    bytes[record_at(1) + record::NAME] = 0xFF;
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(
        m.vm(1).unwrap_err(),
        BootModuleError::Vm {
            index: 1,
            field: VmField::Name,
            error: VmFieldError::NotUtf8
        }
    );
}

#[test]
fn unterminated_and_empty_names_rejected() {
    let mut bytes = sample();
    let at = record_at(0) + record::NAME;
    bytes[at..at + 32].fill(b'a');
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(
        m.vm(0).unwrap_err(),
        BootModuleError::Vm {
            index: 0,
            field: VmField::Name,
            error: VmFieldError::Unterminated
        }
    );
    bytes[at..at + 32].fill(0);
    let m = BootModule::parse(&bytes).unwrap();
    assert_eq!(
        m.vm(0).unwrap_err(),
        BootModuleError::Vm {
            index: 0,
            field: VmField::Name,
            error: VmFieldError::Empty
        }
    );
}

#[test]
fn zero_vcpus_rejected() {
    let mut bytes = sample();
    let at = record_at(1) + record::VCPUS;
    bytes[at..at + 4].fill(0);
    let m = BootModule::parse(&bytes).unwrap();
    let err = m.vm(1).unwrap_err();
    assert_eq!(
        err,
        BootModuleError::Vm {
            index: 1,
            field: VmField::Vcpus,
            error: VmFieldError::Empty
        }
    );
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

    // A "version 4" module whose records carry a 64-byte tail this parser does not
    // know: rebuild the record table with the larger stride and check both VMs read.
    let m = BootModule::parse(&bytes).unwrap();
    let (a, b) = (m.vm(0).unwrap(), m.vm(1).unwrap());
    let stride = RECORD_SIZE_V2 + 64;
    let newer = restride(&bytes, 4, stride, RECORD_SIZE_V2);
    let m = BootModule::parse(&newer).unwrap();
    assert_eq!(m.version(), 4);
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
    out[HEADER_SIZE..HEADER_SIZE + 2 * stride.max(RECORD_SIZE_V2)].fill(0xCC);
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
    assert_eq!(rs as usize, RECORD_SIZE_V2);
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
        let m = BootModule::parse(&bytes).unwrap();
        assert!(m.vm(0).is_ok(), "a bad VM must not poison the others");
        let err = m.vm(1).unwrap_err();
        assert_eq!(
            err,
            BootModuleError::Vm {
                index: 1,
                field: VmField::Disk,
                error: VmFieldError::BadDiskRegion { offset, size }
            },
            "{offset:#x}+{size:#x}"
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
    let bytes = write(&[], None);
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
        }],
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
        }],
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
    assert_eq!(m.version(), VERSION_SYMBOLS);
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
