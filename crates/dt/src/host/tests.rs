//! The host tree parser against trees written the way boards' are.

use super::*;
use crate::ethernet::{EthernetKind, PhyMode};
use crate::power::PowerControllerKind;
use crate::rtc::RtcKind;
use crate::sd_host::SdHostKind;
use alloc::vec;
use vm_fdt::{FdtReserveEntry, FdtWriter};

/// Writes a tree: root props via `root`, then children via `body`.
fn blob(
    rsv: &[FdtReserveEntry],
    root: impl FnOnce(&mut FdtWriter),
    body: impl FnOnce(&mut FdtWriter),
) -> Vec<u8> {
    let mut w = FdtWriter::new_with_mem_reserv(rsv).unwrap();
    let r = w.begin_node("").unwrap();
    root(&mut w);
    body(&mut w);
    w.end_node(r).unwrap();
    w.finish().unwrap()
}

fn node(w: &mut FdtWriter, name: &str, props: impl FnOnce(&mut FdtWriter)) {
    let n = w.begin_node(name).unwrap();
    props(w);
    w.end_node(n).unwrap();
}

fn cells_1_1(w: &mut FdtWriter) {
    w.property_u32("#address-cells", 1).unwrap();
    w.property_u32("#size-cells", 1).unwrap();
}

fn memory_32(w: &mut FdtWriter) {
    node(w, "memory@80000000", |w| {
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u32("reg", &[0x8000_0000, 0x1000_0000])
            .unwrap();
    });
}

fn pl011(w: &mut FdtWriter, base: u32, status: Option<&str>) {
    primecell(w, "uart", "arm,pl011", base, status);
}

/// An Arm PrimeCell device node `<name>@<base>`, 4 KiB of registers.
fn primecell(w: &mut FdtWriter, name: &str, part: &str, base: u32, status: Option<&str>) {
    node(w, &format!("{name}@{base:x}"), |w| {
        w.property_string_list("compatible", vec![part.into(), "arm,primecell".into()])
            .unwrap();
        w.property_array_u32("reg", &[base, 0x1000]).unwrap();
        if let Some(s) = status {
            w.property_string("status", s).unwrap();
        }
    });
}

