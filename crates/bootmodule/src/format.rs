//! Byte layout of the boot module (all integers little-endian).
//!
//! ```text
//! offset 0                 header (HEADER_SIZE bytes, see below)
//! offset header.records    vm_count records, each header.record_size bytes
//! right after them         world_count world records, each header.world_record_size bytes (v6)
//! 4 KiB-aligned offsets    blobs: kernels, initrds, command lines, guestinfo,
//!                          world programs and args, then the symbol table
//! header.total_size        end of the module
//! ```
//!
//! Header (64 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 8 | magic `b"AERIEBM1"` |
//! | 8  | 4 | version (currently 7) |
//! | 12 | 4 | header_size (64) |
//! | 16 | 4 | vm_count |
//! | 20 | 4 | record_size (>= 128) |
//! | 24 | 8 | total_size (bytes, the whole module) |
//! | 32 | 8 | records_offset (where record 0 starts) |
//! | 40 | 8 | symbols_offset: where Aerie's symbol table starts — v3 |
//! | 48 | 8 | symbols_len: its length in bytes; 0 = none (then the offset is 0 too) — v3 |
//! | 56 | 4 | world_count: EL0 user worlds — v6 |
//! | 60 | 4 | world_record_size (>= 72 when world_count > 0) — v6 |
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
//! VM record, version 7 layout (200 bytes; version 1 is its first 128 bytes,
//! versions 2 and 3 its first 144, versions 4 to 6 its first 168):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 32 | name, UTF-8, NUL-padded (at most 31 bytes, so at least one NUL) |
//! | 32  | 4  | vcpus |
//! | 36  | 4  | flags: [`FLAG_FIXED_CLOCK`]; other bits zero — v5 (zero before) |
//! | 40  | 8  | memory (bytes) |
//! | 48  | 16 | kernel offset, length |
//! | 64  | 16 | initrd offset, length (length 0 = no initrd) |
//! | 80  | 16 | cmdline offset, length (UTF-8, no NUL) |
//! | 96  | 32 | reserved, zero |
//! | 128 | 8  | disk_offset: start of the VM's region of the host disk (bytes) — v2 |
//! | 136 | 8  | disk_size: bytes; 0 = no disk (then disk_offset is 0 too) — v2 |
//! | 144 | 4  | backdoor_flags: [`BACKDOOR_ENABLED`] etc.; 0 = no backdoor — v4 |
//! | 148 | 4  | brk_imm: the BRK transport's immediate in bits 0..16; 0 unless [`BACKDOOR_BRK`] — v4 |
//! | 152 | 16 | guestinfo offset, length (length 0 = no guestinfo) — v4 |
//! | 168 | 4  | net_flags: [`NET_NIC`], [`NET_NO_UPLINK`]; 0 = no network card — v7 |
//! | 172 | 6  | mac: the card's Ethernet address; zero without [`NET_NIC`] — v7 |
//! | 178 | 2  | network: which of the switch's networks the card is on; zero without [`NET_NIC`] — v7 |
//! | 180 | 4  | reserved, zero — v7 |
//! | 184 | 16 | more_disks offset, length: the VM's further disks (length 0 = none) — v7 |
//!
//! A parser reads the disk fields only when `version >= 2` and `record_size >= 144`;
//! a version-1 module therefore describes VMs without disks. Disk offsets and sizes
//! are multiples of [`DISK_SECTOR`] (virtio-blk addresses the disk in 512-byte
//! sectors, so a region must start and end on one).
//!
//! Version 5 defined the first bit of the record's `flags` word, which
//! earlier versions wrote as zero: [`FLAG_FIXED_CLOCK`], the VM's vCPUs run
//! at full speed whatever their guest asks (no SCMI clocks for its cpufreq,
//! no performance caps). A parser reads `flags` only when `version >= 5` and
//! refuses a record with an unknown bit set.
//!
//! Version 4 appended the VM's backdoor policy and its guestinfo keys. A parser
//! reads them only when `version >= 4` and `record_size >= 168`, so a VM of an
//! older module has no backdoor and no guestinfo. `backdoor_flags`:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 | [`BACKDOOR_ENABLED`]: the VM has the backdoor (DCC transport); without it every other bit, `brk_imm` and the guestinfo length are 0 |
//! | 1 | [`BACKDOOR_EL0`]: guest EL0 (user space) may use it, not only EL1 |
//! | 2 | [`BACKDOOR_BRK`]: the BRK transport is on, `brk #brk_imm` |
//! | 3 | [`BACKDOOR_HIGH_BANDWIDTH`]: the high-bandwidth port is offered (GuestRPC messages copied through guest memory, not 4 bytes at a time) |
//! | 4..32 | reserved, zero: a parser refuses a record with an unknown bit set |
//!
//! The guestinfo blob (any alignment, like the command line) is a sequence of
//! entries with no padding between them, each
//!
//! ```text
//! u32 key_len, u32 value_len, key (key_len bytes), value (value_len bytes)
//! ```
//!
//! with UTF-8 keys and values; each key is the full name, `guestinfo.<name>`,
//! and is not empty. [`guestinfo_entries`](crate::guestinfo_entries) walks a
//! blob; the parser checks the whole blob before it hands a VM out, so a
//! truncated entry or a length that runs past the blob is an error, not a
//! panic. Limits on the number and size of entries are the backdoor's (the
//! VM config enforces them; the hypervisor's guestinfo store checks again).
//!
//! Version 6 took the last 8 reserved bytes for the EL0 "user world" programs
//! Aerie runs beside the VMs: `world_count` records of `world_record_size`
//! bytes, starting right after the VM records at `records_offset + vm_count *
//! record_size` (no offset of their own: they move when VM records grow). A
//! parser reads the two words only when `version >= 6`, so the reserved zeros
//! of an older module mean "no worlds" and an older parser, which ignores the
//! words and never looks past the VM records, still reads a version-6 module.
//! A parser refuses a table that does not fit in the module, and a
//! `world_record_size` below 72 when there are worlds; it steps
//! `world_record_size` bytes per record, so a later version may append fields.
//!
//! World record, version 6 (72 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0  | 32 | name, UTF-8, NUL-padded (1..=31 bytes, so at least one NUL), like a VM's |
//! | 32 | 16 | program offset, length: a static AArch64 ELF file; not empty, 4 KiB aligned like a kernel |
//! | 48 | 16 | arg offset, length: UTF-8 text handed to the program, any alignment; length 0 = empty (the offset is then ignored) |
//! | 64 | 4  | flags: the world's rights, see below |
//! | 68 | 4  | control_vms: with [`WORLD_FLAG_CONTROL_LISTED`], bit i for VM record i the world may control; zero otherwise |
//! | 72 | 4  | control_ops: with [`WORLD_FLAG_OPS_LISTED`], bit i for the operation the world may do (see [`Operations`](crate::Operations)); zero otherwise. Only in records of 76 bytes or more (what this crate writes since operations could be listed); a 72-byte record has none |
//!
//! World `flags`:
//!
//! | bit | meaning |
//! |---|---|
//! | 0 | [`WORLD_FLAG_CONTROL`]: the world may control every VM (stop, reset, start, halt or reboot them: the `vm_control` system call) |
//! | 1 | [`WORLD_FLAG_CONTROL_LISTED`]: the world may control the VMs `control_vms` lists (one of the first 32), and no other |
//! | 2 | [`WORLD_FLAG_OPS_LISTED`]: of the operations, the world may do only those `control_ops` lists (without it: all of them) |
//! | 3..32 | reserved, zero: a parser refuses a record with an unknown bit set |
//!
//! A parser refuses both control bits at once, a `control_vms` bit for a
//! VM the module does not have, and a non-zero `control_vms` without bit 1.
//! (`control_vms` was a reserved zero word before bit 1 existed, and a
//! parser that predates it refuses bit 1: a world is never given more than
//! its config says.) Likewise it refuses bit 2 without a control bit, in a
//! record too short for `control_ops`, or with an operation it does not
//! know, and a non-zero `control_ops` without bit 2; a parser that predates
//! bit 2 refuses it.
//!
//! The parser checks only the blobs' bounds, alignment and UTF-8 and the
//! flags; the ELF file is the hypervisor's loader to check.
//!
//! Version 7 appended the VM's network card (184-byte records): with
//! [`NET_NIC`] set in `net_flags` the VM gets a virtio-net device on Aerie's
//! switch, with the Ethernet address `mac` (a unicast address, not all
//! zeros), on network number `network` (cards exchange frames only with
//! cards on the same network), reaching the uplink unless [`NET_NO_UPLINK`]
//! is set. A parser reads the fields only when `version >= 7` and
//! `record_size >= 184`, and refuses an unknown `net_flags` bit, any other
//! bit, a MAC or a network without the card, and a card whose MAC is zero
//! or multicast.
//!
//! Version 7 also lets a VM have more than one disk: `disk_offset` and
//! `disk_size` stay its first, and the `more_disks` blob (any alignment,
//! like the command line) lists the others, at most [`MORE_DISKS_MAX`], as
//! `u64 offset, u64 size` pairs, in the order the guest sees them (`vdb`,
//! `vdc`, ...). A parser refuses a blob whose length is not a whole number of
//! pairs, one with too many, one without a first disk, and any region that
//! the first disk's rules would refuse (sector aligned, not empty, below
//! 2^64).
//!
//! # Extending the format
//!
//! Growth happens only by *appending*: new record fields (version 2 appended the
//! disk region at byte 128, version 4 the backdoor policy and guestinfo at byte
//! 144) go after the last known field,
//! with `record_size` growing accordingly and `version` bumped. A parser reads the
//! fields it knows from the start of each record and skips the unknown tail by
//! stepping `record_size` bytes, so an older hypervisor still reads a newer module.
//! World records grow the same way, through `world_record_size`. New header
//! fields grow `header_size` (versions 3 and 6 used up the reserved words;
//! records are located through `records_offset`, not assumed to follow the
//! header). A change that old parsers must not misread gets a new magic.

