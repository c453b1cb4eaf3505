//! Allocation-free boot module parser: every offset and length is checked before
//! a slice is taken, so a corrupt module yields an error, never a panic.

use crate::error::{BootModuleError, VmField, VmFieldError, WorldField};
use crate::format::{
    header, record, world, BLOB_ALIGN, CONTROL_VMS_MAX, DISK_ENTRY, DISK_SECTOR, FLAGS_KNOWN,
    FLAG_FIXED_CLOCK, HEADER_SIZE, MAGIC, MORE_DISKS_MAX, NAME_MAX, NET_FLAGS_KNOWN, NET_NIC,
    NET_NO_UPLINK, RECORD_SIZE_V1, RECORD_SIZE_V2, RECORD_SIZE_V4, RECORD_SIZE_V7,
    VERSION_BACKDOOR, VERSION_DISK, VERSION_FLAGS, VERSION_NET, VERSION_SYMBOLS, VERSION_WORLDS,
    WORLD_FLAGS_KNOWN, WORLD_FLAG_CONTROL, WORLD_FLAG_CONTROL_LISTED, WORLD_FLAG_OPS_LISTED,
    WORLD_RECORD_SIZE_V6,
};
use crate::{
    guestinfo_entries, BackdoorPolicy, Control, DiskRegion, NetCard, Operations, VmImage,
    WorldImage,
};

/// A disk region: sector aligned, not empty, not wrapping.
fn check_region(offset: u64, size: u64) -> Result<DiskRegion, VmFieldError> {
    if size == 0
        || !offset.is_multiple_of(DISK_SECTOR)
        || !size.is_multiple_of(DISK_SECTOR)
        || offset.checked_add(size).is_none()
    {
        return Err(VmFieldError::BadDiskRegion { offset, size });
    }
    Ok(DiskRegion { offset, size })
}

/// A record's backdoor policy and guestinfo blob.
type BackdoorFields<'a> = (Option<BackdoorPolicy>, &'a [u8]);

/// A validated boot module header over borrowed bytes.
#[derive(Clone, Copy, Debug)]
pub struct BootModule<'a> {
    /// The module, cut to `total_size` (trailing padding is ignored).
    bytes: &'a [u8],
    version: u32,
    vm_count: usize,
    record_size: usize,
    records_offset: usize,
    /// Aerie's symbol table, `(offset, len)` inside `bytes`; len 0 = none.
    symbols: (usize, usize),
    /// World records (version 6): `world_count` of them from `worlds_offset`,
    /// `world_record_size` bytes apart.
    world_count: usize,
    world_record_size: usize,
    worlds_offset: usize,
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// A NUL-padded name field: 1..=31 bytes of UTF-8 before the first NUL.
fn name(field: &[u8]) -> Result<&str, VmFieldError> {
    let len = field
        .iter()
        .position(|&b| b == 0)
        .ok_or(VmFieldError::Unterminated)?;
    debug_assert!(len <= NAME_MAX);
    if len == 0 {
        return Err(VmFieldError::Empty);
    }
    core::str::from_utf8(&field[..len]).map_err(|_| VmFieldError::NotUtf8)
}

