//! The host's real-time clock: the one Aerie reads the time of day from,
//! once, at boot (the generic counter measures time from there).

use alloc::format;

use crate::error::{DtError, Step};
use crate::fdt::cells::{prop_u32, reg};
use crate::fdt::tree::Tree;
use crate::host::enabled_compatible;
use crate::region::Region;
use vm_fdt::FdtWriter;

/// A real-time clock: what it is and its registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRtc {
    pub kind: RtcKind,
    /// Its registers; for the SNVS, the whole block.
    pub region: Region,
}

/// The real-time clocks Aerie reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcKind {
    /// Arm's PL031 (`arm,pl031`): QEMU `virt`, Arm's boards.
    Pl031,
    /// Xilinx's ZynqMP and Versal RTC (`xlnx,zynqmp-rtc`).
    ZynqMp,
    /// The low-power real-time counter of NXP's Secure Non-Volatile
    /// Storage (`fsl,sec-v4.0-mon-rtc-lp`: i.MX 6, 7 and 8M), kept by the
    /// board's coin cell. Its registers are those of the SNVS block its
    /// `regmap` names, from `lp_offset` (0x34 on every SoC so far).
    ImxSnvs { lp_offset: u32 },
}

pub(crate) const PL031: &str = "arm,pl031";
pub(crate) const ZYNQMP: &str = "xlnx,zynqmp-rtc";
pub(crate) const SNVS: &str = "fsl,sec-v4.0-mon-rtc-lp";
/// The SNVS block's phandle in a tree Aerie writes.
const PHANDLE_SNVS: u32 = 2;

/// The first enabled clock of the first kind the tree has, in the order
/// PL031, ZynqMP, SNVS. A node without registers is none (an SNVS's
/// `regmap` naming nothing, or an offset outside its block).
pub(crate) fn host_rtc(tree: &Tree<'_>) -> Result<Option<HostRtc>, DtError> {
    let first = |compatible: &'static [&'static str]| enabled_compatible(tree, compatible).next();
    for (compatible, kind) in [(&[PL031], RtcKind::Pl031), (&[ZYNQMP], RtcKind::ZynqMp)] {
        if let Some(node) = first(compatible) {
            if let Some(region) = reg(&node)?.first().copied() {
                return Ok(Some(HostRtc { kind, region }));
            }
        }
    }
    let Some(node) = first(&[SNVS]) else {
        return Ok(None);
    };
    let Some(block) = prop_u32(&node, "regmap")?.and_then(|p| tree.by_phandle(p)) else {
        return Ok(None);
    };
    let Some(region) = reg(&block)?.first().copied() else {
        return Ok(None);
    };
    let lp_offset = prop_u32(&node, "offset")?.unwrap_or(0x34);
    // The counter's two registers end 0x24 bytes into the LP range.
    if u64::from(lp_offset) + 0x24 > region.size {
        return Ok(None);
    }
    Ok(Some(HostRtc {
        kind: RtcKind::ImxSnvs { lp_offset },
        region,
    }))
}

/// Writes `rtc` as its kind's device tree binding describes it.
pub(crate) fn write(w: &mut FdtWriter, rtc: HostRtc, reg: &[u64]) -> Result<(), DtError> {
    let base = rtc.region.base;
    match rtc.kind {
        RtcKind::Pl031 => device(
            w,
            &format!("pl031@{base:x}"),
            &[PL031, "arm,primecell"],
            reg,
        ),
        RtcKind::ZynqMp => device(w, &format!("rtc@{base:x}"), &[ZYNQMP], reg),
        RtcKind::ImxSnvs { lp_offset } => {
            let block = w.begin_node(&format!("snvs@{base:x}")).step("snvs")?;
            w.property_string_list(
                "compatible",
                alloc::vec![
                    "fsl,sec-v4.0-mon".into(),
                    "syscon".into(),
                    "simple-mfd".into()
                ],
            )
            .step("snvs")?;
            w.property_array_u64("reg", reg).step("snvs")?;
            w.property_phandle(PHANDLE_SNVS).step("snvs")?;
            let node = w.begin_node("snvs-rtc-lp").step("snvs rtc")?;
            w.property_string("compatible", SNVS).step("snvs rtc")?;
            w.property_u32("regmap", PHANDLE_SNVS).step("snvs rtc")?;
            w.property_u32("offset", lp_offset).step("snvs rtc")?;
            w.end_node(node).step("snvs rtc")?;
            w.end_node(block).step("snvs")
        }
    }
}

fn device(w: &mut FdtWriter, name: &str, compatible: &[&str], reg: &[u64]) -> Result<(), DtError> {
    let node = w.begin_node(name).step("rtc")?;
    w.property_string_list(
        "compatible",
        compatible.iter().map(|c| (*c).into()).collect(),
    )
    .step("rtc")?;
    w.property_array_u64("reg", reg).step("rtc")?;
    w.end_node(node).step("rtc")
}
