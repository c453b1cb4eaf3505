//! The machine's SD host controllers: where the host disk (an SD card, or
//! the eMMC soldered beside them) is on boards without virtio.

use alloc::format;
use alloc::vec::Vec;

use crate::error::{DtError, Step};
use crate::fdt::cells::{is_compatible, prop_u32, reg};
use crate::fdt::tree::Tree;
use crate::host::enabled_compatible;
use crate::region::Region;
use vm_fdt::FdtWriter;

/// An SD host controller Aerie has a driver for: where a board's host disk (an SD card) may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSdHost {
    pub kind: SdHostKind,
    /// Its registers.
    pub region: Region,
    /// The tree says a device is soldered on (`non-removable`: eMMC on most boards), not a card slot.
    pub non_removable: bool,
    /// The data lines wired to the slot (`bus-width`: 1, 4 or 8; 1 when
    /// the tree does not say, as Linux takes it).
    pub bus_width: u8,
}

/// The SD host controllers Aerie drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdHostKind {
    /// NXP's uSDHC (i.MX 6, 7, 8M).
    ImxUsdhc,
    /// A standard SD Host Controller (SDHCI 3.0): the Raspberry Pi 4's
    /// EMMC2, which holds its card slot, and its first EMMC; the ZynqMP's
    /// two Arasan controllers.
    Sdhci,
}

impl SdHostKind {
    /// Its name for people.
    pub const fn name(&self) -> &'static str {
        match self {
            SdHostKind::ImxUsdhc => "i.MX uSDHC",
            SdHostKind::Sdhci => "SDHCI",
        }
    }
}

/// Standard SDHCIs Aerie takes: the Raspberry Pi 4's two, Arasan's
/// SDHCI 3.0 of the ZynqMP (whose nodes name `xlnx,zynqmp-8.9a` first),
/// and the name a tree Aerie writes gives any (no binding names a plain
/// SDHCI).
const SDHCIS: [&str; 4] = [
    "brcm,bcm2711-emmc2",
    "brcm,bcm2835-sdhci",
    "arasan,sdhci-8.9a",
    SDHCI,
];
const SDHCI: &str = "aerie,sdhci";

/// The i.MX uSDHC's compatible strings: every i.MX 6, 7 and 8 node names
/// one of them, newer SoCs as a fallback (the i.MX 8M Plus's lists
/// `fsl,imx8mp-usdhc`, `fsl,imx8mm-usdhc`, `fsl,imx7d-usdhc`).
const IMX_USDHCS: [&str; 7] = [
    "fsl,imx6q-usdhc",
    "fsl,imx6sl-usdhc",
    "fsl,imx6sx-usdhc",
    "fsl,imx6ull-usdhc",
    "fsl,imx7d-usdhc",
    "fsl,imx8mm-usdhc",
    "fsl,imx8qxp-usdhc",
];
/// What a tree Aerie writes names its uSDHCs, the fallback the i.MX 7 and
/// 8M nodes share.
const IMX_USDHC: &str = "fsl,imx7d-usdhc";

/// Every enabled uSDHC and SDHCI with registers, in tree order: which
/// holds the host disk is the hypervisor's to find out (a slot may be
/// empty). A node without `reg` is none Aerie can drive. Its interrupt is
/// not read: the driver polls.
pub(crate) fn host_sd_hosts(tree: &Tree<'_>) -> Result<Vec<HostSdHost>, DtError> {
    let all: Vec<&str> = IMX_USDHCS.iter().chain(&SDHCIS).copied().collect();
    let mut out = Vec::new();
    for node in enabled_compatible(tree, &all) {
        let kind = if IMX_USDHCS.iter().any(|c| is_compatible(&node, c)) {
            SdHostKind::ImxUsdhc
        } else {
            SdHostKind::Sdhci
        };
        if let Some(region) = reg(&node)?.first().copied() {
            out.push(HostSdHost {
                kind,
                region,
                non_removable: node.prop("non-removable").is_some(),
                bus_width: match prop_u32(&node, "bus-width")? {
                    Some(w @ (4 | 8)) => w as u8,
                    _ => 1,
                },
            });
        }
    }
    Ok(out)
}

/// Writes `sd` as Linux's `fsl-imx-esdhc` binding describes it, with only
/// what [`host_sd_hosts`] reads: no interrupt, clocks or pins.
pub(crate) fn write(w: &mut FdtWriter, sd: HostSdHost, reg: &[u64]) -> Result<(), DtError> {
    let compatible = match sd.kind {
        SdHostKind::ImxUsdhc => IMX_USDHC,
        SdHostKind::Sdhci => SDHCI,
    };
    let node = w
        .begin_node(&format!("mmc@{:x}", sd.region.base))
        .step("mmc")?;
    w.property_string("compatible", compatible).step("mmc")?;
    w.property_array_u64("reg", reg).step("mmc")?;
    if sd.non_removable {
        w.property_null("non-removable").step("mmc")?;
    }
    if sd.bus_width != 1 {
        w.property_u32("bus-width", u32::from(sd.bus_width))
            .step("mmc")?;
    }
    w.end_node(node).step("mmc")
}
