//! The MADT ("APIC", ACPI 6.5 section 5.2.12): the CPUs (one GICC
//! structure each, with its MPIDR) and the GIC's frames: a GICv3's (GICD,
//! and GICR structures or each GICC's redistributor address), or a GICv2's
//! (GICD, and the CPU interface, GICH and GICV addresses every GICC
//! structure repeats, with the maintenance interrupt).

use alloc::vec::Vec;

use aerie_dt::{Cpu, GicV2, GicV3, Region};

use crate::error::AcpiError;
use crate::sdt::{Table, HEADER_LEN};

/// Interrupt controller structure types (Table 5.21).
const GICC: u8 = 0x0B;
const GICD: u8 = 0x0C;
const GICR: u8 = 0x0E;
/// The structures start after the header, the local interrupt controller
/// address and the flags.
const FIRST_STRUCTURE: usize = HEADER_LEN + 8;
/// The shortest GICC, GICD and GICR structures with the fields read here
/// (the MPIDR ends at 76; the GIC version is byte 20).
const GICC_MIN_LEN: usize = 76;
const GICD_MIN_LEN: usize = 21;
const GICR_MIN_LEN: usize = 16;
/// GICC flags: Enabled (bit 0).
const GICC_ENABLED: u32 = 1;
/// A GICv3 distributor's frame, and one redistributor's two frames
/// (RD_base and SGI_base), or four with GICv4's VLPI frames.
const GICD_SIZE: u64 = 0x1_0000;
const GICR_V3_SIZE: u64 = 0x2_0000;
const GICR_V4_SIZE: u64 = 0x4_0000;
/// A GICv2's frames: the distributor, the CPU interface (GICC_DIR at
/// 0x1000), GICH and GICV.
const GICD_V2_SIZE: u64 = 0x1000;
const GICC_V2_SIZE: u64 = 0x2000;
const GICH_SIZE: u64 = 0x1000;
const GICV_SIZE: u64 = 0x2000;

/// The GIC the MADT describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MadtGic {
    V3(GicV3),
    V2(GicV2),
}

/// What the MADT says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Madt {
    /// Enabled CPUs, by MPIDR (enable method not yet known: see the FADT).
    pub cpus: Vec<Cpu>,
    pub gic: MadtGic,
}

/// The GICv2 frames a GICC structure gives (banked: every CPU's are the
/// same addresses).
#[derive(Clone, Copy)]
struct GiccV2 {
    cpu: u64,
    vcpu: u64,
    hyp: u64,
    maintenance: u32,
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
    let mut v2_frames = None;
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
        // Each structure must hold the fields read from it (ACPI 5.0's
        // GICC, 40 bytes, has no MPIDR).
        let needed = match kind {
            GICC => GICC_MIN_LEN,
            GICD => GICD_MIN_LEN,
            GICR => GICR_MIN_LEN,
            _ => 0,
        };
        if len < needed {
            return Err(unsupported("a GIC structure too short for its fields"));
        }
        match kind {
            GICC => {
                let flags = table.u32(offset + 12)?;
                let redist_base = table.u64(offset + 60)?;
                let mpidr = table.u64(offset + 68)?;
                if flags & GICC_ENABLED != 0 {
                    cpus.push(Cpu {
                        mpidr,
                        enable_method: None,
                        release_addr: None,
                    });
                    if redist_base != 0 {
                        gicc_redist.push(redist_base);
                    }
                    v2_frames.get_or_insert(GiccV2 {
                        cpu: table.u64(offset + 32)?,
                        vcpu: table.u64(offset + 40)?,
                        hyp: table.u64(offset + 48)?,
                        maintenance: table.u32(offset + 56)?,
                    });
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
    if cpus.is_empty() {
        return Err(unsupported("no enabled CPU (GICC structure)"));
    }
    // 0: the MADT does not say: a GIC with no redistributor anywhere and a
    // CPU interface address is a GICv2.
    let v2 = match version {
        2 => true,
        0 => redist.is_empty() && gicc_redist.is_empty() && v2_frames.is_some_and(|f| f.cpu != 0),
        3 | 4 => false,
        _ => {
            return Err(unsupported(
                "the GIC is not a GICv2, GICv3 or GICv4, which Aerie drives",
            ))
        }
    };
    if v2 {
        return v2_madt(cpus, dist, v2_frames, &unsupported);
    }
    if redist.is_empty() {
        let size = if version == 4 {
            GICR_V4_SIZE
        } else {
            GICR_V3_SIZE
        };
        redist = merged(gicc_redist, size);
    }
    if redist.iter().any(|r| r.end().is_none()) {
        return Err(unsupported(
            "a GIC redistributor region wraps the address space",
        ));
    }
    if redist.is_empty() {
        return Err(unsupported(
            "no GIC redistributor (GICR structure or GICC address)",
        ));
    }
    Ok(Madt {
        cpus,
        gic: MadtGic::V3(GicV3 {
            dist: Region::new(dist, GICD_SIZE),
            redist,
        }),
    })
}

/// A GICv2's MADT: its CPU interface, and GICH, GICV and the maintenance
/// interrupt where given (Aerie needs them to run guests, and says so).
fn v2_madt(
    cpus: Vec<Cpu>,
    dist: u64,
    frames: Option<GiccV2>,
    unsupported: &dyn Fn(&'static str) -> AcpiError,
) -> Result<Madt, AcpiError> {
    let Some(f) = frames.filter(|f| f.cpu != 0) else {
        return Err(unsupported(
            "a GICv2 without a CPU interface address (GICC Physical Base Address)",
        ));
    };
    let present = |base: u64, size| (base != 0).then(|| Region::new(base, size));
    let gic = GicV2 {
        dist: Region::new(dist, GICD_V2_SIZE),
        cpu: Region::new(f.cpu, GICC_V2_SIZE),
        hyp: present(f.hyp, GICH_SIZE),
        vcpu: present(f.vcpu, GICV_SIZE),
        maintenance: (f.maintenance != 0).then_some(f.maintenance),
    };
    let frames = [Some(gic.dist), Some(gic.cpu), gic.hyp, gic.vcpu];
    if frames.iter().flatten().any(|r| r.end().is_none()) {
        return Err(unsupported("a GIC frame wraps the address space"));
    }
    Ok(Madt {
        cpus,
        gic: MadtGic::V2(gic),
    })
}

/// Redistributors at `bases` (one per CPU), as the fewest regions: each run
/// of evenly spaced ones is one region. Their size is the spacing where it
/// is a redistributor's (128 KiB, or 256 KiB with GICv4's virtual LPI
/// frames, which a MADT saying GIC version 0 or 3 may have too), else
/// `size`.
fn merged(mut bases: Vec<u64>, size: u64) -> Vec<Region> {
    bases.sort_unstable();
    bases.dedup();
    let stride = bases
        .windows(2)
        .map(|w| w[1] - w[0])
        .find(|gap| [GICR_V3_SIZE, GICR_V4_SIZE].contains(gap))
        .unwrap_or(size);
    let mut out: Vec<Region> = Vec::new();
    for base in bases {
        match out.last_mut() {
            Some(last) if last.end() == Some(base) => last.size += stride,
            _ => out.push(Region::new(base, stride)),
        }
    }
    out
}
