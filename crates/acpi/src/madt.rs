//! The MADT ("APIC", ACPI 6.5 section 5.2.12): the CPUs (one GICC
//! structure each, with its MPIDR) and the GICv3 frames (GICD, and GICR
//! structures or each GICC's redistributor address).

use alloc::vec::Vec;

use aerie_dt::{Cpu, GicV3, Region};

use crate::error::AcpiError;
use crate::sdt::{Table, HEADER_LEN};

/// Interrupt controller structure types (Table 5.21).
const GICC: u8 = 0x0B;
const GICD: u8 = 0x0C;
const GICR: u8 = 0x0E;
/// The structures start after the header, the local interrupt controller
/// address and the flags.
const FIRST_STRUCTURE: usize = HEADER_LEN + 8;
/// GICC flags: Enabled (bit 0).
const GICC_ENABLED: u32 = 1;
/// A GICv3 distributor's frame, and one redistributor's two frames
/// (RD_base and SGI_base), or four with GICv4's VLPI frames.
const GICD_SIZE: u64 = 0x1_0000;
const GICR_V3_SIZE: u64 = 0x2_0000;
const GICR_V4_SIZE: u64 = 0x4_0000;

/// What the MADT says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Madt {
    /// Enabled CPUs, by MPIDR (enable method not yet known: see the FADT).
    pub cpus: Vec<Cpu>,
    pub gic: GicV3,
}

pub fn parse(table: &Table<'_>) -> Result<Madt, AcpiError> {
    let unsupported = |what| AcpiError::Unsupported {
        table: table.signature,
        what,
    };
    let mut cpus = Vec::new();
    let mut gicc_redist = Vec::new();
    let mut dist = None;
    let mut version = 0;
    let mut redist = Vec::new();
    let mut offset = FIRST_STRUCTURE;
    while offset < table.len() {
        let kind = table.u8(offset)?;
        let len = usize::from(table.u8(offset + 1)?);
        if len < 2 {
            return Err(unsupported(
                "an interrupt controller structure shorter than 2 bytes",
            ));
        }
        table.require(offset + len)?;
        match kind {
            GICC => {
                let flags = table.u32(offset + 12)?;
                let redist_base = table.u64(offset + 60)?;
                let mpidr = table.u64(offset + 68)?;
                if flags & GICC_ENABLED != 0 {
                    cpus.push(Cpu {
                        mpidr,
                        enable_method: None,
                    });
                    if redist_base != 0 {
                        gicc_redist.push(redist_base);
                    }
                }
            }
            GICD => {
                if dist.is_some() {
                    return Err(unsupported("more than one GIC distributor"));
                }
                dist = Some(table.u64(offset + 8)?);
                version = table.u8(offset + 20)?;
            }
            GICR => {
                let base = table.u64(offset + 4)?;
                let length = table.u32(offset + 12)?;
                redist.push(Region::new(base, u64::from(length)));
            }
            _ => {}
        }
        offset += len;
    }
    let dist = dist.ok_or(unsupported("no GIC distributor (GICD structure)"))?;
    // 0: the MADT does not say; Aerie finds out from the GIC itself.
    if !matches!(version, 0 | 3 | 4) {
        return Err(unsupported(
            "the GIC is not a GICv3 or GICv4, which Aerie needs",
        ));
    }
    if cpus.is_empty() {
        return Err(unsupported("no enabled CPU (GICC structure)"));
    }
    if redist.is_empty() {
        let size = if version == 4 {
            GICR_V4_SIZE
        } else {
            GICR_V3_SIZE
        };
        redist = merged(gicc_redist, size);
    }
    if redist.is_empty() {
        return Err(unsupported(
            "no GIC redistributor (GICR structure or GICC address)",
        ));
    }
    Ok(Madt {
        cpus,
        gic: GicV3 {
            dist: Region::new(dist, GICD_SIZE),
            redist,
        },
    })
}

/// Redistributors of `size` bytes at `bases`, as the fewest regions: each
/// run of adjacent ones is one region.
fn merged(mut bases: Vec<u64>, size: u64) -> Vec<Region> {
    bases.sort_unstable();
    bases.dedup();
    let mut out: Vec<Region> = Vec::new();
    for base in bases {
        match out.last_mut() {
            Some(last) if last.base + last.size == base => last.size += size,
            _ => out.push(Region::new(base, size)),
        }
    }
    out
}
