//! Config errors that say where: file, table (`vm[i]` or `world[i]`, and its
//! name) and field.

use std::fmt;
use std::path::PathBuf;

/// The kinds of top-level table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// `[[vm]]`
    Vm,
    /// `[[world]]`
    World,
}

impl TableKind {
    /// The table's TOML key: `vm` or `world`.
    pub fn key(self) -> &'static str {
        match self {
            TableKind::Vm => "vm",
            TableKind::World => "world",
        }
    }
}

/// A world's program file and why Aerie's ELF check refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAProgram {
    pub path: PathBuf,
    pub why: String,
}

/// Which `[[vm]]` or `[[world]]` table an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    pub kind: TableKind,
    /// Position among the tables of its kind, from 0 (u32 beside `kind`
    /// keeps [`ConfigError`] small: it is every parse step's `Err`).
    pub index: u32,
    /// The VM's or world's name, when it was readable.
    pub name: Option<String>,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.kind.key(), self.index)?;
        if let Some(name) = &self.name {
            write!(f, " ({name:?})")?;
        }
        Ok(())
    }
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io(String),
    /// Not valid TOML.
    Syntax(String),
    /// A top-level key other than `vm` and `world`.
    UnknownTopLevel,
    /// No `[[vm]]` table.
    NoVms,
    /// A `[[vm]]` key this version does not know.
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// The value has the wrong TOML type.
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// The name is empty, too long or has a character outside [A-Za-z0-9_-].
    BadName(String),
    /// vcpus outside 1..=8.
    VcpusOutOfRange(i64),
    /// The memory value is not a size.
    NotASize(String),
    /// Memory below 16 MiB.
    MemoryTooSmall(u64),
    /// Memory not a multiple of 2 MiB.
    MemoryMisaligned(u64),
    /// A path field is empty.
    EmptyPath,
    /// The same name as an earlier VM.
    DuplicateName { first: usize },
    /// The kernel, initrd or program file does not exist (the resolved path).
    FileNotFound(PathBuf),
    /// A world's program is not one Aerie would load (boxed, as
    /// `DiskOverlap`: rare, and it would grow every config error).
    NotAProgram(Box<NotAProgram>),
    /// A `[vm.disk]` key other than `offset` and `size`.
    UnknownDiskField,
    /// A disk offset or size that is not a multiple of 1 MiB.
    DiskMisaligned(u64),
    /// `disk.size` is zero.
    DiskEmpty,
    /// `[[vm.disk]]` with no tables or more than [`crate::MAX_DISKS`] (the count).
    DiskCount(usize),
    /// A disk overlaps the same VM's disk at this position.
    DiskOverlapsOwn(usize),
    /// This VM's disk region overlaps that of an earlier VM (boxed: rare, and
    /// it would double the size of every config error).
    DiskOverlap(Box<DiskOverlap>),
    /// A `[vm.backdoor]` key other than enabled, el0, brk, high_bandwidth.
    UnknownBackdoorField,
    /// `backdoor.brk` outside 0..=0xffff.
    BrkOutOfRange(i64),
    /// More guestinfo keys than the backdoor's store holds (the count).
    GuestinfoTooMany(usize),
    /// A guestinfo key (with its `guestinfo.` prefix) longer than the limit.
    GuestinfoKeyTooLong(usize),
    /// A guestinfo value longer than the limit.
    GuestinfoValueTooLong(usize),
    /// A guestinfo key with an empty part (`"" = "x"`).
    GuestinfoEmptyName,
    /// The same guestinfo key twice (`"a.b"` and `a.b`).
    GuestinfoDuplicate,
    /// `[vm.guestinfo]` without an enabled `[vm.backdoor]`.
    GuestinfoWithoutBackdoor,
    /// More `[[world]]` tables than [`crate::MAX_WORLDS`] (the count).
    TooManyWorlds(usize),
    /// A `[[world]]` key other than name, program, arg.
    UnknownWorldField,
    /// The same name as an earlier world.
    DuplicateWorldName { first: usize },
    /// A world's `arg` longer than [`crate::WORLD_ARG_MAX`] (its length).
    WorldArgTooLong(usize),
    /// A world's `control` list names a VM the config does not have.
    ControlUnknownVm(String),
    /// A world's `control` list names a VM past the first 32.
    ControlVmPastList(String),
    /// A world's `operations` names no operation there is.
    UnknownOperation(String),
    /// A world has `operations` but no `control`.
    OperationsWithoutControl,
    /// A `[vm.net]` key other than `mac`.
    UnknownNetField,
    /// `net.mac` is not six hex octets, or is zero or a group address.
    BadMac(String),
    /// The same card address as an earlier VM's (its index and name).
    DuplicateMac { first: usize, name: String },
}