/// Identifies a boot module.
pub const MAGIC: [u8; 8] = *b"AERIEBM1";
/// Format version this crate writes (2: records carry a disk region; 3: the
/// header locates Aerie's symbol table; 4: records carry a backdoor policy and
/// guestinfo; 5: the record's flags word has meaning; 6: the header counts
/// EL0 user worlds, whose records follow the VM records; 7: records carry a
/// network card).
pub const VERSION: u32 = 7;
/// First version whose records carry `disk_offset` and `disk_size`.
pub const VERSION_DISK: u32 = 2;
/// First version whose header carries `symbols_offset` and `symbols_len`.
pub const VERSION_SYMBOLS: u32 = 3;
/// First version whose records carry `backdoor_flags`, `brk_imm` and guestinfo.
pub const VERSION_BACKDOOR: u32 = 4;
/// First version whose record `flags` are read.
pub const VERSION_FLAGS: u32 = 5;
/// First version whose header carries `world_count` and `world_record_size`.
pub const VERSION_WORLDS: u32 = 6;
/// First version whose records carry `net_flags` and `mac`.
pub const VERSION_NET: u32 = 7;
/// `net_flags` bit 0: the VM has a network card (virtio-net on Aerie's switch).
pub const NET_NIC: u32 = 1 << 0;
/// `net_flags` bit 1: the card does not reach the uplink (the machine's own
/// network card): its network stays inside the machine.
pub const NET_NO_UPLINK: u32 = 1 << 1;
/// Every defined `net_flags` bit.
pub const NET_FLAGS_KNOWN: u32 = NET_NIC | NET_NO_UPLINK;
/// Record `flags` bit 0: the VM's vCPUs always run at full speed (no SCMI
/// clocks in its device tree, no performance caps).
pub const FLAG_FIXED_CLOCK: u32 = 1 << 0;
/// Every defined record `flags` bit.
pub const FLAGS_KNOWN: u32 = FLAG_FIXED_CLOCK;
/// Size of the header this crate writes and the minimum a parser accepts.
pub const HEADER_SIZE: usize = 64;
/// Size of a version-1 record; the minimum `record_size` a parser accepts.
pub const RECORD_SIZE_V1: usize = 128;
/// Size of a version-2 (and -3) record: v1 plus the disk region.
pub const RECORD_SIZE_V2: usize = 144;
/// Size of a version-4 record (v2 plus backdoor policy and guestinfo).
pub const RECORD_SIZE_V4: usize = 168;
/// Size of a version-7 record (v4 plus the network card and further disks):
/// what this crate writes.
pub const RECORD_SIZE_V7: usize = 200;
/// Disks a VM may have besides its first (version 7).
pub const MORE_DISKS_MAX: usize = 3;
/// Bytes of one `more_disks` entry: `u64 offset, u64 size`.
pub const DISK_ENTRY: usize = 16;
/// Size of a version-6 world record: what this crate writes and the minimum
/// `world_record_size` a parser accepts when there are worlds.
pub const WORLD_RECORD_SIZE_V6: usize = 72;
/// World record `flags` bit 0: the world may control VMs (stop, reset, start,
/// halt or reboot them: the `vm_control` system call).
pub const WORLD_FLAG_CONTROL: u32 = 1 << 0;
/// World record `flags` bit 1: the world may control the VMs its
/// `control_vms` word lists, and no other.
pub const WORLD_FLAG_CONTROL_LISTED: u32 = 1 << 1;
/// World record `flags` bit 2: the world may do only the operations its
/// `control_ops` word lists.
pub const WORLD_FLAG_OPS_LISTED: u32 = 1 << 2;
/// Size of the world record this crate writes: version 6's and
/// `control_ops`.
pub const WORLD_RECORD_SIZE: usize = 76;
/// VMs a `control_vms` word can list: the first 32.
pub const CONTROL_VMS_MAX: usize = 32;
/// Every defined world record `flags` bit.
pub const WORLD_FLAGS_KNOWN: u32 =
    WORLD_FLAG_CONTROL | WORLD_FLAG_CONTROL_LISTED | WORLD_FLAG_OPS_LISTED;
