//! Boot module writer (host side).

use crate::format::{
    header, record, world, BLOB_ALIGN, CONTROL_VMS_MAX, FLAG_FIXED_CLOCK, HEADER_SIZE, MAGIC,
    NAME_MAX, NET_NIC, NET_NO_UPLINK, RECORD_SIZE_V7, VERSION, WORLD_FLAG_CONTROL,
    WORLD_FLAG_CONTROL_LISTED, WORLD_FLAG_OPS_LISTED, WORLD_RECORD_SIZE,
};
use crate::{guestinfo_entries, Control, Operations, VmImage, WorldImage};

fn align_up(x: usize) -> usize {
    let a = BLOB_ALIGN as usize;
    x.div_ceil(a) * a
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Appends `data` at the next 4 KiB boundary and returns its (offset, len);
/// empty data is recorded as (0, 0).
fn push_blob(out: &mut Vec<u8>, data: &[u8]) -> (u64, u64) {
    if data.is_empty() {
        return (0, 0);
    }
    let offset = align_up(out.len());
    out.resize(offset, 0);
    out.extend_from_slice(data);
    (offset as u64, data.len() as u64)
}

/// Serialises `vms`, the EL0 user `worlds` and Aerie's symbol table into a boot
/// module (version [`VERSION`], VM records of [`RECORD_SIZE_V7`] bytes, then
/// world records of [`WORLD_RECORD_SIZE`] bytes). Every blob, including each
/// command line and arg, starts on a 4 KiB boundary: the VMs' blobs, then the
/// worlds', then the symbol table. A VM without a disk gets `disk_offset =
/// disk_size = 0`; one without a backdoor `backdoor_flags = brk_imm = 0`; empty
/// guestinfo or an empty arg gets offset and length 0; `None` or empty symbols
/// get `symbols_offset = symbols_len = 0`. A world's `flags` carry its
/// rights ([`WORLD_FLAG_CONTROL`] for `control`); its reserved word is zero.
/// `world_record_size` is written as 76 even when there are no worlds.
///
/// # Panics
///
/// If a VM or world name is empty or longer than 31 bytes, a world's program
/// is empty, or a VM has guestinfo that is malformed or has no backdoor
/// (callers validate first; the VM config loader does, and
/// [`encode_guestinfo`](crate::encode_guestinfo) builds the blob).
pub fn write(vms: &[VmImage], worlds: &[WorldImage], symbols: Option<&[u8]>) -> Vec<u8> {
    let records_offset = HEADER_SIZE;
    let worlds_offset = records_offset + vms.len() * RECORD_SIZE_V7;
    let mut out = vec![0u8; worlds_offset + worlds.len() * WORLD_RECORD_SIZE];
    out[header::MAGIC..header::MAGIC + 8].copy_from_slice(&MAGIC);
    put_u32(&mut out, header::VERSION, VERSION);
    put_u32(&mut out, header::HEADER_SIZE, HEADER_SIZE as u32);
    put_u32(&mut out, header::VM_COUNT, vms.len() as u32);
    put_u32(&mut out, header::RECORD_SIZE, RECORD_SIZE_V7 as u32);
    put_u64(&mut out, header::RECORDS_OFFSET, records_offset as u64);
    put_u32(&mut out, header::WORLD_COUNT, worlds.len() as u32);
    put_u32(
        &mut out,
        header::WORLD_RECORD_SIZE,
        WORLD_RECORD_SIZE as u32,
    );

    for (i, vm) in vms.iter().enumerate() {
        assert!(
            !vm.name.is_empty() && vm.name.len() <= NAME_MAX,
            "vm[{i}]: name {:?} must be 1..={NAME_MAX} bytes",
            vm.name
        );
        assert!(
            vm.guestinfo.is_empty() || vm.backdoor.is_some(),
            "vm[{i}] ({:?}): guestinfo without a backdoor",
            vm.name
        );
        if let Some(Err(e)) = guestinfo_entries(vm.guestinfo).find(Result::is_err) {
            panic!("vm[{i}] ({:?}): malformed guestinfo blob: {e}", vm.name);
        }
        let kernel = push_blob(&mut out, vm.kernel);
        let initrd = push_blob(&mut out, vm.initrd.unwrap_or(&[]));
        let cmdline = push_blob(&mut out, vm.cmdline.as_bytes());
        let guestinfo = push_blob(&mut out, vm.guestinfo);
        assert!(
            vm.more_disks.is_empty() || vm.disk.is_some(),
            "vm[{i}] ({:?}): further disks without a first",
            vm.name
        );
        let more_disks = push_blob(&mut out, vm.more_disks);

        let rec = records_offset + i * RECORD_SIZE_V7;
        let rec = &mut out[rec..rec + RECORD_SIZE_V7];
        rec[record::NAME..record::NAME + vm.name.len()].copy_from_slice(vm.name.as_bytes());
        put_u32(rec, record::VCPUS, vm.vcpus);
        if vm.fixed_clock {
            put_u32(rec, record::FLAGS, FLAG_FIXED_CLOCK);
        }
        put_u64(rec, record::MEMORY, vm.memory);
        if let Some(card) = vm.net {
            assert!(
                crate::mac_is_unicast(&card.mac),
                "vm[{i}] ({:?}): card address {} is zero or multicast",
                vm.name,
                crate::mac_text(&card.mac)
            );
            let uplink = if card.uplink { 0 } else { NET_NO_UPLINK };
            put_u32(rec, record::NET_FLAGS, NET_NIC | uplink);
            rec[record::MAC..record::MAC + record::MAC_LEN].copy_from_slice(&card.mac);
            rec[record::NETWORK..record::NETWORK + 2].copy_from_slice(&card.network.to_le_bytes());
        }
        if let Some(policy) = vm.backdoor {
            put_u32(rec, record::BACKDOOR_FLAGS, policy.flags());
            put_u32(rec, record::BRK_IMM, policy.brk_imm.map_or(0, u32::from));
        }
        let disk = vm.disk.map_or((0, 0), |d| (d.offset, d.size));
        for (at, (offset, len)) in [
            (record::KERNEL, kernel),
            (record::INITRD, initrd),
            (record::CMDLINE, cmdline),
            (record::DISK_OFFSET, disk),
            (record::GUESTINFO, guestinfo),
            (record::MORE_DISKS, more_disks),
        ] {
            put_u64(rec, at, offset);
            put_u64(rec, at + 8, len);
        }
    }
    for (i, w) in worlds.iter().enumerate() {
        assert!(
            !w.name.is_empty() && w.name.len() <= NAME_MAX,
            "world[{i}]: name {:?} must be 1..={NAME_MAX} bytes",
            w.name
        );
        assert!(
            !w.program.is_empty(),
            "world[{i}] ({:?}): empty program",
            w.name
        );
        if let Control::Listed(listed) = w.control {
            assert!(
                u64::from(listed) >> vms.len().min(CONTROL_VMS_MAX) == 0,
                "world[{i}] ({:?}): control lists a VM the module does not have",
                w.name
            );
        }
        let program = push_blob(&mut out, w.program);
        let arg = push_blob(&mut out, w.arg.as_bytes());

        let rec = worlds_offset + i * WORLD_RECORD_SIZE;
        let rec = &mut out[rec..rec + WORLD_RECORD_SIZE];
        rec[world::NAME..world::NAME + w.name.len()].copy_from_slice(w.name.as_bytes());
        for (at, (offset, len)) in [(world::PROGRAM, program), (world::ARG, arg)] {
            put_u64(rec, at, offset);
            put_u64(rec, at + 8, len);
        }
        let mut flags = match w.control {
            Control::None => 0,
            Control::All => WORLD_FLAG_CONTROL,
            Control::Listed(vms) => {
                put_u32(rec, world::CONTROL_VMS, vms);
                WORLD_FLAG_CONTROL_LISTED
            }
        };
        if w.operations != Operations::ALL {
            assert!(
                w.control != Control::None && w.operations.0 & !Operations::ALL.0 == 0,
                "world[{i}] ({:?}): operations {:#x} without control, or unknown",
                w.name,
                w.operations.0
            );
            flags |= WORLD_FLAG_OPS_LISTED;
            put_u32(rec, world::CONTROL_OPS, w.operations.0);
        }
        put_u32(rec, world::FLAGS, flags);
    }
    let (offset, len) = push_blob(&mut out, symbols.unwrap_or(&[]));
    put_u64(&mut out, header::SYMBOLS_OFFSET, offset);
    put_u64(&mut out, header::SYMBOLS_LEN, len);
    let total = out.len() as u64;
    put_u64(&mut out, header::TOTAL_SIZE, total);
    out
}

/// The `more_disks` blob for a VM's disks after its first (see
/// [`format`](crate::format)).
///
/// # Panics
///
/// With more than [`MORE_DISKS_MAX`](crate::format::MORE_DISKS_MAX) disks
/// (callers validate first; the VM config loader does).
pub fn encode_disks(more: &[crate::DiskRegion]) -> Vec<u8> {
    assert!(
        more.len() <= crate::format::MORE_DISKS_MAX,
        "{} further disks, more than {}",
        more.len(),
        crate::format::MORE_DISKS_MAX
    );
    more.iter()
        .flat_map(|d| {
            d.offset
                .to_le_bytes()
                .into_iter()
                .chain(d.size.to_le_bytes())
        })
        .collect()
}