#[test]
fn honours_32_bit_root_cells_and_multiple_memory_ranges() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        node(w, "memory@0", |w| {
            w.property_string("device_type", "memory").unwrap();
            w.property_array_u32("reg", &[0x0, 0x100_0000, 0x200_0000, 0x0, 0x300_0000, 0x10])
                .unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    // The zero-sized range is dropped.
    assert_eq!(
        info.memory,
        vec![
            Region::new(0x8000_0000, 0x1000_0000),
            Region::new(0x0, 0x100_0000),
            Region::new(0x300_0000, 0x10),
        ]
    );
}

#[test]
fn missing_memory_is_an_error() {
    let dtb = blob(&[], cells_1_1, |_| {});
    let err = parse_host(&dtb).unwrap_err();
    assert!(matches!(err, DtError::MissingNode(_)));
    assert!(err.to_string().contains("/memory"));
}

#[test]
fn reg_length_must_match_parent_cells() {
    let dtb = blob(&[], cells_1_1, |w| {
        node(w, "memory@0", |w| {
            w.property_string("device_type", "memory").unwrap();
            w.property_array_u32("reg", &[0, 0x1000, 0x2000]).unwrap();
        });
    });
    assert_eq!(
        parse_host(&dtb),
        Err(DtError::BadProperty {
            node: "/memory@0".into(),
            property: "reg",
            reason: "length not a multiple of the parent's cell counts",
        })
    );
}

#[test]
fn cpus_use_their_own_address_cells_and_skip_cpu_map() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        node(w, "cpus", |w| {
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 0).unwrap();
            node(w, "cpu-map", |_| {});
            node(w, "cpu@100000101", |w| {
                w.property_string("device_type", "cpu").unwrap();
                w.property_array_u32("reg", &[0x1, 0x0000_0101]).unwrap();
                w.property_string("enable-method", "spin-table").unwrap();
                w.property_array_u32("cpu-release-addr", &[0, 0xd8])
                    .unwrap();
            });
            node(w, "cpu@0", |w| {
                w.property_string("device_type", "cpu").unwrap();
                w.property_array_u32("reg", &[0, 0]).unwrap();
                w.property_string("status", "disabled").unwrap();
            });
            node(w, "cpu@1", |w| {
                w.property_string("device_type", "cpu").unwrap();
                w.property_array_u32("reg", &[0, 1]).unwrap();
                w.property_string("status", "fail").unwrap();
            });
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(
        info.cpus,
        vec![
            Cpu {
                mpidr: 0x1_0000_0101,
                enable_method: Some("spin-table".into()),
                release_addr: Some(0xd8),
            },
            Cpu {
                mpidr: 0,
                enable_method: None,
                release_addr: None,
            },
        ]
    );
}

#[test]
fn reserved_combines_memreserve_and_reserved_memory() {
    let rsv = [FdtReserveEntry::new(0x8000_0000, 0x1000).unwrap()];
    let dtb = blob(&rsv, cells_1_1, |w| {
        memory_32(w);
        node(w, "reserved-memory", |w| {
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 2).unwrap();
            w.property_null("ranges").unwrap();
            node(w, "tfa@8e000000", |w| {
                w.property_array_u64("reg", &[0x8e00_0000, 0x20_0000])
                    .unwrap();
                w.property_null("no-map").unwrap();
            });
            node(w, "dynamic", |w| {
                w.property_u64("size", 0x10_0000).unwrap();
            });
            node(w, "off@90000000", |w| {
                w.property_array_u64("reg", &[0x9000_0000, 0x1000]).unwrap();
                w.property_string("status", "disabled").unwrap();
            });
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(
        info.reserved,
        vec![
            Region::new(0x8000_0000, 0x1000),
            Region::new(0x8e00_0000, 0x20_0000)
        ]
    );
}

#[test]
fn stdout_path_alias_with_options_picks_that_uart() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        pl011(w, 0x1c09_0000, None);
        pl011(w, 0x1c0a_0000, None);
        node(w, "aliases", |w| {
            w.property_string("serial1", "/uart@1c0a0000").unwrap();
        });
        node(w, "chosen", |w| {
            w.property_string("stdout-path", "serial1:115200n8")
                .unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(info.uart, Some(Region::new(0x1c0a_0000, 0x1000)));
}

#[test]
fn an_imx8m_uart_named_by_stdout_path_is_the_console() {
    // As in the i.MX 8M Plus EVK's tree: UART1 first, the console on
    // UART2 through an alias; i.MX 8M nodes fall back to imx6q, not
    // imx21.
    let imx_uart = |w: &mut FdtWriter, base: u32, spi: u32| {
        node(w, &format!("serial@{base:x}"), |w| {
            w.property_string_list(
                "compatible",
                vec!["fsl,imx8mp-uart".into(), "fsl,imx6q-uart".into()],
            )
            .unwrap();
            w.property_array_u32("reg", &[base, 0x10000]).unwrap();
            w.property_array_u32("interrupts", &[0, spi, 4]).unwrap();
        });
    };
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        imx_uart(w, 0x3086_0000, 26);
        imx_uart(w, 0x3089_0000, 27);
        node(w, "aliases", |w| {
            w.property_string("serial1", "/serial@30890000").unwrap();
        });
        node(w, "chosen", |w| {
            w.property_string("stdout-path", "serial1:115200n8")
                .unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(info.uart, Some(Region::new(0x3089_0000, 0x10000)));
    assert_eq!((info.uart_kind, info.uart_intid), (UartKind::Imx, Some(59)));
}

/// The console UART of a tree whose stdout-path names the node
/// `serial@fe660000` that `props` describes.
fn console_of(props: impl FnOnce(&mut FdtWriter)) -> (Option<Region>, UartKind) {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        node(w, "serial@fe660000", |w| {
            w.property_array_u32("reg", &[0xfe66_0000, 0x100]).unwrap();
            props(w);
        });
        node(w, "chosen", |w| {
            w.property_string("stdout-path", "/serial@fe660000")
                .unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    (info.uart, info.uart_kind)
}

#[test]
fn a_16550_is_taken_with_its_register_layout() {
    // Rockchip RK3588's UART2, the console of its boards.
    let (uart, kind) = console_of(|w| {
        w.property_string_list(
            "compatible",
            vec!["rockchip,rk3588-uart".into(), "snps,dw-apb-uart".into()],
        )
        .unwrap();
        w.property_u32("reg-shift", 2).unwrap();
        w.property_u32("reg-io-width", 4).unwrap();
    });
    assert_eq!(uart, Some(Region::new(0xfe66_0000, 0x100)));
    assert_eq!(
        kind,
        UartKind::Ns16550 {
            reg_shift: 2,
            io_width: 4
        }
    );
    assert_eq!(kind.ns16550_layout(), Some((2, 4)));
    // A plain ns16550a: byte registers side by side.
    let (_, kind) = console_of(|w| {
        w.property_string("compatible", "ns16550a").unwrap();
    });
    assert_eq!(kind.ns16550_layout(), Some((0, 1)));
}

#[test]
fn the_raspberry_pi_mini_uart_is_a_16550_with_word_registers() {
    let (uart, kind) = console_of(|w| {
        w.property_string("compatible", "brcm,bcm2835-aux-uart")
            .unwrap();
    });
    assert!(uart.is_some());
    assert_eq!(kind, UartKind::MiniUart);
    assert_eq!(kind.ns16550_layout(), Some((2, 4)));
}

#[test]
fn the_zynqmp_uart_is_a_cadence_uart() {
    let (uart, kind) = console_of(|w| {
        w.property_string_list(
            "compatible",
            vec!["xlnx,zynqmp-uart".into(), "cdns,uart-r1p12".into()],
        )
        .unwrap();
    });
    assert!(uart.is_some());
    assert_eq!(kind, UartKind::Cadence);
    assert_eq!(kind.ns16550_layout(), None);
}

#[test]
fn an_unknown_uart_is_not_taken_for_the_console() {
    // Samsung's UART, and a 16550 with 16-bit accesses.
    let (uart, _) = console_of(|w| {
        w.property_string("compatible", "samsung,exynos4210-uart")
            .unwrap();
    });
    assert_eq!(uart, None);
    let (uart, _) = console_of(|w| {
        w.property_string("compatible", "ns16550a").unwrap();
        w.property_u32("reg-io-width", 2).unwrap();
    });
    assert_eq!(uart, None);
}

/// An SNVS block at 0x3037_0000 (phandle 7) with its RTC at `offset`.
fn snvs(w: &mut FdtWriter, offset: Option<u32>, regmap: u32) {
    node(w, "snvs@30370000", |w| {
        w.property_string_list(
            "compatible",
            vec![
                "fsl,sec-v4.0-mon".into(),
                "syscon".into(),
                "simple-mfd".into(),
            ],
        )
        .unwrap();
        w.property_array_u32("reg", &[0x3037_0000, 0x10000])
            .unwrap();
        w.property_phandle(7).unwrap();
        node(w, "snvs-rtc-lp", |w| {
            w.property_string("compatible", crate::rtc::SNVS).unwrap();
            w.property_u32("regmap", regmap).unwrap();
            if let Some(offset) = offset {
                w.property_u32("offset", offset).unwrap();
            }
        });
    });
}

#[test]
fn finds_the_snvs_rtc_through_its_regmap() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        snvs(w, Some(0x34), 7);
    });
    let rtc = parse_host(&dtb).unwrap().rtc;
    assert_eq!(
        rtc,
        Some(HostRtc {
            kind: RtcKind::ImxSnvs { lp_offset: 0x34 },
            region: Region::new(0x3037_0000, 0x10000),
        })
    );
    for (offset, regmap) in [(Some(0xfff0), 7), (Some(0x34), 8)] {
        let dtb = blob(&[], cells_1_1, |w| {
            memory_32(w);
            snvs(w, offset, regmap);
        });
        assert_eq!(parse_host(&dtb).unwrap().rtc, None, "{offset:?} {regmap}");
    }
}

#[test]
fn finds_the_enabled_pl031() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        primecell(w, "pl031", "arm,pl031", 0x0902_0000, Some("disabled"));
        primecell(w, "pl031", "arm,pl031", 0x0901_0000, Some("okay"));
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(
        info.rtc,
        Some(HostRtc {
            kind: RtcKind::Pl031,
            region: Region::new(0x0901_0000, 0x1000)
        })
    );
    let none = blob(&[], cells_1_1, memory_32);
    assert_eq!(parse_host(&none).unwrap().rtc, None);
}

#[test]
fn finds_a_zynqmp_rtc_and_prefers_a_pl031() {
    let zynqmp = |w: &mut FdtWriter| {
        node(w, "rtc@f12a0000", |w| {
            w.property_string("compatible", crate::rtc::ZYNQMP).unwrap();
            w.property_array_u32("reg", &[0xf12a_0000, 0x10000])
                .unwrap();
        });
    };
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        zynqmp(w);
    });
    let rtc = parse_host(&dtb).unwrap().rtc.unwrap();
    assert_eq!(
        (rtc.kind, rtc.region),
        (RtcKind::ZynqMp, Region::new(0xf12a_0000, 0x10000))
    );
    let both = blob(&[], cells_1_1, |w| {
        memory_32(w);
        zynqmp(w);
        primecell(w, "pl031", "arm,pl031", 0x0901_0000, None);
    });
    assert_eq!(parse_host(&both).unwrap().rtc.unwrap().kind, RtcKind::Pl031);
}

/// The i.MX 8M Plus ENET's four interrupts, one per queue and one for
/// time stamps: SPIs 118 to 121.
const ENET_IRQS: [u32; 12] = [0, 118, 4, 0, 119, 4, 0, 120, 4, 0, 121, 4];

/// An ENET node at `base` with the i.MX 8M Plus's compatibles and
/// registers; `rest` writes its other properties and children.
fn enet(w: &mut FdtWriter, base: u32, rest: impl FnOnce(&mut FdtWriter)) {
    node(w, &format!("ethernet@{base:x}"), |w| {
        w.property_string_list(
            "compatible",
            vec![
                "fsl,imx8mp-fec".into(),
                "fsl,imx8mq-fec".into(),
                "fsl,imx6sx-fec".into(),
            ],
        )
        .unwrap();
        w.property_array_u32("reg", &[base, 0x10000]).unwrap();
        rest(w);
    });
}

/// An `mdio` bus with one PHY, phandle `ph`, at `address` (no `reg` if
/// none).
fn mdio(w: &mut FdtWriter, address: Option<u32>, ph: u32) {
    node(w, "mdio", |w| {
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 0).unwrap();
        node(w, "ethernet-phy@1", |w| {
            w.property_string("compatible", "ethernet-phy-ieee802.3-c22")
                .unwrap();
            if let Some(address) = address {
                w.property_u32("reg", address).unwrap();
            }
            w.property_phandle(ph).unwrap();
        });
    });
}

/// A tree shaped as the i.MX 8M Plus EVK's around `devices`: 64-bit
/// root cells, 2 GiB of RAM, the SoC bus and AIPS3 (where the UARTs,
/// the uSDHCs and the ENET sit) mapping their children's 32-bit
/// addresses one to one.
/// The Raspberry Pi 4's buses: /soc maps the peripherals' bus
/// addresses 0x7e00_0000.. to 0xfe00_0000.. and the ARM-local block
/// (the GIC-400) 0x4000_0000.. to 0xff80_0000.., under 64-bit root cells;
/// `devices` goes inside /soc.
fn bcm2711_soc(devices: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    blob(
        &[],
        |w| {
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 1).unwrap();
        },
        |w| {
            node(w, "memory@0", |w| {
                w.property_string("device_type", "memory").unwrap();
                w.property_array_u32("reg", &[0, 0, 0x3c00_0000]).unwrap();
            });
            node(w, "soc", |w| {
                w.property_string("compatible", "simple-bus").unwrap();
                cells_1_1(w);
                w.property_array_u32(
                    "ranges",
                    &[
                        0x7e00_0000,
                        0,
                        0xfe00_0000,
                        0x0180_0000,
                        0x4000_0000,
                        0,
                        0xff80_0000,
                        0x0080_0000,
                    ],
                )
                .unwrap();
                devices(w);
            });
        },
    )
}

#[test]
fn reg_is_translated_through_the_buses_ranges() {
    let dtb = bcm2711_soc(|w| {
        pl011(w, 0x7e20_1000, None);
        node(w, "interrupt-controller@40041000", |w| {
            w.property_string("compatible", "arm,gic-400").unwrap();
            w.property_array_u32(
                "reg",
                &[
                    0x4004_1000,
                    0x1000,
                    0x4004_2000,
                    0x2000,
                    0x4004_4000,
                    0x2000,
                    0x4004_6000,
                    0x2000,
                ],
            )
            .unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(info.uart.map(|u| u.base), Some(0xfe20_1000));
    let gic = info.gic_v2.unwrap();
    assert_eq!(gic.dist, Region::new(0xff84_1000, 0x1000));
    assert_eq!(gic.cpu, Region::new(0xff84_2000, 0x2000));
    assert_eq!(gic.vcpu, Some(Region::new(0xff84_6000, 0x2000)));
}

#[test]
fn an_address_outside_every_range_is_refused() {
    let dtb = bcm2711_soc(|w| pl011(w, 0x1000_0000, None));
    assert!(matches!(
        parse_host(&dtb),
        Err(DtError::BadProperty {
            property: "reg",
            ..
        })
    ));
}

fn imx8mp_aips3(devices: impl FnOnce(&mut FdtWriter)) -> Vec<u8> {
    blob(
        &[],
        |w| {
            w.property_u32("#address-cells", 2).unwrap();
            w.property_u32("#size-cells", 2).unwrap();
        },
        |w| {
            node(w, "memory@40000000", |w| {
                w.property_string("device_type", "memory").unwrap();
                w.property_array_u32("reg", &[0, 0x4000_0000, 0, 0x8000_0000])
                    .unwrap();
            });
            node(w, "soc@0", |w| {
                w.property_string("compatible", "simple-bus").unwrap();
                cells_1_1(w);
                w.property_array_u32("ranges", &[0, 0, 0, 0x3e00_0000])
                    .unwrap();
                node(w, "bus@30800000", |w| {
                    w.property_string_list(
                        "compatible",
                        vec!["fsl,aips-bus".into(), "simple-bus".into()],
                    )
                    .unwrap();
                    w.property_array_u32("reg", &[0x3080_0000, 0x40_0000])
                        .unwrap();
                    cells_1_1(w);
                    w.property_null("ranges").unwrap();
                    devices(w);
                });
            });
        },
    )
}

/// The ethernet a tree with RAM and the nodes `body` writes has.
fn ethernet_of(body: impl FnOnce(&mut FdtWriter)) -> Option<HostEthernet> {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        body(w);
    });
    parse_host(&dtb).unwrap().ethernet
}

#[test]
fn finds_the_imx8mp_enet_under_its_buses() {
    // As in the i.MX 8M Plus EVK's tree: 64-bit root cells, the SoC bus
    // and AIPS3 map their children's 32-bit addresses one to one, the
    // EQOS (which Aerie does not drive) follows, and the PHY sits on
    // the ENET's own MDIO bus.
    let dtb = imx8mp_aips3(|w| {
        enet(w, 0x30be_0000, |w| {
            w.property_array_u32("interrupts", &ENET_IRQS).unwrap();
            w.property_string("phy-mode", "rgmii-id").unwrap();
            w.property_u32("phy-handle", 9).unwrap();
            w.property_string("status", "okay").unwrap();
            mdio(w, Some(1), 9);
        });
        node(w, "ethernet@30bf0000", |w| {
            w.property_string_list(
                "compatible",
                vec!["nxp,imx8mp-dwmac-eqos".into(), "snps,dwmac-5.10a".into()],
            )
            .unwrap();
            w.property_array_u32("reg", &[0x30bf_0000, 0x10000])
                .unwrap();
            w.property_array_u32("interrupts", &[0, 135, 4]).unwrap();
        });
    });
    assert_eq!(
        parse_host(&dtb).unwrap().ethernet,
        Some(HostEthernet {
            kind: EthernetKind::ImxFec,
            region: Region::new(0x30be_0000, 0x10000),
            intid: 150,
            phy_address: Some(1),
            phy_mode: PhyMode::Rgmii,
        })
    );
}

#[test]
fn a_disabled_enet_is_not_taken() {
    let disabled = |w: &mut FdtWriter| {
        enet(w, 0x30be_0000, |w| {
            w.property_array_u32("interrupts", &ENET_IRQS).unwrap();
            w.property_string("status", "disabled").unwrap();
        });
    };
    assert_eq!(ethernet_of(disabled), None);
    // i.MX 6SX-like: the first ENET off, the second on.
    let second = ethernet_of(|w| {
        disabled(w);
        enet(w, 0x30bf_0000, |w| {
            w.property_array_u32("interrupts", &[0, 102, 4]).unwrap();
        });
    });
    assert_eq!(
        second.map(|e| (e.region.base, e.intid)),
        Some((0x30bf_0000, 134))
    );
}

#[test]
fn an_enet_without_a_gic_interrupt_is_not_taken() {
    assert_eq!(ethernet_of(|w| enet(w, 0x30be_0000, |_| {})), None);
    // Not whole 3-cell specifiers: none the GIC's binding says.
    let odd = |w: &mut FdtWriter| {
        enet(w, 0x30be_0000, |w| {
            w.property_array_u32("interrupts", &ENET_IRQS[..4]).unwrap();
        });
    };
    assert_eq!(ethernet_of(odd), None);
    let second = ethernet_of(|w| {
        odd(w);
        enet(w, 0x30bf_0000, |w| {
            w.property_array_u32("interrupts", &ENET_IRQS).unwrap();
        });
    });
    assert_eq!(second.map(|e| e.region.base), Some(0x30bf_0000));
}

#[test]
fn an_unknown_ethernet_is_not_taken() {
    let dwmac = ethernet_of(|w| {
        node(w, "ethernet@30bf0000", |w| {
            w.property_string("compatible", "snps,dwmac").unwrap();
            w.property_array_u32("reg", &[0x30bf_0000, 0x10000])
                .unwrap();
            w.property_array_u32("interrupts", &[0, 135, 4]).unwrap();
        });
    });
    assert_eq!(dwmac, None);
}

#[test]
fn phy_mode_names_the_mac_to_phy_interface() {
    let mode_of = |property: &'static str, mode: Option<&'static str>| {
        ethernet_of(|w| {
            enet(w, 0x30be_0000, |w| {
                w.property_array_u32("interrupts", &ENET_IRQS).unwrap();
                if let Some(mode) = mode {
                    w.property_string(property, mode).unwrap();
                }
            });
        })
        .unwrap()
        .phy_mode
    };
    for (mode, expected) in [
        ("rgmii", PhyMode::Rgmii),
        ("rgmii-id", PhyMode::Rgmii),
        ("rgmii-rxid", PhyMode::Rgmii),
        ("rgmii-txid", PhyMode::Rgmii),
        ("rmii", PhyMode::Rmii),
        ("mii", PhyMode::Mii),
        ("sgmii", PhyMode::Mii),
    ] {
        assert_eq!(mode_of("phy-mode", Some(mode)), expected, "{mode}");
    }
    // The older name, and none at all.
    assert_eq!(mode_of("phy-connection-type", Some("rmii")), PhyMode::Rmii);
    assert_eq!(mode_of("phy-mode", None), PhyMode::Mii);
}

#[test]
fn the_phy_address_is_the_reg_of_the_phy_handle_names() {
    let address_of = |handle: Option<u32>, reg: Option<u32>| {
        ethernet_of(|w| {
            enet(w, 0x30be_0000, |w| {
                w.property_array_u32("interrupts", &ENET_IRQS).unwrap();
                if let Some(handle) = handle {
                    w.property_u32("phy-handle", handle).unwrap();
                }
                mdio(w, reg, 9);
            });
        })
        .unwrap()
        .phy_address
    };
    assert_eq!(address_of(Some(9), Some(7)), Some(7));
    // No phy-handle; one no node has; a PHY without reg.
    assert_eq!(address_of(None, Some(7)), None);
    assert_eq!(address_of(Some(10), Some(7)), None);
    assert_eq!(address_of(Some(9), None), None);
}

/// A uSDHC node at `base` with the i.MX 8M Plus's compatibles and
/// registers; `rest` writes its other properties.
fn usdhc(w: &mut FdtWriter, base: u32, rest: impl FnOnce(&mut FdtWriter)) {
    node(w, &format!("mmc@{base:x}"), |w| {
        w.property_string_list(
            "compatible",
            vec![
                "fsl,imx8mp-usdhc".into(),
                "fsl,imx8mm-usdhc".into(),
                "fsl,imx7d-usdhc".into(),
            ],
        )
        .unwrap();
        w.property_array_u32("reg", &[base, 0x10000]).unwrap();
        rest(w);
    });
}

/// The SD host controllers a tree with RAM and the nodes `body` writes
/// has.
fn sd_hosts_of(body: impl FnOnce(&mut FdtWriter)) -> Vec<HostSdHost> {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        body(w);
    });
    parse_host(&dtb).unwrap().sd_hosts
}

#[test]
fn finds_the_raspberry_pi_4s_sdhcis_through_their_buses() {
    // The Pi 4's EMMC (its Wi-Fi's) under /soc, and its EMMC2 (the
    // card slot) on a bus of its own that maps 0x7e34_0000 the same
    // way.
    let dtb = bcm2711_soc(|w| {
        node(w, "mmc@7e300000", |w| {
            w.property_string("compatible", "brcm,bcm2835-sdhci")
                .unwrap();
            w.property_array_u32("reg", &[0x7e30_0000, 0x100]).unwrap();
        });
        node(w, "mmc@7e340000", |w| {
            w.property_string("compatible", "brcm,bcm2711-emmc2")
                .unwrap();
            w.property_array_u32("reg", &[0x7e34_0000, 0x100]).unwrap();
        });
    });
    let hosts = parse_host(&dtb).unwrap().sd_hosts;
    assert_eq!(
        hosts
            .iter()
            .map(|h| (h.kind, h.region.base))
            .collect::<Vec<_>>(),
        [
            (SdHostKind::Sdhci, 0xfe30_0000),
            (SdHostKind::Sdhci, 0xfe34_0000)
        ]
    );
}

#[test]
fn finds_the_raspberry_pi_4s_power_manager_through_its_bus() {
    // As in the Pi 4's tree: the power manager's block first, then the
    // ASB and RPi VEC blocks the same node lists.
    let dtb = bcm2711_soc(|w| {
        node(w, "watchdog@7e100000", |w| {
            w.property_string_list(
                "compatible",
                vec!["brcm,bcm2711-pm".into(), "brcm,bcm2835-pm-wdt".into()],
            )
            .unwrap();
            w.property_array_u32(
                "reg",
                &[0x7e10_0000, 0x114, 0x7e00_a000, 0x24, 0x7ec1_1000, 0x20],
            )
            .unwrap();
        });
    });
    assert_eq!(
        parse_host(&dtb).unwrap().power_controller,
        Some(HostPowerController {
            kind: PowerControllerKind::Bcm2835Pm,
            region: Region {
                base: 0xfe10_0000,
                size: 0x114
            },
        })
    );
    // A machine without one (QEMU virt, with PSCI) has none.
    let dtb = bcm2711_soc(|w| pl011(w, 0x7e20_1000, None));
    assert_eq!(parse_host(&dtb).unwrap().power_controller, None);
}

#[test]
fn finds_the_zcu102s_enabled_arasan_sdhci() {
    // The ZynqMP's two, of which the ZCU102 enables the card slot's.
    let sdhci = |w: &mut FdtWriter, base: u32, status: &str| {
        node(w, &format!("mmc@{base:x}"), |w| {
            w.property_string_list(
                "compatible",
                vec!["xlnx,zynqmp-8.9a".into(), "arasan,sdhci-8.9a".into()],
            )
            .unwrap();
            w.property_string("status", status).unwrap();
            w.property_array_u32("reg", &[base, 0x1000]).unwrap();
        });
    };
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        sdhci(w, 0xff16_0000, "disabled");
        sdhci(w, 0xff17_0000, "okay");
    });
    let hosts = parse_host(&dtb).unwrap().sd_hosts;
    assert_eq!(
        hosts
            .iter()
            .map(|h| (h.kind, h.region.base, h.bus_width))
            .collect::<Vec<_>>(),
        // Its tree gives no `bus-width`: one data line, as for Linux.
        [(SdHostKind::Sdhci, 0xff17_0000, 1)]
    );
}