impl<'a> BootModule<'a> {
    /// Checks the header and that the VM and world record tables lie inside
    /// the module. Records themselves are checked when [`vm`](Self::vm) and
    /// [`world`](Self::world) read them.
    pub fn parse(bytes: &'a [u8]) -> Result<BootModule<'a>, BootModuleError> {
        let available = bytes.len() as u64;
        if bytes.len() < HEADER_SIZE {
            return Err(BootModuleError::Truncated {
                needed: HEADER_SIZE as u64,
                available,
            });
        }
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&bytes[header::MAGIC..header::MAGIC + 8]);
        if magic != MAGIC {
            return Err(BootModuleError::BadMagic { found: magic });
        }
        let version = read_u32(bytes, header::VERSION);
        if version == 0 {
            return Err(BootModuleError::UnsupportedVersion { version });
        }
        let header_size = read_u32(bytes, header::HEADER_SIZE);
        if (header_size as usize) < HEADER_SIZE {
            return Err(BootModuleError::BadHeader {
                field: "header_size",
                value: header_size.into(),
            });
        }
        let total_size = read_u64(bytes, header::TOTAL_SIZE);
        if total_size < u64::from(header_size) {
            return Err(BootModuleError::BadHeader {
                field: "total_size",
                value: total_size,
            });
        }
        if total_size > available {
            return Err(BootModuleError::Truncated {
                needed: total_size,
                available,
            });
        }
        // total_size <= bytes.len(), so it fits in usize.
        let bytes = &bytes[..total_size as usize];

        let vm_count = read_u32(bytes, header::VM_COUNT) as usize;
        let record_size = read_u32(bytes, header::RECORD_SIZE) as usize;
        if record_size < RECORD_SIZE_V1 {
            return Err(BootModuleError::BadHeader {
                field: "record_size",
                value: record_size as u64,
            });
        }
        let records_offset = read_u64(bytes, header::RECORDS_OFFSET);
        let records_len = (vm_count as u64) * (record_size as u64);
        if records_offset < u64::from(header_size)
            || records_offset
                .checked_add(records_len)
                .is_none_or(|end| end > total_size)
        {
            return Err(BootModuleError::RecordsOutOfRange {
                offset: records_offset,
                len: records_len,
                size: total_size,
            });
        }
        let symbols = Self::symbols_range(bytes, version)?;
        // Inside `bytes` (checked above), so it fits in usize.
        let worlds_offset = (records_offset + records_len) as usize;
        let (world_count, world_record_size) = Self::worlds_range(bytes, version, worlds_offset)?;
        Ok(BootModule {
            bytes,
            version,
            vm_count,
            record_size,
            records_offset: records_offset as usize,
            symbols,
            world_count,
            world_record_size,
            worlds_offset,
        })
    }

    /// `(world_count, world_record_size)` from a version >= 6 header, the
    /// table at `offset` checked against `bytes` (already cut to
    /// `total_size`); older headers have no worlds (their words 56..64 are
    /// reserved, whatever they hold).
    fn worlds_range(
        bytes: &[u8],
        version: u32,
        offset: usize,
    ) -> Result<(usize, usize), BootModuleError> {
        if version < VERSION_WORLDS {
            return Ok((0, 0));
        }
        let count = read_u32(bytes, header::WORLD_COUNT);
        let record_size = read_u32(bytes, header::WORLD_RECORD_SIZE);
        if count == 0 {
            return Ok((0, 0));
        }
        if (record_size as usize) < WORLD_RECORD_SIZE_V6 {
            return Err(BootModuleError::BadHeader {
                field: "world_record_size",
                value: record_size.into(),
            });
        }
        // Two u32s: the product fits in u64.
        let len = u64::from(count) * u64::from(record_size);
        let size = bytes.len() as u64;
        if (offset as u64)
            .checked_add(len)
            .is_none_or(|end| end > size)
        {
            return Err(BootModuleError::WorldRecordsOutOfRange {
                offset: offset as u64,
                len,
                size,
            });
        }
        Ok((count as usize, record_size as usize))
    }

