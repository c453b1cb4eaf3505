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
    /// `backdoor_flags` and `brk_imm` (version 4).
    Backdoor,
    /// The guestinfo blob (version 4).
    Guestinfo,
    /// The record's `flags` (version 5).
    Flags,
    /// `net_flags` and `mac` (version 7).
    Net,
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
            VmField::Backdoor => "backdoor",
            VmField::Guestinfo => "guestinfo",
            VmField::Flags => "flags",
            VmField::Net => "net",
        }
    }
}

/// A world record field (version 6), named as in the format description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldField {
    Name,
    Program,
    Arg,
    /// The record's `flags`: the world's rights.
    Flags,
}

impl WorldField {
    pub fn as_str(self) -> &'static str {
        match self {
            WorldField::Name => "name",
            WorldField::Program => "program",
            WorldField::Arg => "arg",
            WorldField::Flags => "flags",
        }
    }
}

/// What is wrong with one field of a VM record (or of a world record: those
/// reuse the errors that fit).
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
    /// `backdoor_flags` has an unknown bit, or a policy bit without the
    /// enabled bit; or `brk_imm` is above 0xffff or set while the BRK
    /// transport is off.
    BadBackdoor { flags: u32, brk_imm: u32 },
    /// The guestinfo entry starting at byte `at` of the blob does not fit in
    /// it: its 8-byte length header, or the key and value those lengths give,
    /// run past the blob's end.
    GuestinfoTruncated { at: u64 },
    /// The guestinfo entry at byte `at` of the blob has an empty key.
    GuestinfoEmptyKey { at: u64 },
    /// The key or value of the guestinfo entry at byte `at` is not UTF-8.
    GuestinfoNotUtf8 { at: u64 },
    /// The VM has guestinfo but no backdoor to read it through.
    GuestinfoWithoutBackdoor,
    /// `flags` has a bit this parser does not know.
    UnknownFlags { flags: u32 },
    /// A world's control rights contradict each other: both control bits,
    /// a listed VM the module does not have, or VMs listed without the
    /// listed bit.
    BadControl { flags: u32, vms: u32 },
    /// A world's operations are listed without a control right, in a
    /// record too short to hold them, name an operation this parser does
    /// not know, or are given without the listed bit.
    BadOperations { flags: u32, ops: u32 },
    /// The `more_disks` blob is not a whole number of entries, has more than
    /// [`MORE_DISKS_MAX`](crate::format::MORE_DISKS_MAX), or the VM has no
    /// first disk.
    BadDiskTable { len: u64 },
    /// `net_flags` has an unknown bit, or a bit, `mac` or `network` is set
    /// without a card, or the card's `mac` is zero or a multicast address.
    BadNet {
        flags: u32,
        mac: [u8; 6],
        network: u16,
    },
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
            VmFieldError::BadBackdoor { flags, brk_imm } => write!(
                f,
                "backdoor_flags {flags:#x} with brk_imm {brk_imm:#x}: unknown flag bits \
                 (known: {:#x}), policy bits without the enabled bit, or an immediate \
                 above 0xffff or without the BRK transport",
                crate::format::BACKDOOR_FLAGS_KNOWN
            ),
            VmFieldError::GuestinfoTruncated { at } => write!(
                f,
                "the entry at blob byte {at:#x} runs past the end of the blob"
            ),
            VmFieldError::GuestinfoEmptyKey { at } => {
                write!(f, "the entry at blob byte {at:#x} has an empty key")
            }
            VmFieldError::GuestinfoNotUtf8 { at } => write!(
                f,
                "the entry at blob byte {at:#x} has a key or value that is not valid UTF-8"
            ),
            VmFieldError::GuestinfoWithoutBackdoor => {
                f.write_str("guestinfo present but the VM has no backdoor")
            }
            VmFieldError::UnknownFlags { flags } => {
                write!(f, "flags {flags:#x} has an unknown bit")
            }
            VmFieldError::BadDiskTable { len } => write!(
                f,
                "more_disks is {len} bytes: not whole 16-byte entries, more than {} of them, \
                 or no first disk",
                crate::format::MORE_DISKS_MAX
            ),
            VmFieldError::BadControl { flags, vms } => write!(
                f,
                "flags {flags:#x} with control_vms {vms:#x}: both control bits, a VM the \
                 module does not have, or VMs listed without the listed bit"
            ),
            VmFieldError::BadOperations { flags, ops } => write!(
                f,
                "flags {flags:#x} with control_ops {ops:#x}: operations listed without a \
                 control right, in a record too short for them, an unknown operation, or \
                 operations without the listed bit"
            ),
            VmFieldError::BadNet {
                flags,
                mac,
                network,
            } => write!(
                f,
                "net_flags {flags:#x} with mac {} on network {network}: unknown flag bits \
                 (known: {:#x}), a field set without the card, or a zero or multicast address",
                crate::mac_text(&mac),
                crate::format::NET_FLAGS_KNOWN
            ),
        }
    }
}

/// Why [`BootModule::parse`](crate::BootModule::parse) or
/// [`BootModule::vm`](crate::BootModule::vm) or
/// [`BootModule::world`](crate::BootModule::world) failed.
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
    /// The world record table (version 6), right after the VM records, does
    /// not fit in the module.
    WorldRecordsOutOfRange { offset: u64, len: u64, size: u64 },
    /// `vm(index)` asked for a VM that does not exist.
    NoSuchVm { index: usize, count: usize },
    /// One field of one VM record is bad.
    Vm {
        index: usize,
        field: VmField,
        error: VmFieldError,
    },
    /// `world(index)` asked for a world that does not exist.
    NoSuchWorld { index: usize, count: usize },
    /// One field of one world record (version 6) is bad.
    World {
        index: usize,
        field: WorldField,
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
            BootModuleError::WorldRecordsOutOfRange { offset, len, size } => write!(
                f,
                "boot module: world records at {offset:#x}+{len:#x} lie outside the {size:#x}-byte module"
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
            BootModuleError::NoSuchWorld { index, count } => write!(
                f,
                "boot module: no world[{index}] (module has {count} worlds)"
            ),
            BootModuleError::World {
                index,
                field,
                error,
            } => write!(
                f,
                "boot module: world[{index}]: field `{}`: {error}",
                field.as_str()
            ),
        }
    }
}