#[test]
fn finds_the_enabled_imx8mp_usdhcs_in_tree_order() {
    // As in the i.MX 8M Plus EVK's tree: 64-bit root cells, the SoC bus
    // and AIPS3 map their children's 32-bit addresses one to one;
    // uSDHC1 (the Wi-Fi's) is off, uSDHC2 is the card slot and uSDHC3
    // the eMMC.
    let dtb = imx8mp_aips3(|w| {
        usdhc(w, 0x30b4_0000, |w| {
            w.property_string("status", "disabled").unwrap();
        });
        usdhc(w, 0x30b5_0000, |w| {
            w.property_string("status", "okay").unwrap();
            w.property_u32("bus-width", 4).unwrap();
        });
        usdhc(w, 0x30b6_0000, |w| {
            w.property_null("non-removable").unwrap();
            w.property_u32("bus-width", 8).unwrap();
            w.property_string("status", "okay").unwrap();
        });
    });
    assert_eq!(
        parse_host(&dtb).unwrap().sd_hosts,
        vec![
            HostSdHost {
                kind: SdHostKind::ImxUsdhc,
                region: Region::new(0x30b5_0000, 0x10000),
                non_removable: false,
                bus_width: 4,
            },
            HostSdHost {
                kind: SdHostKind::ImxUsdhc,
                region: Region::new(0x30b6_0000, 0x10000),
                non_removable: true,
                bus_width: 8,
            },
        ]
    );
}

