//! The machine's own Ethernet controller: the network uplink Aerie drives
//! itself on boards without virtio: NXP's ENET (i.MX) or Cadence's GEM
//! (Xilinx ZynqMP and Versal).

use alloc::format;

use crate::binding::{GIC_SPI, IRQ_TYPE_LEVEL_HIGH};
use crate::error::{DtError, Step};
use crate::fdt::cells::{is_compatible, prop_str, prop_u32, reg};
use crate::fdt::tree::{NodeRef, Tree};
use crate::host::{enabled, first_gic_intid};
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
    /// Cadence's Gigabit Ethernet MAC (`cdns,zynqmp-gem`, `xlnx,zynqmp-gem`, `cdns,versal-gem`, `xlnx,versal-gem`, or the generic `cdns,gem`): Xilinx ZynqMP and Versal.
    CadenceGem,
}

impl EthernetKind {
    /// Its name for people.
    pub const fn name(&self) -> &'static str {
        match self {
            EthernetKind::ImxFec => "i.MX ENET",
            EthernetKind::CadenceGem => "Cadence GEM",
        }
    }

    /// The kind a node's `compatible` names, if Aerie drives it.
    fn of(node: &NodeRef<'_, '_>) -> Option<EthernetKind> {
        let any = |list: &[&str]| list.iter().any(|c| is_compatible(node, c));
        if any(&IMX_FECS) {
            Some(EthernetKind::ImxFec)
        } else if any(&GEMS) {
            Some(EthernetKind::CadenceGem)
        } else {
            None
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
/// The GEM's compatible strings, as Linux's `cdns,macb` binding names them
/// for the 64-bit Xilinx SoCs: the ZynqMP's and Versal's, under the
/// deprecated `cdns,` and the current `xlnx,` prefixes, each followed by
/// the generic `cdns,gem` (which any other GEM lists too: the register
/// set is the same, and the driver checks the module's ID). Not
/// `cdns,macb`: that also names the older 10/100 MACB, whose registers
/// differ (no DMA configuration).
const GEMS: [&str; 5] = [
    "cdns,zynqmp-gem",
    "xlnx,zynqmp-gem",
    "cdns,versal-gem",
    "xlnx,versal-gem",
    "cdns,gem",
];
/// What a tree Aerie writes names its GEM: the generic fallback, true of
/// the ZynqMP's and Versal's alike.
const GEM: &str = "cdns,gem";
/// The PHY's phandle in a tree Aerie writes (1 is the GIC's, 2 the SNVS
/// block's).
const PHANDLE_PHY: u32 = 3;

/// The first enabled controller Aerie drives (an ENET or a GEM), in tree
/// order, with registers and a GIC interrupt: one without either is none
/// Aerie can drive, so the next is taken. (A ZynqMP lists its four GEMs
/// and enables those the board wires: the ZCU102 only GEM3.)
pub(crate) fn host_ethernet(tree: &Tree<'_>) -> Result<Option<HostEthernet>, DtError> {
    let controllers = tree
        .nodes()
        .filter(enabled)
        .filter_map(|n| EthernetKind::of(&n).map(|kind| (n, kind)));
    for (node, kind) in controllers {
        let (Some(region), Some(intid)) = (reg(&node)?.first().copied(), first_gic_intid(&node)?)
        else {
            continue;
        };
        let mode = match prop_str(&node, "phy-mode")? {
            Some(mode) => Some(mode),
            None => prop_str(&node, "phy-connection-type")?,
        };
        return Ok(Some(HostEthernet {
            kind,
            region,
            intid,
            phy_address: phy_address(tree, &node)?,
            phy_mode: PhyMode::of(mode),
        }));
    }
    Ok(None)
}

/// The `reg` of the PHY `phy-handle` names: its address on the MDIO bus,
/// wherever the node is (on an `mdio` child, as the i.MX trees put it, or a
/// child of the controller itself, as the ZCU102's does). A tree without
/// one, or whose handle names a node without `reg` (a `fixed-link`, as
/// QEMU's Versal tree has), leaves the driver to find the PHY itself.
fn phy_address(tree: &Tree<'_>, node: &NodeRef<'_, '_>) -> Result<Option<u32>, DtError> {
    match prop_u32(node, "phy-handle")?.and_then(|p| tree.by_phandle(p)) {
        Some(phy) => prop_u32(&phy, "reg"),
        None => Ok(None),
    }
}

/// Writes `eth` as Linux's binding for its kind describes it (`fsl,fec`,
/// `cdns,macb`), with its first interrupt only (`spi`, an SPI number) and,
/// if it has one, its PHY: on the ENET's own `mdio` bus, or a child of the
/// GEM itself (both shapes the bindings allow, and `phy_address` reads).
pub(crate) fn write(
    w: &mut FdtWriter,
    eth: HostEthernet,
    reg: &[u64],
    spi: u32,
) -> Result<(), DtError> {
    let (compatible, phy_on_mdio_bus) = match eth.kind {
        EthernetKind::ImxFec => (IMX_FEC, true),
        EthernetKind::CadenceGem => (GEM, false),
    };
    let node = w
        .begin_node(&format!("ethernet@{:x}", eth.region.base))
        .step("ethernet")?;
    w.property_string("compatible", compatible)
        .step("ethernet")?;
    w.property_array_u64("reg", reg).step("ethernet")?;
    w.property_array_u32("interrupts", &[GIC_SPI, spi, IRQ_TYPE_LEVEL_HIGH])
        .step("ethernet")?;
    w.property_string("phy-mode", eth.phy_mode.binding())
        .step("ethernet")?;
    if let Some(address) = eth.phy_address {
        w.property_u32("phy-handle", PHANDLE_PHY).step("ethernet")?;
        let mdio = if phy_on_mdio_bus {
            Some(w.begin_node("mdio").step("mdio")?)
        } else {
            None
        };
        w.property_u32("#address-cells", 1).step("mdio")?;
        w.property_u32("#size-cells", 0).step("mdio")?;
        let phy = w
            .begin_node(&format!("ethernet-phy@{address:x}"))
            .step("ethernet phy")?;
        w.property_u32("reg", address).step("ethernet phy")?;
        w.property_phandle(PHANDLE_PHY).step("ethernet phy")?;
        w.end_node(phy).step("ethernet phy")?;
        if let Some(mdio) = mdio {
            w.end_node(mdio).step("mdio")?;
        }
    }
    w.end_node(node).step("ethernet")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{parse_host, Cpu, GicV3, HostInfo};
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn node(w: &mut FdtWriter, name: &str, props: impl FnOnce(&mut FdtWriter)) {
        let n = w.begin_node(name).unwrap();
        props(w);
        w.end_node(n).unwrap();
    }

    /// A tree shaped as the ZynqMP's: 64-bit root cells, 2 GiB of RAM at 0,
    /// and `devices` on the `/axi` simple bus, which maps its children's
    /// addresses one to one.
    fn zynqmp(devices: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        node(&mut w, "memory@0", |w| {
            w.property_string("device_type", "memory").unwrap();
            w.property_array_u64("reg", &[0, 0x8000_0000]).unwrap();
        });
        node(&mut w, "axi", |w| {
            w.property_string("compatible", "simple-bus").unwrap();
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 2).unwrap();
            w.property_null("ranges").unwrap();
            devices(w);
        });
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    /// A GEM node at `base` with SPI `spi` as the ZynqMP's tree writes it
    /// (its compatibles, 4 KiB of registers, the same SPI twice: the MAC
    /// and its wake-up event), `status`, and whatever `rest` adds.
    fn gem(
        w: &mut FdtWriter,
        base: u64,
        spi: u32,
        status: &str,
        rest: impl FnOnce(&mut FdtWriter),
    ) {
        node(w, &format!("ethernet@{base:x}"), |w| {
            w.property_string_list(
                "compatible",
                vec!["cdns,zynqmp-gem".into(), "cdns,gem".into()],
            )
            .unwrap();
            w.property_string("status", status).unwrap();
            w.property_array_u32("interrupts", &[0, spi, 4, 0, spi, 4])
                .unwrap();
            w.property_array_u64("reg", &[base, 0x1000]).unwrap();
            w.property_u32("#address-cells", 1).unwrap();
            w.property_u32("#size-cells", 0).unwrap();
            rest(w);
        });
    }

    /// A PHY node at MDIO `address` with phandle `ph`.
    fn phy(w: &mut FdtWriter, address: u32, ph: u32) {
        node(w, &format!("ethernet-phy@{address:x}"), |w| {
            w.property_u32("reg", address).unwrap();
            w.property_phandle(ph).unwrap();
        });
    }

    /// The ZCU102's four GEMs (Debian's `xilinx/zynqmp-zcu102-rev1.0.dtb`):
    /// GEM0 to GEM2 disabled, GEM3 on with its TI DP83867 at MDIO address
    /// 12, a child of the controller node, and `rgmii-id`.
    fn zcu102() -> Vec<u8> {
        zynqmp(|w| {
            gem(w, 0xff0b_0000, 0x39, "disabled", |_| {});
            gem(w, 0xff0c_0000, 0x3b, "disabled", |_| {});
            gem(w, 0xff0d_0000, 0x3d, "disabled", |_| {});
            gem(w, 0xff0e_0000, 0x3f, "okay", |w| {
                w.property_u32("phy-handle", 0x10).unwrap();
                w.property_string("phy-mode", "rgmii-id").unwrap();
                phy(w, 0xc, 0x10);
            });
        })
    }

    #[test]
    fn the_zcu102_uplink_is_its_enabled_gem3() {
        assert_eq!(
            parse_host(&zcu102()).unwrap().ethernet,
            Some(HostEthernet {
                kind: EthernetKind::CadenceGem,
                region: Region::new(0xff0e_0000, 0x1000),
                // SPI 63.
                intid: 95,
                phy_address: Some(12),
                phy_mode: PhyMode::Rgmii,
            })
        );
    }

    #[test]
    fn a_gem_phy_on_an_mdio_child_is_found_too() {
        // Newer Xilinx trees put the PHY on an `mdio` node.
        let dtb = zynqmp(|w| {
            gem(w, 0xff0e_0000, 0x3f, "okay", |w| {
                w.property_u32("phy-handle", 7).unwrap();
                w.property_string("phy-mode", "rgmii-id").unwrap();
                node(w, "mdio", |w| {
                    w.property_u32("#address-cells", 1).unwrap();
                    w.property_u32("#size-cells", 0).unwrap();
                    phy(w, 0x15, 7);
                });
            });
        });
        let eth = parse_host(&dtb).unwrap().ethernet.unwrap();
        assert_eq!(
            (eth.kind, eth.phy_address),
            (EthernetKind::CadenceGem, Some(0x15))
        );
    }

    #[test]
    fn a_fixed_link_gem_has_no_phy_address() {
        // QEMU's Versal tree: two GEMs, both on, each with a phy-handle to
        // its `fixed-link` (1000 Mb/s, no MDIO address). The first is taken.
        let dtb = zynqmp(|w| {
            for (base, spi, ph) in [(0xff0c_0000, 0x38, 0x8002), (0xff0d_0000, 0x3a, 0x8001)] {
                gem(w, base, spi, "okay", |w| {
                    w.property_u32("phy-handle", ph).unwrap();
                    w.property_string("phy-mode", "rgmii-id").unwrap();
                    node(w, "fixed-link", |w| {
                        w.property_u32("speed", 1000).unwrap();
                        w.property_null("full-duplex").unwrap();
                        w.property_phandle(ph).unwrap();
                    });
                });
            }
        });
        let eth = parse_host(&dtb).unwrap().ethernet.unwrap();
        assert_eq!(eth.kind, EthernetKind::CadenceGem);
        assert_eq!((eth.region.base, eth.intid), (0xff0c_0000, 88));
        assert_eq!(eth.phy_address, None);
    }

    /// The kind of Ethernet a ZynqMP-shaped tree with one controller of
    /// `compatibles` has.
    fn kind_of(compatibles: &[&str]) -> Option<EthernetKind> {
        let dtb = zynqmp(|w| {
            node(w, "ethernet@ff0e0000", |w| {
                w.property_string_list(
                    "compatible",
                    compatibles.iter().map(|c| String::from(*c)).collect(),
                )
                .unwrap();
                w.property_array_u32("interrupts", &[0, 0x3f, 4]).unwrap();
                w.property_array_u64("reg", &[0xff0e_0000, 0x1000]).unwrap();
            });
        });
        parse_host(&dtb).unwrap().ethernet.map(|e| e.kind)
    }

    #[test]
    fn every_gem_binding_is_a_gem_and_the_macb_is_not() {
        for compatibles in [
            &["cdns,zynqmp-gem", "cdns,gem"][..],
            &["xlnx,zynqmp-gem", "cdns,gem"],
            &["cdns,versal-gem", "cdns,gem"],
            &["xlnx,versal-gem", "cdns,gem"],
            &["cdns,gem"],
        ] {
            assert_eq!(
                kind_of(compatibles),
                Some(EthernetKind::CadenceGem),
                "{compatibles:?}"
            );
        }
        // The 10/100 MACB's registers differ; and an ENET is an ENET.
        assert_eq!(kind_of(&["cdns,macb"]), None);
        assert_eq!(kind_of(&["cdns,at91sam9260-macb", "cdns,macb"]), None);
        assert_eq!(
            kind_of(&["fsl,imx8mp-fec", "fsl,imx6sx-fec"]),
            Some(EthernetKind::ImxFec)
        );
    }

    #[test]
    fn the_first_usable_controller_in_tree_order_is_taken_whatever_its_kind() {
        let enet = |w: &mut FdtWriter| {
            node(w, "ethernet@30be0000", |w| {
                w.property_string("compatible", "fsl,imx6sx-fec").unwrap();
                w.property_array_u32("interrupts", &[0, 118, 4]).unwrap();
                w.property_array_u64("reg", &[0x30be_0000, 0x10000])
                    .unwrap();
            });
        };
        let gem3 = |w: &mut FdtWriter| gem(w, 0xff0e_0000, 0x3f, "okay", |_| {});
        let first = |dtb: Vec<u8>| parse_host(&dtb).unwrap().ethernet.map(|e| e.kind);
        assert_eq!(
            first(zynqmp(|w| {
                enet(w);
                gem3(w);
            })),
            Some(EthernetKind::ImxFec)
        );
        assert_eq!(
            first(zynqmp(|w| {
                gem3(w);
                enet(w);
            })),
            Some(EthernetKind::CadenceGem)
        );
        // A GEM without an interrupt is none Aerie can drive: the next.
        let eth = parse_host(&zynqmp(|w| {
            node(w, "ethernet@ff0b0000", |w| {
                w.property_string("compatible", "cdns,gem").unwrap();
                w.property_array_u64("reg", &[0xff0b_0000, 0x1000]).unwrap();
            });
            gem3(w);
        }))
        .unwrap()
        .ethernet
        .unwrap();
        assert_eq!(eth.region.base, 0xff0e_0000);
        // None enabled: none.
        let off = zynqmp(|w| gem(w, 0xff0e_0000, 0x3f, "disabled", |_| {}));
        assert_eq!(parse_host(&off).unwrap().ethernet, None);
    }

    /// A machine with `eth` and what a host tree needs besides.
    fn machine(eth: HostEthernet) -> HostInfo {
        HostInfo {
            memory: vec![Region::new(0, 0x8000_0000)],
            gic: Some(GicV3 {
                dist: Region::new(0x800_0000, 0x1_0000),
                redist: vec![Region::new(0x80a_0000, 0xf6_0000)],
            }),
            cpus: vec![Cpu {
                mpidr: 0,
                enable_method: None,
                release_addr: None,
            }],
            ethernet: Some(eth),
            ..HostInfo::default()
        }
    }

    #[test]
    fn a_gem_reads_back_as_itself() {
        // What Aerie's UEFI loader writes for the ZCU102's GEM3 (its PHY a
        // child of the controller), with and without a PHY, in each mode.
        for phy_mode in [PhyMode::Mii, PhyMode::Rmii, PhyMode::Rgmii] {
            for phy_address in [Some(12), Some(0), None] {
                let info = machine(HostEthernet {
                    kind: EthernetKind::CadenceGem,
                    region: Region::new(0xff0e_0000, 0x1000),
                    intid: 95,
                    phy_address,
                    phy_mode,
                });
                let dtb = crate::host_tree(&info).unwrap();
                assert_eq!(parse_host(&dtb).unwrap(), info);
            }
        }
        // And the ZCU102's own tree, read, written and read again.
        let zcu102 = parse_host(&zcu102()).unwrap().ethernet.unwrap();
        let info = machine(zcu102);
        assert_eq!(
            parse_host(&crate::host_tree(&info).unwrap())
                .unwrap()
                .ethernet,
            Some(zcu102)
        );
    }
}
