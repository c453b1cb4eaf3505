//! Byte layout of the boot module (all integers little-endian).
//!
//! ```text
//! offset 0                 header (HEADER_SIZE bytes, see below)
//! offset header.records    vm_count records, each header.record_size bytes
//! 4 KiB-aligned offsets    blobs: kernels, initrds, command lines
//! header.total_size        end of the module
//! ```
//!
//! Header (64 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 8 | magic `b"AERIEBM1"` |
//! | 8  | 4 | version (currently 3) |
//! | 12 | 4 | header_size (64) |
//! | 16 | 4 | vm_count |
//! | 20 | 4 | record_size (>= 128) |
//! | 24 | 8 | total_size (bytes, the whole module) |
//! | 32 | 8 | records_offset (where record 0 starts) |
//! | 40 | 8 | symbols_offset: where Aerie's symbol table starts — v3 |
//! | 48 | 8 | symbols_len: its length in bytes; 0 = none (then the offset is 0 too) — v3 |
//! | 56 | 8 | reserved, zero |
//!
//! Version 3 took the first 16 reserved bytes for the symbol table: a blob
//! (4 KiB aligned like the others) in the format of the `aerie-symbols` crate,
//! which Aerie uses to name its own addresses in watchdog reports, backtraces
//! and profiles. A parser reads the two words only when `version >= 3`, so the
//! reserved zeros of a version-1 or -2 module mean "no symbols" either way and
//! an older parser, which ignores reserved words, still reads a version-3
//! module. The blob is optional metadata, but a header that points outside the
//! module is corrupt like any other bad header field and fails the parse.
//!
//! VM record, version 2 layout (144 bytes; version 1 is its first 128 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 32 | name, UTF-8, NUL-padded (at most 31 bytes, so at least one NUL) |
//! | 32  | 4  | vcpus |
//! | 36  | 4  | flags (none defined yet; zero) |
//! | 40  | 8  | memory (bytes) |
//! | 48  | 16 | kernel offset, length |
//! | 64  | 16 | initrd offset, length (length 0 = no initrd) |
//! | 80  | 16 | cmdline offset, length (UTF-8, no NUL) |
//! | 96  | 32 | reserved, zero |
//! | 128 | 8  | disk_offset: start of the VM's region of the host disk (bytes) — v2 |
//! | 136 | 8  | disk_size: bytes; 0 = no disk (then disk_offset is 0 too) — v2 |
//!
//! A parser reads the disk fields only when `version >= 2` and `record_size >= 144`;
//! a version-1 module therefore describes VMs without disks. Disk offsets and sizes
//! are multiples of [`DISK_SECTOR`] (virtio-blk addresses the disk in 512-byte
//! sectors, so a region must start and end on one).
//!
//! # Extending the format
//!
//! Growth happens only by *appending*: new record fields (backdoor policy,
//! guestinfo key/values, ...; version 2 appended the disk region at byte 128) go
//! after the last known field,
//! with `record_size` growing accordingly and `version` bumped. A parser reads the
//! fields it knows from the start of each record and skips the unknown tail by
//! stepping `record_size` bytes, so an older hypervisor still reads a newer module.
//! New header fields likewise use the reserved words, or grow `header_size` (records
//! are located through `records_offset`, not assumed to follow the header). A change
//! that old parsers must not misread gets a new magic.

/// Identifies a boot module.
pub const MAGIC: [u8; 8] = *b"AERIEBM1";
/// Format version this crate writes (2: records carry a disk region; 3: the
/// header locates Aerie's symbol table).
pub const VERSION: u32 = 3;
/// First version whose records carry `disk_offset` and `disk_size`.
pub const VERSION_DISK: u32 = 2;
/// First version whose header carries `symbols_offset` and `symbols_len`.
pub const VERSION_SYMBOLS: u32 = 3;
/// Size of the header this crate writes and the minimum a parser accepts.
pub const HEADER_SIZE: usize = 64;
/// Size of a version-1 record; the minimum `record_size` a parser accepts.
pub const RECORD_SIZE_V1: usize = 128;
/// Size of a version-2 record (v1 plus the disk region): what this crate writes.
pub const RECORD_SIZE_V2: usize = 144;
/// The virtio-blk sector: disk regions start and end on a multiple of it.
pub const DISK_SECTOR: u64 = 512;
/// Blob alignment: the hypervisor may map or copy blobs page by page.
pub const BLOB_ALIGN: u64 = 4096;
/// Maximum VM name length in bytes (the record field is 32 bytes, NUL-terminated).
pub const NAME_MAX: usize = 31;

/// Header field offsets.
pub(crate) mod header {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const HEADER_SIZE: usize = 12;
    pub const VM_COUNT: usize = 16;
    pub const RECORD_SIZE: usize = 20;
    pub const TOTAL_SIZE: usize = 24;
    pub const RECORDS_OFFSET: usize = 32;
    pub const SYMBOLS_OFFSET: usize = 40;
    pub const SYMBOLS_LEN: usize = 48;
}

/// Record field offsets (version 1, then the fields version 2 appended).
pub(crate) mod record {
    pub const NAME: usize = 0;
    pub const NAME_LEN: usize = 32;
    pub const VCPUS: usize = 32;
    pub const MEMORY: usize = 40;
    pub const KERNEL: usize = 48;
    pub const INITRD: usize = 64;
    pub const CMDLINE: usize = 80;
    pub const DISK_OFFSET: usize = 128;
    pub const DISK_SIZE: usize = 136;
}