#[test]
fn an_unknown_sd_host_is_not_taken() {
    // Synopsys' DesignWare MMC (Rockchip, Exynos): no SDHCI.
    let dw_mmc = sd_hosts_of(|w| {
        node(w, "mmc@fe2b0000", |w| {
            w.property_string("compatible", "snps,dw-mshc").unwrap();
            w.property_array_u32("reg", &[0xfe2b_0000, 0x4000]).unwrap();
        });
    });
    assert_eq!(dw_mmc, vec![]);
}

#[test]
fn a_usdhc_without_reg_is_skipped() {
    let hosts = sd_hosts_of(|w| {
        node(w, "mmc", |w| {
            w.property_string("compatible", "fsl,imx6q-usdhc").unwrap();
        });
        usdhc(w, 0x30b5_0000, |_| {});
    });
    assert_eq!(
        hosts.iter().map(|h| h.region.base).collect::<Vec<_>>(),
        vec![0x30b5_0000]
    );
}

/// A PL061 at `base` with phandle `ph` (its interrupt SPI 7 unless
/// `irq` is false), and a gpio-keys node with one key per
/// `(code, <phandle pin flags>)`.
fn gpio_keys(w: &mut FdtWriter, base: u32, ph: u32, irq: bool, keys: &[(u32, [u32; 3])]) {
    node(w, &format!("pl061@{base:x}"), |w| {
        w.property_string_list(
            "compatible",
            vec!["arm,pl061".into(), "arm,primecell".into()],
        )
        .unwrap();
        w.property_array_u32("reg", &[base, 0x1000]).unwrap();
        if irq {
            w.property_array_u32("interrupts", &[0, 7, 4]).unwrap();
        }
        w.property_phandle(ph).unwrap();
    });
    node(w, "gpio-keys", |w| {
        w.property_string("compatible", "gpio-keys").unwrap();
        for (i, (code, gpios)) in keys.iter().enumerate() {
            node(w, &format!("key{i}"), |w| {
                w.property_u32("linux,code", *code).unwrap();
                w.property_array_u32("gpios", gpios).unwrap();
            });
        }
    });
}