/// `backdoor_flags` bit 0: the VM has the backdoor.
pub const BACKDOOR_ENABLED: u32 = 1 << 0;
/// `backdoor_flags` bit 1: guest EL0 may use the backdoor.
pub const BACKDOOR_EL0: u32 = 1 << 1;
/// `backdoor_flags` bit 2: the BRK transport is on (`brk_imm` holds its immediate).
pub const BACKDOOR_BRK: u32 = 1 << 2;
/// `backdoor_flags` bit 3: the high-bandwidth port is offered.
pub const BACKDOOR_HIGH_BANDWIDTH: u32 = 1 << 3;
/// Every defined `backdoor_flags` bit.
pub const BACKDOOR_FLAGS_KNOWN: u32 =
    BACKDOOR_ENABLED | BACKDOOR_EL0 | BACKDOOR_BRK | BACKDOOR_HIGH_BANDWIDTH;
/// Bytes before each guestinfo entry's key: `u32 key_len, u32 value_len`.
pub const GUESTINFO_ENTRY_HEADER: usize = 8;
/// The virtio-blk sector: disk regions start and end on a multiple of it.
pub const DISK_SECTOR: u64 = 512;
/// Blob alignment: the hypervisor may map or copy blobs page by page.
pub const BLOB_ALIGN: u64 = 4096;
/// Maximum VM or world name length in bytes (the record field is 32 bytes,
/// NUL-terminated).
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
    pub const WORLD_COUNT: usize = 56;
    pub const WORLD_RECORD_SIZE: usize = 60;
}

