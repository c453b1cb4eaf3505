//! The machine as a firmware's ACPI tables describe it, turned into the
//! [`HostInfo`] Aerie otherwise reads from a device tree. Servers' UEFI
//! firmware (and QEMU's, unless told `acpi=off`) gives ACPI tables and no
//! device tree; Aerie's loader reads them with this crate and writes the
//! tree Aerie boots with ([`aerie_dt::host_tree`]), so Aerie keeps one way
//! of learning its machine.
//!
//! Read: the MADT (CPUs, GICv3), the FADT (PSCI and its conduit; the
//! DSDT), the GTDT (timer interrupts), the SPCR (the console: a PL011 or an
//! SBSA generic UART) and the fixed devices the DSDT and SSDTs declare
//! (virtio-mmio transports; the UART when there is no SPCR; on QEMU, the
//! power button: its Generic Event Device). RAM is not read here: the UEFI
//! memory map is what the firmware vouches for. Everything is bounds-checked and checksummed; a table that
//! does not hold together is an error naming it.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod aml;
mod error;
mod fadt;
mod gtdt;
mod madt;
mod sdt;
mod spcr;
#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use aerie_dt::{primecell_region, GedButton, HostInfo, HostVirtio, UartKind, SPI_INTIDS};

pub use aml::{devices, Device};
pub use error::{AcpiError, Signature};
pub use sdt::Memory;

/// ACPI `_HID`s of the devices Aerie uses (Linux's ACPI match tables list
/// the same).
pub const HID_VIRTIO_MMIO: &str = "LNRO0005";
pub const HID_PL011: &str = "ARMH0011";
pub const HID_SBSA_UART: &str = "ARMHB000";
/// The Generic Event Device (ACPI 6.5 section 5.6.9), and the power button
/// whose presses its events stand for on QEMU.
pub const HID_GED: &str = "ACPI0013";
pub const HID_POWER_BUTTON: &str = "PNP0C0C";

/// The bit of QEMU's GED event selector that means "power down"
/// (`ACPI_GED_PWR_DOWN_EVT` in QEMU's include/hw/acpi/generic_event_device.h;
/// its `_EVT` then notifies PWRB).
const QEMU_GED_POWER_DOWN: u32 = 0x2;
/// The bytes of the GED's event selector: one 32-bit register.
const GED_SELECTOR_SIZE: u64 = 4;

/// QEMU's tables' OEM ID and table ID: the machine QEMU's own device tree
/// calls `linux,dummy-virt`, the model Aerie knows QEMU by (it then ends a
/// run with a semihosting exit status rather than a plain power-off).
const QEMU_OEM: (&str, &str) = ("BOCHS", "BXPC");
const QEMU_MODEL: &str = "linux,dummy-virt";

/// What the tables describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Everything but RAM, which the caller adds.
    pub info: HostInfo,
    /// The FADT's OEM ID and table ID ("BOCHS BXPC").
    pub oem: String,
    /// What was left out and why (each a short sentence), for the loader to
    /// print: a console that is not a PL011, a timer a tree cannot describe.
    pub notes: Vec<String>,
}

/// `intid` if it is an SPI a device tree can name ([`SPI_INTIDS`]); an
/// extended SPI (GICv3.1) or anything else is left out with a note, and the
/// device is used without its interrupt.
fn spi(intid: Option<u32>, notes: &mut Vec<String>) -> Option<u32> {
    match intid {
        Some(i) if !SPI_INTIDS.contains(&i) => {
            notes.push(format!("interrupt {i} is not an SPI: left out"));
            None
        }
        _ => intid,
    }
}

/// The power button of QEMU's ACPI machine: its Generic Event Device, the
/// first `ACPI0013` with an SPI and a SystemMemory region of at least the
/// selector's 4 bytes, where a `PNP0C0C` button is declared too. What a
/// GED's events mean is AML (`_EVT`), which Aerie does not run; it knows
/// only QEMU's (`qemu`: the tables are QEMU's own), and on other firmware
/// leaves the button out with a note.
fn ged_button(devices: &[Device], qemu: bool, notes: &mut Vec<String>) -> Option<GedButton> {
    let mut geds = devices.iter().filter(|d| d.hid == HID_GED).peekable();
    geds.peek()?;
    if !qemu {
        notes.push(format!(
            "a Generic Event Device ({HID_GED}): its events are AML (_EVT), which Aerie does not run: the power button is not read"
        ));
        return None;
    }
    let button = devices.iter().any(|d| d.hid == HID_POWER_BUTTON);
    let found = geds.find_map(|d| {
        let region = d
            .regions
            .iter()
            .find(|r| r.size >= GED_SELECTOR_SIZE && r.end().is_some())?;
        let intid = spi(Some(*d.interrupts.first()?), notes)?;
        Some(GedButton {
            region: *region,
            intid,
            power_down: QEMU_GED_POWER_DOWN,
        })
    });
    match found {
        Some(ged) if button => Some(ged),
        _ => {
            notes.push(format!(
                "QEMU's Generic Event Device ({HID_GED}) is not as Aerie knows it (an SPI, a 4-byte SystemMemory selector, a {HID_POWER_BUTTON} power button): the power button is not read"
            ));
            None
        }
    }
}