#[test]
fn the_power_button_is_a_key_power_on_a_pl061_with_an_interrupt() {
    let parse = |irq: bool, keys: &[(u32, [u32; 3])]| {
        let dtb = blob(&[], cells_1_1, |w| {
            memory_32(w);
            gpio_keys(w, 0x903_0000, 5, irq, keys);
        });
        parse_host(&dtb).unwrap().power_button
    };
    // KEY_VOLUMEUP first: the power key is found past it; active low.
    assert_eq!(
        parse(true, &[(115, [5, 1, 0]), (KEY_POWER, [5, 4, 1])]),
        Some(PowerButton {
            gpio: Region::new(0x903_0000, 0x1000),
            intid: 39,
            pin: 4,
            active_low: true,
        })
    );
    // No power key; a key on another controller (phandle 6); a pin a
    // PL061 does not have; a PL061 without an interrupt: none.
    assert_eq!(parse(true, &[(115, [5, 3, 0])]), None);
    assert_eq!(parse(true, &[(KEY_POWER, [6, 3, 0])]), None);
    assert_eq!(parse(true, &[(KEY_POWER, [5, 8, 0])]), None);
    assert_eq!(parse(false, &[(KEY_POWER, [5, 3, 0])]), None);
}

/// An `aerie,qemu-ged` node at QEMU's GED selector; `rest` writes its
/// other properties.
fn ged(w: &mut FdtWriter, base: u32, rest: impl FnOnce(&mut FdtWriter)) {
    node(w, &format!("ged@{base:x}"), |w| {
        w.property_string("compatible", "aerie,qemu-ged").unwrap();
        w.property_array_u32("reg", &[base, 4]).unwrap();
        rest(w);
    });
}

