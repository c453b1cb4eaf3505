//! The power button of QEMU's ACPI machine: its Generic Event Device. No
//! device-tree binding describes a GED (it is ACPI only), so a tree Aerie's
//! loader writes from ACPI tables carries it in a node of Aerie's own:
//!
//! ```text
//! ged@9080000 {
//!     compatible = "aerie,qemu-ged";
//!     reg = <0x0 0x9080000 0x0 0x4>;
//!     interrupts = <GIC_SPI 9 IRQ_TYPE_EDGE_RISING>;
//!     aerie,power-down-event = <0x2>;
//! };
//! ```

use alloc::format;

use crate::binding::{GIC_SPI, IRQ_TYPE_EDGE_RISING, SPI_INTIDS};
use crate::error::{DtError, Step};
use crate::fdt::cells::{prop_u32, reg};
use crate::fdt::tree::Tree;
use crate::host::{enabled_compatible, first_gic_intid};
use crate::region::Region;
use vm_fdt::FdtWriter;

/// The machine's power button as QEMU's ACPI tables give it: the Generic Event Device (`ACPI0013`), whose 32-bit event selector at `region` says which events its edge-triggered interrupt stood for, and clears when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GedButton {
    pub region: Region,
    /// Its interrupt as a GIC INTID (an SPI).
    pub intid: u32,
    /// The selector bit(s) that mean "power down" (QEMU: 0x2).
    pub power_down: u32,
}

/// The node's compatible string: Aerie's own, for a tree Aerie writes.
const QEMU_GED: &str = "aerie,qemu-ged";
/// The selector bit(s) that mean "power down".
const POWER_DOWN_EVENT: &str = "aerie,power-down-event";

/// The first enabled `aerie,qemu-ged` node, in tree order, with registers,
/// a GIC SPI and the power-down event: one without any of them is none
/// Aerie can watch, so the next is taken.
pub(crate) fn host_ged_button(tree: &Tree<'_>) -> Result<Option<GedButton>, DtError> {
    let geds = enabled_compatible(tree, &[QEMU_GED]);
    for node in geds {
        let region = reg(&node)?.first().copied();
        let intid = first_gic_intid(&node)?.filter(|i| SPI_INTIDS.contains(i));
        let power_down = prop_u32(&node, POWER_DOWN_EVENT)?;
        if let (Some(region), Some(intid), Some(power_down)) = (region, intid, power_down) {
            return Ok(Some(GedButton {
                region,
                intid,
                power_down,
            }));
        }
    }
    Ok(None)
}

/// Writes `ged` as the node [`host_ged_button`] reads, its interrupt
/// (`spi`, an SPI number) edge-triggered as QEMU pulses it.
pub(crate) fn write(
    w: &mut FdtWriter,
    ged: GedButton,
    reg: &[u64],
    spi: u32,
) -> Result<(), DtError> {
    let node = w
        .begin_node(&format!("ged@{:x}", ged.region.base))
        .step("ged")?;
    w.property_string("compatible", QEMU_GED).step("ged")?;
    w.property_array_u64("reg", reg).step("ged")?;
    w.property_array_u32("interrupts", &[GIC_SPI, spi, IRQ_TYPE_EDGE_RISING])
        .step("ged")?;
    w.property_u32(POWER_DOWN_EVENT, ged.power_down)
        .step("ged")?;
    w.end_node(node).step("ged")
}
