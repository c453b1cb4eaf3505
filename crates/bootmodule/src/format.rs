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
//! | 8  | 4 | version (currently 1) |
//! | 12 | 4 | header_size (64) |
//! | 16 | 4 | vm_count |
//! | 20 | 4 | record_size (>= 128) |
//! | 24 | 8 | total_size (bytes, the whole module) |
//! | 32 | 8 | records_offset (where record 0 starts) |
//! | 40 | 24 | reserved, zero |
//!
//! VM record, version 1 layout (128 bytes):
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
//!
//! # Extending the format
//!
//! Growth happens only by *appending*: new record fields (disk regions, backdoor
//! policy, guestinfo key/values, ...) go into the reserved words or after byte 128,
//! with `record_size` growing accordingly and `version` bumped. A parser reads the
//! fields it knows from the start of each record and skips the unknown tail by
//! stepping `record_size` bytes, so an older hypervisor still reads a newer module.
//! New header fields likewise use the reserved words, or grow `header_size` (records
//! are located through `records_offset`, not assumed to follow the header). A change
//! that old parsers must not misread gets a new magic.

/// Identifies a boot module.
pub const MAGIC: [u8; 8] = *b"AERIEBM1";
/// Format version this crate writes.
pub const VERSION: u32 = 1;
/// Size of the header this crate writes and the minimum a parser accepts.
pub const HEADER_SIZE: usize = 64;
/// Size of a version-1 record; the minimum `record_size` a parser accepts.
pub const RECORD_SIZE_V1: usize = 128;
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
}

/// Record field offsets (version 1).
pub(crate) mod record {
    pub const NAME: usize = 0;
    pub const NAME_LEN: usize = 32;
    pub const VCPUS: usize = 32;
    pub const MEMORY: usize = 40;
    pub const KERNEL: usize = 48;
    pub const INITRD: usize = 64;
    pub const CMDLINE: usize = 80;
}