/// The GED button a tree with RAM and the nodes `body` writes has.
fn ged_button_of(body: impl FnOnce(&mut FdtWriter)) -> Option<GedButton> {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        body(w);
    });
    parse_host(&dtb).unwrap().ged_button
}

#[test]
fn the_ged_button_is_the_first_enabled_ged_with_an_spi() {
    let whole = |w: &mut FdtWriter| {
        w.property_array_u32("interrupts", &[0, 9, 1]).unwrap();
        w.property_u32("aerie,power-down-event", 2).unwrap();
    };
    assert_eq!(
        ged_button_of(|w| ged(w, 0x908_0000, whole)),
        Some(GedButton {
            region: Region::new(0x908_0000, 4),
            intid: 41,
            power_down: 2,
        })
    );
    // Each of these is passed over for the whole one after it: off; no
    // interrupt; a PPI; no power-down event; no reg.
    let skipped: [fn(&mut FdtWriter); 5] = [
        |w| {
            ged(w, 0x100, |w| {
                w.property_array_u32("interrupts", &[0, 9, 1]).unwrap();
                w.property_u32("aerie,power-down-event", 2).unwrap();
                w.property_string("status", "disabled").unwrap();
            })
        },
        |w| {
            ged(w, 0x100, |w| {
                w.property_u32("aerie,power-down-event", 2).unwrap()
            })
        },
        |w| {
            ged(w, 0x100, |w| {
                w.property_array_u32("interrupts", &[1, 9, 1]).unwrap();
                w.property_u32("aerie,power-down-event", 2).unwrap();
            })
        },
        |w| {
            ged(w, 0x100, |w| {
                w.property_array_u32("interrupts", &[0, 9, 1]).unwrap();
            })
        },
        |w| {
            node(w, "ged", |w| {
                w.property_string("compatible", "aerie,qemu-ged").unwrap();
                w.property_array_u32("interrupts", &[0, 9, 1]).unwrap();
                w.property_u32("aerie,power-down-event", 2).unwrap();
            })
        },
    ];
    for first in skipped {
        assert_eq!(ged_button_of(first), None);
        let second = ged_button_of(|w| {
            first(w);
            ged(w, 0x908_0000, whole);
        });
        assert_eq!(second.map(|g| g.region.base), Some(0x908_0000));
    }
}