    /// The symbol table's `(offset, len)` from a version >= 3 header, checked
    /// against `bytes` (already cut to `total_size`); older headers have none
    /// (their words 40..56 are reserved, whatever they hold).
    fn symbols_range(bytes: &[u8], version: u32) -> Result<(usize, usize), BootModuleError> {
        if version < VERSION_SYMBOLS {
            return Ok((0, 0));
        }
        let offset = read_u64(bytes, header::SYMBOLS_OFFSET);
        let len = read_u64(bytes, header::SYMBOLS_LEN);
        let size = bytes.len() as u64;
        let bad = BootModuleError::SymbolsOutOfRange { offset, len, size };
        if len == 0 {
            return if offset == 0 { Ok((0, 0)) } else { Err(bad) };
        }
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(bad);
        }
        // Inside `bytes` (checked above), so both fit in usize.
        Ok((offset as usize, len as usize))
    }

    /// Aerie's own symbol table (format of the `aerie-symbols` crate), if the
    /// module carries one (version 3 and a non-zero length). Bounds were
    /// checked by [`parse`](Self::parse); the contents are the symbol
    /// parser's to check.
    pub fn symbols(&self) -> Option<&'a [u8]> {
        let (offset, len) = self.symbols;
        if len == 0 {
            return None;
        }
        // `get` rather than indexing: in range by construction, but this must
        // never be a panic path.
        self.bytes.get(offset..offset + len)
    }

    /// Format version the module was written with.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Number of VM records.
    pub fn vm_count(&self) -> usize {
        self.vm_count
    }

    /// The whole module (cut to its `total_size`).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Reads and validates VM record `index`.
    pub fn vm(&self, index: usize) -> Result<VmImage<'a>, BootModuleError> {
        if index >= self.vm_count {
            return Err(BootModuleError::NoSuchVm {
                index,
                count: self.vm_count,
            });
        }
        let start = self.records_offset + index * self.record_size;
        // In range: parse() checked records_offset + vm_count * record_size.
        let rec = &self.bytes[start..start + self.record_size];
        let bad = |field, error| BootModuleError::Vm {
            index,
            field,
            error,
        };

        let name = name(&rec[record::NAME..record::NAME + record::NAME_LEN])
            .map_err(|e| bad(VmField::Name, e))?;

        let vcpus = read_u32(rec, record::VCPUS);
        if vcpus == 0 {
            return Err(bad(VmField::Vcpus, VmFieldError::Empty));
        }
        let memory = read_u64(rec, record::MEMORY);
        if memory == 0 {
            return Err(bad(VmField::Memory, VmFieldError::Empty));
        }

        let kernel = self
            .blob(rec, record::KERNEL, true)
            .map_err(|e| bad(VmField::Kernel, e))?;
        if kernel.is_empty() {
            return Err(bad(VmField::Kernel, VmFieldError::Empty));
        }
        let initrd = self
            .blob(rec, record::INITRD, true)
            .map_err(|e| bad(VmField::Initrd, e))?;
        let initrd = (!initrd.is_empty()).then_some(initrd);
        let cmdline = self
            .blob(rec, record::CMDLINE, false)
            .map_err(|e| bad(VmField::Cmdline, e))?;
        let cmdline = core::str::from_utf8(cmdline)
            .map_err(|_| bad(VmField::Cmdline, VmFieldError::NotUtf8))?;

        let disk = self.disk(rec).map_err(|e| bad(VmField::Disk, e))?;
        let more_disks = self
            .more_disks(rec, disk.is_some())
            .map_err(|e| bad(VmField::Disk, e))?;
        let (backdoor, guestinfo) = self.backdoor(rec).map_err(|(field, e)| bad(field, e))?;
        // Before version 5 the word was written as zero and means nothing.
        let flags = if self.version >= VERSION_FLAGS {
            read_u32(rec, record::FLAGS)
        } else {
            0
        };
        if flags & !FLAGS_KNOWN != 0 {
            return Err(bad(VmField::Flags, VmFieldError::UnknownFlags { flags }));
        }

        Ok(VmImage {
            name,
            vcpus,
            memory,
            kernel,
            initrd,
            cmdline,
            disk,
            backdoor,
            guestinfo,
            fixed_clock: flags & FLAG_FIXED_CLOCK != 0,
            more_disks,
            net: self.net(rec).map_err(|e| bad(VmField::Net, e))?,
        })
    }

    /// The network card of a record: only version >= 7 records that are long
    /// enough carry one (an older tail may hold anything).
    fn net(&self, rec: &[u8]) -> Result<Option<NetCard>, VmFieldError> {
        if self.version < VERSION_NET || rec.len() < RECORD_SIZE_V7 {
            return Ok(None);
        }
        let flags = read_u32(rec, record::NET_FLAGS);
        let mut mac = [0u8; record::MAC_LEN];
        mac.copy_from_slice(&rec[record::MAC..record::MAC + record::MAC_LEN]);
        let network = u16::from_le_bytes([rec[record::NETWORK], rec[record::NETWORK + 1]]);
        let bad = VmFieldError::BadNet {
            flags,
            mac,
            network,
        };
        if flags & !NET_FLAGS_KNOWN != 0 {
            return Err(bad);
        }
        if flags & NET_NIC == 0 {
            return if (flags, mac, network) == (0, [0; 6], 0) {
                Ok(None)
            } else {
                Err(bad)
            };
        }
        if !crate::mac_is_unicast(&mac) {
            return Err(bad);
        }
        Ok(Some(NetCard {
            mac,
            network,
            uplink: flags & NET_NO_UPLINK == 0,
        }))
    }

    /// The backdoor policy and guestinfo blob of a record: only version >= 4
    /// records that are long enough carry them (an older tail may hold
    /// anything). The whole blob is walked here, so a VM handed out has
    /// well-formed guestinfo.
    fn backdoor(&self, rec: &[u8]) -> Result<BackdoorFields<'a>, (VmField, VmFieldError)> {
        if self.version < VERSION_BACKDOOR || rec.len() < RECORD_SIZE_V4 {
            return Ok((None, &[]));
        }
        let policy = BackdoorPolicy::from_record(
            read_u32(rec, record::BACKDOOR_FLAGS),
            read_u32(rec, record::BRK_IMM),
        )
        .map_err(|e| (VmField::Backdoor, e))?;
        let guestinfo = self
            .blob(rec, record::GUESTINFO, false)
            .map_err(|e| (VmField::Guestinfo, e))?;
        if policy.is_none() && !guestinfo.is_empty() {
            return Err((VmField::Guestinfo, VmFieldError::GuestinfoWithoutBackdoor));
        }
        if let Some(Err(e)) = guestinfo_entries(guestinfo).find(Result::is_err) {
            return Err((VmField::Guestinfo, e));
        }
        Ok((policy, guestinfo))
    }

    /// The disk region of a record: only version >= 2 records that are long
    /// enough carry one (a version-1 tail may hold anything).
    fn disk(&self, rec: &[u8]) -> Result<Option<DiskRegion>, VmFieldError> {
        if self.version < VERSION_DISK || rec.len() < RECORD_SIZE_V2 {
            return Ok(None);
        }
        let offset = read_u64(rec, record::DISK_OFFSET);
        let size = read_u64(rec, record::DISK_SIZE);
        if size == 0 {
            return if offset == 0 {
                Ok(None)
            } else {
                Err(VmFieldError::BadDiskRegion { offset, size })
            };
        }
        check_region(offset, size).map(Some)
    }

    /// The further disks' blob of a record: only version >= 7 records that
    /// are long enough carry one. Every entry is checked here, so
    /// [`VmImage::disks`] only meets good regions.
    fn more_disks(&self, rec: &[u8], first: bool) -> Result<&'a [u8], VmFieldError> {
        if self.version < VERSION_NET || rec.len() < RECORD_SIZE_V7 {
            return Ok(&[]);
        }
        let blob = self.blob(rec, record::MORE_DISKS, false)?;
        let bad = VmFieldError::BadDiskTable {
            len: blob.len() as u64,
        };
        if blob.is_empty() {
            return Ok(blob);
        }
        if !first
            || !blob.len().is_multiple_of(DISK_ENTRY)
            || blob.len() / DISK_ENTRY > MORE_DISKS_MAX
        {
            return Err(bad);
        }
        for entry in blob.chunks_exact(DISK_ENTRY) {
            check_region(read_u64(entry, 0), read_u64(entry, 8))?;
        }
        Ok(blob)
    }

    /// Iterates over all VMs in order.
    pub fn vms(&self) -> impl Iterator<Item = Result<VmImage<'a>, BootModuleError>> + '_ {
        (0..self.vm_count).map(move |i| self.vm(i))
    }

    /// Number of EL0 user world records (0 before version 6).
    pub fn world_count(&self) -> usize {
        self.world_count
    }

    /// Reads and validates world record `index` (version 6).
    pub fn world(&self, index: usize) -> Result<WorldImage<'a>, BootModuleError> {
        if index >= self.world_count {
            return Err(BootModuleError::NoSuchWorld {
                index,
                count: self.world_count,
            });
        }
        let bad = |field, error| BootModuleError::World {
            index,
            field,
            error,
        };
        let start = self.worlds_offset + index * self.world_record_size;
        // In range: parse() checked worlds_offset + world_count * world_record_size.
        let rec = &self.bytes[start..start + self.world_record_size];
        let name = name(&rec[world::NAME..world::NAME + world::NAME_LEN])
            .map_err(|e| bad(WorldField::Name, e))?;
        let program = self
            .blob(rec, world::PROGRAM, true)
            .map_err(|e| bad(WorldField::Program, e))?;
        if program.is_empty() {
            return Err(bad(WorldField::Program, VmFieldError::Empty));
        }
        let arg = self
            .blob(rec, world::ARG, false)
            .map_err(|e| bad(WorldField::Arg, e))?;
        let arg =
            core::str::from_utf8(arg).map_err(|_| bad(WorldField::Arg, VmFieldError::NotUtf8))?;
        let flags = read_u32(rec, world::FLAGS);
        if flags & !WORLD_FLAGS_KNOWN != 0 {
            return Err(bad(WorldField::Flags, VmFieldError::UnknownFlags { flags }));
        }
        let vms = read_u32(rec, world::CONTROL_VMS);
        let bad_control = VmFieldError::BadControl { flags, vms };
        let control = match (
            flags & WORLD_FLAG_CONTROL != 0,
            flags & WORLD_FLAG_CONTROL_LISTED != 0,
        ) {
            (false, false) if vms == 0 => Control::None,
            (true, false) if vms == 0 => Control::All,
            (false, true) if u64::from(vms) >> self.vm_count.min(CONTROL_VMS_MAX) == 0 => {
                Control::Listed(vms)
            }
            _ => return Err(bad(WorldField::Flags, bad_control)),
        };
        let ops = if rec.len() >= world::CONTROL_OPS + 4 {
            read_u32(rec, world::CONTROL_OPS)
        } else {
            0
        };
        let listed = flags & WORLD_FLAG_OPS_LISTED != 0;
        let operations = match (listed, ops) {
            (false, 0) => Operations::ALL,
            (true, ops)
                if control != Control::None
                    && rec.len() >= world::CONTROL_OPS + 4
                    && ops & !Operations::ALL.0 == 0 =>
            {
                Operations(ops)
            }
            _ => {
                return Err(bad(
                    WorldField::Flags,
                    VmFieldError::BadOperations { flags, ops },
                ))
            }
        };
        Ok(WorldImage {
            name,
            program,
            arg,
            control,
            operations,
        })
    }

    /// Iterates over all worlds in order.
    pub fn worlds(&self) -> impl Iterator<Item = Result<WorldImage<'a>, BootModuleError>> + '_ {
        (0..self.world_count).map(move |i| self.world(i))
    }

    /// The blob whose (offset, len) pair sits at `at` in `rec`. A zero length is
    /// an empty slice whatever the offset. Images (and world programs) must be page
    /// aligned because the hypervisor copies them page by page; text need not be.
    fn blob(&self, rec: &[u8], at: usize, aligned: bool) -> Result<&'a [u8], VmFieldError> {
        let offset = read_u64(rec, at);
        let len = read_u64(rec, at + 8);
        if len == 0 {
            return Ok(&[]);
        }
        let size = self.bytes.len() as u64;
        let end = offset.checked_add(len);
        if end.is_none_or(|end| end > size) {
            return Err(VmFieldError::OutOfRange { offset, len, size });
        }
        if aligned && !offset.is_multiple_of(BLOB_ALIGN) {
            return Err(VmFieldError::Misaligned { offset });
        }
        // In range (checked above), so both fit in usize.
        Ok(&self.bytes[offset as usize..(offset + len) as usize])
    }
}