/// Two VMs claim the same bytes of the host disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskOverlap {
    /// Index and name of the earlier VM.
    pub other: usize,
    pub other_name: String,
    /// `[start, end)` of this VM's region and of the other's.
    pub ours: (u64, u64),
    pub theirs: (u64, u64),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::Syntax(e) => write!(f, "TOML syntax error: {e}"),
            ErrorKind::UnknownTopLevel => {
                f.write_str("unknown top-level key (only [[vm]] and [[world]] tables are allowed)")
            }
            ErrorKind::NoVms => {
                f.write_str("no [[vm]] table: the config must describe at least one VM")
            }
            ErrorKind::UnknownField => f.write_str(
                "unknown field (known: name, vcpus, memory, kernel, initrd, cmdline, cpufreq, \
                 disk, backdoor, guestinfo, net)",
            ),
            ErrorKind::MissingField => f.write_str("missing (required)"),
            ErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::BadName(why) => f.write_str(why),
            ErrorKind::VcpusOutOfRange(n) => {
                write!(f, "{n} is out of range (1..={})", crate::MAX_VCPUS)
            }
            ErrorKind::NotASize(s) => {
                write!(f, "{s:?} is not a size (use e.g. 256M or 1G)")
            }
            ErrorKind::MemoryTooSmall(n) => write!(f, "{n} bytes is less than the minimum 16M"),
            ErrorKind::MemoryMisaligned(n) => {
                write!(f, "{n} bytes is not a multiple of 2M")
            }
            ErrorKind::EmptyPath => f.write_str("path is empty"),
            ErrorKind::DuplicateName { first } => {
                write!(f, "duplicate name (already used by vm[{first}])")
            }
            ErrorKind::FileNotFound(p) => write!(f, "file not found: {}", p.display()),
            ErrorKind::NotAProgram(e) => write!(
                f,
                "{} is not a user-world program: {}",
                e.path.display(),
                e.why
            ),
            ErrorKind::UnknownDiskField => {
                f.write_str("unknown field (known in [vm.disk]: offset, size)")
            }
            ErrorKind::DiskMisaligned(n) => write!(f, "{n} bytes is not a multiple of 1M"),
            ErrorKind::DiskEmpty => f.write_str("must not be 0"),
            ErrorKind::DiskCount(n) => write!(
                f,
                "{n} [[vm.disk]] tables: a VM has 1 to {} disks",
                crate::MAX_DISKS
            ),
            ErrorKind::DiskOverlapsOwn(i) => {
                write!(f, "overlaps this VM's disk[{i}]")
            }
            ErrorKind::DiskOverlap(o) => write!(
                f,
                "region {:#x}..{:#x} overlaps vm[{}] ({:?})'s {:#x}..{:#x}",
                o.ours.0, o.ours.1, o.other, o.other_name, o.theirs.0, o.theirs.1
            ),
            ErrorKind::UnknownBackdoorField => f.write_str(
                "unknown field (known in [vm.backdoor]: enabled, el0, brk, high_bandwidth)",
            ),
            ErrorKind::BrkOutOfRange(n) => {
                write!(f, "{n} is out of range (a BRK immediate is 0..=0xffff)")
            }
            ErrorKind::GuestinfoTooMany(n) => write!(
                f,
                "{n} keys, more than the {} a VM's guestinfo holds",
                crate::GUESTINFO_MAX_KEYS
            ),
            ErrorKind::GuestinfoKeyTooLong(n) => write!(
                f,
                "key is {n} bytes, more than {} (counting the `guestinfo.` prefix)",
                crate::GUESTINFO_MAX_KEY_LEN
            ),
            ErrorKind::GuestinfoValueTooLong(n) => write!(
                f,
                "value is {n} bytes, more than {}",
                crate::GUESTINFO_MAX_VALUE_LEN
            ),
            ErrorKind::GuestinfoEmptyName => f.write_str("key has an empty name"),
            ErrorKind::GuestinfoDuplicate => f.write_str("key is given twice"),
            ErrorKind::GuestinfoWithoutBackdoor => f.write_str(
                "guestinfo needs [vm.backdoor] (enabled): the guest reads it through the backdoor",
            ),
            ErrorKind::TooManyWorlds(n) => write!(
                f,
                "{n} [[world]] tables, more than the {} allowed",
                crate::MAX_WORLDS
            ),
            ErrorKind::UnknownWorldField => f.write_str(
                "unknown field (known in [[world]]: name, program, arg, control, operations)",
            ),
            ErrorKind::DuplicateWorldName { first } => {
                write!(f, "duplicate name (already used by world[{first}])")
            }
            ErrorKind::UnknownOperation(name) => {
                write!(f, "names {name:?}, which is not an operation (")?;
                for (i, (op, _)) in aerie_bootmodule::Operations::NAMES.iter().enumerate() {
                    write!(f, "{}{op}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str(")")
            }
            ErrorKind::OperationsWithoutControl => {
                f.write_str("lists operations, but the world has no `control` to use them on")
            }
            ErrorKind::ControlUnknownVm(name) => {
                write!(f, "names VM {name:?}, which the config does not have")
            }
            ErrorKind::ControlVmPastList(name) => write!(
                f,
                "names VM {name:?}, but a list may name only the first {} VMs",
                aerie_bootmodule::format::CONTROL_VMS_MAX
            ),
            ErrorKind::WorldArgTooLong(n) => {
                write!(f, "{n} bytes, more than {}", crate::WORLD_ARG_MAX)
            }
            ErrorKind::UnknownNetField => {
                f.write_str("unknown field (known in [vm.net]: mac, network, uplink)")
            }
            ErrorKind::BadMac(s) => write!(
                f,
                "{s:?} is not a card address: six two-digit hex octets like \
                 \"02:00:00:12:34:56\", not all zeros, first octet even (unicast)"
            ),
            ErrorKind::DuplicateMac { first, name } => {
                write!(f, "address already used by vm[{first}] ({name:?})")
            }
        }
    }
}

/// A config error: ``<file>: vm[<i>] ("<name>"): field `<field>`: <what>``
/// (`world[<i>]` for a world), each part present when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub table: Option<TableRef>,
    pub field: Option<String>,
    pub kind: ErrorKind,
}

impl ConfigError {
    /// Records the file the error came from.
    pub fn in_file(mut self, file: &std::path::Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(table) = &self.table {
            write!(f, "{table}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ConfigError {}