#[test]
fn uart_fallback_skips_disabled_secure_uart() {
    let dtb = blob(&[], cells_1_1, |w| {
        memory_32(w);
        pl011(w, 0x0904_0000, Some("disabled"));
        pl011(w, 0x0900_0000, Some("okay"));
        node(w, "chosen", |w| {
            w.property_string("stdout-path", "/nonexistent").unwrap();
        });
    });
    let info = parse_host(&dtb).unwrap();
    assert_eq!(info.uart, Some(Region::new(0x0900_0000, 0x1000)));
}

#[test]
fn initrd_accepts_32_bit_cells_and_checks_order() {
    let with = |start: Option<u32>, end: Option<u32>| {
        blob(&[], cells_1_1, |w| {
            memory_32(w);
            node(w, "chosen", |w| {
                if let Some(s) = start {
                    w.property_u32("linux,initrd-start", s).unwrap();
                }
                if let Some(e) = end {
                    w.property_u32("linux,initrd-end", e).unwrap();
                }
            });
        })
    };
    let info = parse_host(&with(Some(0x8400_0000), Some(0x8480_0000))).unwrap();
    assert_eq!(info.initrd, Some(Region::new(0x8400_0000, 0x80_0000)));
    assert!(matches!(
        parse_host(&with(Some(0x8480_0000), Some(0x8400_0000))),
        Err(DtError::BadProperty {
            property: "linux,initrd-end",
            ..
        })
    ));
    assert_eq!(
        parse_host(&with(Some(0x8400_0000), None)),
        Err(DtError::MissingProperty {
            node: "/chosen".into(),
            property: "linux,initrd-end"
        })
    );
}