/// Record field offsets (version 1, then the fields versions 2 and 4 appended).
pub(crate) mod record {
    pub const NAME: usize = 0;
    pub const NAME_LEN: usize = 32;
    pub const VCPUS: usize = 32;
    pub const FLAGS: usize = 36;
    pub const MEMORY: usize = 40;
    pub const KERNEL: usize = 48;
    pub const INITRD: usize = 64;
    pub const CMDLINE: usize = 80;
    pub const DISK_OFFSET: usize = 128;
    pub const DISK_SIZE: usize = 136;
    pub const BACKDOOR_FLAGS: usize = 144;
    pub const BRK_IMM: usize = 148;
    pub const GUESTINFO: usize = 152;
    pub const NET_FLAGS: usize = 168;
    pub const MAC: usize = 172;
    pub const MAC_LEN: usize = 6;
    pub const NETWORK: usize = 178;
    pub const MORE_DISKS: usize = 184;
}

/// World record field offsets (version 6).
pub(crate) mod world {
    pub const NAME: usize = 0;
    pub const NAME_LEN: usize = 32;
    pub const PROGRAM: usize = 32;
    pub const ARG: usize = 48;
    pub const FLAGS: usize = 64;
    pub const CONTROL_VMS: usize = 68;
    pub const CONTROL_OPS: usize = 72;
}
