//! Where the loader learns the machine: the firmware's device tree, or,
//! when the firmware gives ACPI tables instead (servers, and QEMU's
//! firmware unless told `acpi=off`), a tree written from those tables
//! (`aerie-acpi`, `aerie_dt::host_tree`). Aerie reads the machine from a
//! tree either way.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use aerie_dt::Region;
use uefi::boot::{self, MemoryType};
use uefi::mem::memory_map::MemoryMap;
use uefi::{Guid, Status, guid, println};

use crate::{PAGE, fail};

/// Configuration table GUIDs (UEFI 2.10 section 4.6): the flattened device
/// tree, and the ACPI 2.0+ and 1.0 RSDPs.
const DEVICE_TREE: Guid = guid!("b1b621d5-f19c-41a5-830b-d9152c69aae0");
const ACPI_20: Guid = guid!("8868e871-e4f1-11d3-bc22-0080c73c8881");
const ACPI_10: Guid = guid!("eb9d2d30-2d88-11d3-9a16-0090273fc14d");

/// The machine's device tree: the firmware's, or one written from its ACPI
/// tables (the loader then says what it found, and what it left out).
pub fn device_tree() -> Result<Cow<'static, [u8]>, Status> {
    if let Some(tree) = firmware_device_tree() {
        return Ok(Cow::Borrowed(tree));
    }
    let rsdp = config_table(ACPI_20)
        .or_else(|| config_table(ACPI_10))
        .ok_or_else(|| {
            fail(
                Status::NOT_FOUND,
                "the firmware gives neither a device tree nor ACPI tables",
            )
        })?;
    let memory = FirmwareMemory::new()?;
    let machine = aerie_acpi::machine(&memory, rsdp).map_err(|e| {
        fail(
            Status::LOAD_ERROR,
            format_args!("the firmware's ACPI tables: {e}"),
        )
    })?;
    let info = &machine.info;
    println!(
        "aerie-loader: the machine from ACPI ({}): {} CPUs, {} distributor at {:#x}, console {}, {} virtio-mmio transports{}",
        machine.oem,
        info.cpus.len(),
        if info.gic_v2.is_some() {
            "GICv2"
        } else {
            "GICv3"
        },
        info.gic
            .as_ref()
            .map(|g| g.dist.base)
            .or(info.gic_v2.as_ref().map(|g| g.dist.base))
            .unwrap_or(0),
        match info.uart {
            Some(u) => alloc::format!("{} at {:#x}", info.uart_kind.name(), u.base),
            None => "none".into(),
        },
        info.virtio_mmio.len(),
        match info.ged_button {
            Some(g) => alloc::format!(
                ", power button: QEMU's Generic Event Device at {:#x}",
                g.region.base
            ),
            None => alloc::string::String::new(),
        },
    );
    for note in &machine.notes {
        println!("aerie-loader: note: {note}");
    }
    aerie_dt::host_tree(info).map(Cow::Owned).map_err(|e| {
        fail(
            Status::LOAD_ERROR,
            format_args!("the tree written from ACPI: {e}"),
        )
    })
}

fn config_table(guid: Guid) -> Option<u64> {
    uefi::system::with_config_table(|tables| {
        tables
            .iter()
            .find(|t| t.guid == guid)
            .map(|t| t.address as u64)
    })
}

/// The firmware's device tree, if it installed one.
fn firmware_device_tree() -> Option<&'static [u8]> {
    let address = config_table(DEVICE_TREE)? as usize;
    // SAFETY: the firmware's device tree table stays in place while boot
    // services run; its header comes first.
    let header = unsafe { core::slice::from_raw_parts(address as *const u8, 8) };
    let size = aerie_dt::total_size(header)?;
    // SAFETY: as above, for the totalsize the header gives.
    Some(unsafe { core::slice::from_raw_parts(address as *const u8, size) })
}

/// Memory the firmware's memory map describes, read in place (UEFI maps it
/// 1:1), device (MMIO) ranges left out and adjacent ranges merged. A table
/// address outside it is refused rather than read, so a corrupt pointer
/// gives an error naming the table, not a fault or a device access.
struct FirmwareMemory {
    ranges: Vec<Region>,
}

impl FirmwareMemory {
    fn new() -> Result<Self, Status> {
        let map = boot::memory_map(MemoryType::LOADER_DATA)
            .map_err(|e| fail(e.status(), "cannot read the firmware's memory map"))?;
        let ranges = map
            .entries()
            .filter(|d| !matches!(d.ty, MemoryType::MMIO | MemoryType::MMIO_PORT_SPACE))
            .filter_map(|d| Some(Region::new(d.phys_start, d.page_count.checked_mul(PAGE)?)))
            .collect();
        Ok(Self {
            ranges: aerie_loader::memmap::merged(ranges),
        })
    }
}

impl aerie_acpi::Memory for FirmwareMemory {
    fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
        let end = address.checked_add(len as u64)?;
        let inside = |r: &Region| address >= r.base && r.end().is_some_and(|e| end <= e);
        if address == 0 || !self.ranges.iter().any(inside) {
            return None;
        }
        // SAFETY: the range lies in one descriptor of the firmware's memory
        // map, which UEFI maps 1:1 while boot services run, and the tables
        // there stay put until they end; nothing here writes to it.
        Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) })
    }
}