fn gic_and_timer(redist_regions: u32, reg: &[u32], timer_irqs: &[u32]) -> Vec<u8> {
    blob(
        &[],
        |w| {
            cells_1_1(w);
            w.property_u32("interrupt-parent", 1).unwrap();
        },
        |w| {
            memory_32(w);
            node(w, "interrupt-controller@2f000000", |w| {
                w.property_string("compatible", "arm,gic-v3").unwrap();
                w.property_u32("#interrupt-cells", 3).unwrap();
                w.property_null("interrupt-controller").unwrap();
                w.property_u32("#redistributor-regions", redist_regions)
                    .unwrap();
                w.property_array_u32("reg", reg).unwrap();
                w.property_phandle(1).unwrap();
            });
            node(w, "timer", |w| {
                w.property_string("compatible", "arm,armv8-timer").unwrap();
                w.property_array_u32("interrupts", timer_irqs).unwrap();
            });
        },
    )
}

const FIVE_PPIS: [u32; 15] = [1, 13, 8, 1, 14, 8, 1, 11, 8, 1, 10, 8, 1, 12, 8];

#[test]
fn gic_with_two_redistributor_regions_and_gicc_frames() {
    let reg = [
        0x2f00_0000,
        0x1_0000, // GICD
        0x2f10_0000,
        0x10_0000, // GICR region 0
        0x2f30_0000,
        0x4_0000, // GICR region 1
        0x2c00_0000,
        0x2000, // GICC (legacy), ignored
    ];
    let info = parse_host(&gic_and_timer(2, &reg, &FIVE_PPIS)).unwrap();
    assert_eq!(
        info.gic,
        Some(GicV3 {
            dist: Region::new(0x2f00_0000, 0x1_0000),
            redist: vec![
                Region::new(0x2f10_0000, 0x10_0000),
                Region::new(0x2f30_0000, 0x4_0000)
            ],
        })
    );
    // Interrupt parent inherited from the root; fifth PPI 12 is the EL2 virtual timer.
    assert_eq!(
        info.timer,
        Some(Timer {
            secure_phys: 29,
            nonsecure_phys: 30,
            virt: 27,
            hyp: 26,
            hyp_virt: Some(28),
        })
    );
    let err = parse_host(&gic_and_timer(2, &reg[..4], &FIVE_PPIS)).unwrap_err();
    assert!(matches!(
        err,
        DtError::BadProperty {
            property: "reg",
            ..
        }
    ));
    assert!(err.to_string().contains("/interrupt-controller@2f000000"));
}

#[test]
fn timer_rejects_spis_and_short_lists() {
    let reg = [0x2f00_0000, 0x1_0000, 0x2f10_0000, 0x10_0000];
    let mut spi = FIVE_PPIS;
    spi[0] = 0;
    assert!(matches!(
        parse_host(&gic_and_timer(1, &reg, &spi)),
        Err(DtError::BadProperty {
            reason: "timer interrupt is an SPI, expected a PPI",
            ..
        })
    ));
    assert!(matches!(
        parse_host(&gic_and_timer(1, &reg, &FIVE_PPIS[..9])),
        Err(DtError::BadProperty {
            reason: "fewer than the 4 required timer interrupts",
            ..
        })
    ));
    assert!(matches!(
        parse_host(&gic_and_timer(1, &reg, &FIVE_PPIS[..10])),
        Err(DtError::BadProperty {
            reason: "length not a multiple of #interrupt-cells",
            ..
        })
    ));
}