/// Reads the tables the RSDP at `rsdp` leads to.
pub fn machine(memory: &dyn Memory, rsdp: u64) -> Result<Machine, AcpiError> {
    let tables = sdt::table_addresses(memory, rsdp)?;
    let find = |sig: &Signature, what| sdt::find(memory, &tables, *sig, what);
    let madt = find(b"APIC", "MADT")?.ok_or(AcpiError::Missing(
        "MADT (APIC), which lists the CPUs and the GIC",
    ))?;
    let fadt = find(b"FACP", "FADT")?.ok_or(AcpiError::Missing("FADT (FACP)"))?;
    let (oem_id, oem_table) = fadt.oem();
    let fadt = fadt::parse(&fadt)?;
    let madt = madt::parse(&madt)?;
    let mut notes = Vec::new();
    // A table Aerie can boot without that does not hold together is left
    // out with a note, as Linux warns and goes on.
    let mut optional = |sig: &Signature, what| match find(sig, what) {
        Ok(table) => table,
        Err(e) => {
            notes.push(format!("{e}: left out"));
            None
        }
    };
    let gtdt = optional(b"GTDT", "GTDT");
    let spcr = optional(b"SPCR", "SPCR");

    let timer = match gtdt {
        Some(t) => gtdt::parse(&t).unwrap_or_else(|e| {
            notes.push(format!("{e}: left out"));
            None
        }),
        None => None,
    };
    if timer.is_none() {
        notes.push("no timer node: the GTDT gives no PPI for every timer".to_string());
    }

    let mut dsdt_devices = match fadt.dsdt {
        Some(address) => {
            let dsdt = sdt::Table::read(memory, address, "DSDT")?;
            devices(dsdt.body())
        }
        None => {
            notes.push("the FADT points to no DSDT".to_string());
            Vec::new()
        }
    };
    // Devices may be declared in SSDTs too (servers' firmware does).
    match sdt::find_all(memory, &tables, *b"SSDT", "SSDT") {
        Ok(ssdts) => {
            for t in ssdts {
                dsdt_devices.extend(devices(t.body()));
            }
        }
        Err(e) => notes.push(format!("{e}: left out")),
    }
    let mut virtio_mmio = Vec::new();
    for d in dsdt_devices.iter().filter(|d| d.hid == HID_VIRTIO_MMIO) {
        match d.memory.first() {
            Some(region) => virtio_mmio.push(HostVirtio {
                region: *region,
                intid: spi(d.interrupts.first().copied(), &mut notes),
            }),
            None => notes.push(format!("a {HID_VIRTIO_MMIO} device without a memory range")),
        }
    }

    let ged_button = ged_button(&dsdt_devices, (oem_id, oem_table) == QEMU_OEM, &mut notes);

    let console = match spcr {
        Some(t) => spcr::parse(&t)
            .map_err(|why| notes.push(why.to_string()))
            .ok(),
        None => None,
    };
    // Without a usable SPCR, the first PL011 or SBSA UART the DSDT declares.
    let console = console.or_else(|| {
        dsdt_devices
            .iter()
            .find(|d| d.hid == HID_PL011 || d.hid == HID_SBSA_UART)
            .and_then(|d| {
                Some((
                    primecell_region(d.memory.first()?.base),
                    d.interrupts.first().copied(),
                    d.hid == HID_SBSA_UART,
                ))
            })
    });
    if console.is_none() {
        notes.push("no PL011 or SBSA UART console: Aerie will be silent".to_string());
    }
    let console = console.map(|(r, intid, sbsa)| (r, spi(intid, &mut notes), sbsa));
    if fadt.psci_method.is_none() {
        notes.push(
            "the FADT says PSCI is not implemented: Aerie runs on the boot CPU alone".to_string(),
        );
    }

    let cpus = madt
        .cpus
        .into_iter()
        .map(|mut c| {
            c.enable_method = fadt.psci_method.map(|_| "psci".to_string());
            c
        })
        .collect();
    Ok(Machine {
        info: HostInfo {
            cpus,
            gic: match &madt.gic {
                madt::MadtGic::V3(g) => Some(g.clone()),
                madt::MadtGic::V2(_) => None,
            },
            gic_v2: match madt.gic {
                madt::MadtGic::V2(g) => Some(g),
                madt::MadtGic::V3(_) => None,
            },
            timer,
            uart: console.map(|(r, _, _)| r),
            uart_intid: console.and_then(|(_, i, _)| i),
            uart_kind: match console {
                Some((_, _, true)) => UartKind::Sbsa,
                _ => UartKind::Pl011,
            },
            model: ((oem_id, oem_table) == QEMU_OEM).then(|| QEMU_MODEL.to_string()),
            psci_method: fadt.psci_method.map(ToString::to_string),
            virtio_mmio,
            ged_button,
            ..HostInfo::default()
        },
        oem: format!("{oem_id} {oem_table}").trim().to_string(),
        notes,
    })
}
