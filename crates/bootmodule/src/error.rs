//! Why a boot module (or one VM in it) was rejected.

use core::fmt;

/// A VM record field, named as in the format description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmField {
    Name,
    Vcpus,
    Memory,
    Kernel,
    Initrd,
    Cmdline,
    /// `disk_offset` and `disk_size` (version 2).
    Disk,
}

impl VmField {
    pub fn as_str(self) -> &'static str {
        match self {
            VmField::Name => "name",
            VmField::Vcpus => "vcpus",
            VmField::Memory => "memory",
            VmField::Kernel => "kernel",
            VmField::Initrd => "initrd",
            VmField::Cmdline => "cmdline",
            VmField::Disk => "disk",
        }
    }
}

/// What is wrong with one field of a VM record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmFieldError {
    /// The bytes `[offset, offset + len)` are not inside the module of `size` bytes.
    OutOfRange { offset: u64, len: u64, size: u64 },
    /// A blob does not start on a 4 KiB boundary.
    Misaligned { offset: u64 },
    /// Text is not valid UTF-8.
    NotUtf8,
    /// The name has no terminating NUL within its 32 bytes.
    Unterminated,
    /// The field must not be empty or zero.
    Empty,
    /// A disk region that is not sector aligned, overflows, or has an offset
    /// but no size.
    BadDiskRegion { offset: u64, size: u64 },
}

impl fmt::Display for VmFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmFieldError::OutOfRange { offset, len, size } => write!(
                f,
                "bytes {offset:#x}..{:#x} lie outside the {size:#x}-byte module",
                offset as u128 + len as u128
            ),
            VmFieldError::Misaligned { offset } => {
                write!(f, "blob offset {offset:#x} is not 4 KiB aligned")
            }
            VmFieldError::NotUtf8 => f.write_str("not valid UTF-8"),
            VmFieldError::Unterminated => f.write_str("longer than 31 bytes (no NUL terminator)"),
            VmFieldError::Empty => f.write_str("must not be empty or zero"),
            VmFieldError::BadDiskRegion { offset, size } => write!(
                f,
                "disk region offset {offset:#x} size {size:#x} is not a non-empty, \
                 512-byte aligned range below 2^64"
            ),
        }
    }
}

/// Why [`BootModule::parse`](crate::BootModule::parse) or
/// [`BootModule::vm`](crate::BootModule::vm) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootModuleError {
    /// Fewer bytes than the header (or the header's `total_size`) requires.
    Truncated { needed: u64, available: u64 },
    /// The first 8 bytes are not `b"AERIEBM1"`.
    BadMagic { found: [u8; 8] },
    /// Version 0 is invalid (newer versions are read as version 1 plus a tail).
    UnsupportedVersion { version: u32 },
    /// A header field has an impossible value.
    BadHeader { field: &'static str, value: u64 },
    /// The record table does not fit in the module.
    RecordsOutOfRange { offset: u64, len: u64, size: u64 },
    /// The header's symbol table (version 3) does not fit in the module, or
    /// has an offset but no length.
    SymbolsOutOfRange { offset: u64, len: u64, size: u64 },
    /// `vm(index)` asked for a VM that does not exist.
    NoSuchVm { index: usize, count: usize },
    /// One field of one VM record is bad.
    Vm {
        index: usize,
        field: VmField,
        error: VmFieldError,
    },
}

impl fmt::Display for BootModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootModuleError::Truncated { needed, available } => write!(
                f,
                "boot module truncated: needs {needed} bytes, only {available} present"
            ),
            BootModuleError::BadMagic { found } => write!(
                f,
                "not an Aerie boot module: magic is {found:02x?}, expected \"AERIEBM1\""
            ),
            BootModuleError::UnsupportedVersion { version } => {
                write!(f, "boot module: unsupported version {version}")
            }
            BootModuleError::BadHeader { field, value } => {
                write!(f, "boot module: header field `{field}` has bad value {value:#x}")
            }
            BootModuleError::RecordsOutOfRange { offset, len, size } => write!(
                f,
                "boot module: VM records at {offset:#x}+{len:#x} lie outside the {size:#x}-byte module"
            ),
            BootModuleError::SymbolsOutOfRange { offset, len, size } => write!(
                f,
                "boot module: symbol table at {offset:#x}+{len:#x} lies outside the \
                 {size:#x}-byte module (or has an offset but no length)"
            ),
            BootModuleError::NoSuchVm { index, count } => {
                write!(f, "boot module: no vm[{index}] (module has {count} VMs)")
            }
            BootModuleError::Vm {
                index,
                field,
                error,
            } => write!(
                f,
                "boot module: vm[{index}]: field `{}`: {error}",
                field.as_str()
            ),
        }
    }
}
