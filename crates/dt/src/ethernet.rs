//! The machine's own Ethernet controller: the network uplink Aerie drives
//! itself on boards without virtio.

use alloc::format;

use crate::binding::{GIC_SPI, IRQ_TYPE_LEVEL_HIGH};
use crate::error::{DtError, Step};
use crate::fdt::cells::{prop_str, prop_u32, reg};
use crate::fdt::tree::{NodeRef, Tree};
use crate::host::{enabled_compatible, first_gic_intid};
use crate::region::Region;
use vm_fdt::FdtWriter;

/// The machine's own Ethernet controller, where Aerie has a driver for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostEthernet {
    pub kind: EthernetKind,
    /// Its registers.
    pub region: Region,
    /// Its (first) interrupt as a GIC INTID: the MAC's events.
    pub intid: u32,
    /// The PHY's address on the controller's MDIO bus (`phy-handle` -> the PHY node's `reg`), if the tree names one.
    pub phy_address: Option<u32>,
    /// How the MAC talks to the PHY (`phy-mode`).
    pub phy_mode: PhyMode,
}

/// The Ethernet controllers Aerie drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EthernetKind {
    /// NXP's ENET (`fsl,imx6q-fec`, `fsl,imx6sx-fec`, `fsl,imx6ul-fec`, `fsl,imx8mq-fec`, `fsl,imx8qm-fec`): i.MX 6, 7, 8M.
    ImxFec,
}

impl EthernetKind {
    /// Its name for people.
    pub const fn name(&self) -> &'static str {
        match self {
            EthernetKind::ImxFec => "i.MX ENET",
        }
    }
}

/// The interface between the MAC and the PHY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhyMode {
    Mii,
    Rmii,
    Rgmii,
}

impl PhyMode {
    /// What `phy-mode` says. The RGMII variants differ only in which side
    /// delays the clocks, which is the PHY's business, not the MAC's. Absent
    /// or unknown is MII, as Linux's FEC driver takes it.
    fn of(mode: Option<&str>) -> PhyMode {
        match mode {
            Some("rgmii" | "rgmii-id" | "rgmii-rxid" | "rgmii-txid") => PhyMode::Rgmii,
            Some("rmii") => PhyMode::Rmii,
            _ => PhyMode::Mii,
        }
    }

    /// Its `phy-mode` string, for writing a node back.
    const fn binding(self) -> &'static str {
        match self {
            PhyMode::Mii => "mii",
            PhyMode::Rmii => "rmii",
            PhyMode::Rgmii => "rgmii",
        }
    }
}

/// The i.MX ENET's compatible strings: every i.MX 6, 7 and 8M node names
/// one of them, newer SoCs as a fallback (the i.MX 8M Plus's lists
/// `fsl,imx8mp-fec`, `fsl,imx8mq-fec`, `fsl,imx6sx-fec`).
const IMX_FECS: [&str; 5] = [
    "fsl,imx6q-fec",
    "fsl,imx6sx-fec",
    "fsl,imx6ul-fec",
    "fsl,imx8mq-fec",
    "fsl,imx8qm-fec",
];
/// What a tree Aerie writes names its ENET, the fallback the i.MX 7 and 8
/// nodes share.
const IMX_FEC: &str = "fsl,imx6sx-fec";
/// The PHY's phandle in a tree Aerie writes (1 is the GIC's, 2 the SNVS
/// block's).
const PHANDLE_PHY: u32 = 3;

/// The first enabled ENET, in tree order, with registers and a GIC
/// interrupt: one without either is none Aerie can drive, so the next is
/// taken.
pub(crate) fn host_ethernet(tree: &Tree<'_>) -> Result<Option<HostEthernet>, DtError> {
    let enets = enabled_compatible(tree, &IMX_FECS);
    for node in enets {
        let (Some(region), Some(intid)) = (reg(&node)?.first().copied(), first_gic_intid(&node)?)
        else {
            continue;
        };
        let mode = match prop_str(&node, "phy-mode")? {
            Some(mode) => Some(mode),
            None => prop_str(&node, "phy-connection-type")?,
        };
        return Ok(Some(HostEthernet {
            kind: EthernetKind::ImxFec,
            region,
            intid,
            phy_address: phy_address(tree, &node)?,
            phy_mode: PhyMode::of(mode),
        }));
    }
    Ok(None)
}

/// The `reg` of the PHY `phy-handle` names: its address on the MDIO bus.
/// A tree without one leaves the driver to find the PHY itself.
fn phy_address(tree: &Tree<'_>, node: &NodeRef<'_, '_>) -> Result<Option<u32>, DtError> {
    match prop_u32(node, "phy-handle")?.and_then(|p| tree.by_phandle(p)) {
        Some(phy) => prop_u32(&phy, "reg"),
        None => Ok(None),
    }
}

/// Writes `eth` as Linux's `fsl,fec` binding describes it, with its first
/// interrupt only (`spi`, an SPI number) and, if it has one, its PHY on
/// the controller's own MDIO bus.
pub(crate) fn write(
    w: &mut FdtWriter,
    eth: HostEthernet,
    reg: &[u64],
    spi: u32,
) -> Result<(), DtError> {
    // One kind so far; a second must say here how its node is written.
    let EthernetKind::ImxFec = eth.kind;
    let node = w
        .begin_node(&format!("ethernet@{:x}", eth.region.base))
        .step("ethernet")?;
    w.property_string("compatible", IMX_FEC).step("ethernet")?;
    w.property_array_u64("reg", reg).step("ethernet")?;
    w.property_array_u32("interrupts", &[GIC_SPI, spi, IRQ_TYPE_LEVEL_HIGH])
        .step("ethernet")?;
    w.property_string("phy-mode", eth.phy_mode.binding())
        .step("ethernet")?;
    if let Some(address) = eth.phy_address {
        w.property_u32("phy-handle", PHANDLE_PHY).step("ethernet")?;
        let mdio = w.begin_node("mdio").step("mdio")?;
        w.property_u32("#address-cells", 1).step("mdio")?;
        w.property_u32("#size-cells", 0).step("mdio")?;
        let phy = w
            .begin_node(&format!("ethernet-phy@{address:x}"))
            .step("ethernet phy")?;
        w.property_u32("reg", address).step("ethernet phy")?;
        w.property_phandle(PHANDLE_PHY).step("ethernet phy")?;
        w.end_node(phy).step("ethernet phy")?;
        w.end_node(mdio).step("mdio")?;
    }
    w.end_node(node).step("ethernet")
}
