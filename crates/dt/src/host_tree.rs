//! The host device tree written from a [`HostInfo`]: what a boot loader
//! hands Aerie when the firmware described the machine some other way (ACPI,
//! see `crates/acpi`). It holds exactly the nodes [`parse_host`] reads, in
//! the bindings QEMU's own tree uses (and, for the ACPI-only Generic Event
//! Device, a node of Aerie's own: see [`GedButton`]), so that
//! `parse_host(host_tree(info))` gives `info` back: Aerie keeps one way of
//! learning its machine.
//!
//! [`GedButton`]: crate::GedButton
//!
//! [`parse_host`]: crate::parse_host

use alloc::format;
use alloc::vec::Vec;

use vm_fdt::{FdtReserveEntry, FdtWriter};

use crate::binding::{
    reg2, GIC_PPI, GIC_SPI, IRQ_TYPE_LEVEL_HIGH, IRQ_TYPE_LEVEL_LOW, PPI_INTIDS, SPI_INTIDS,
};
use crate::error::{DtError, Step};
use crate::host::HostInfo;
use crate::region::Region;
use crate::uart::UartKind;

const PHANDLE_GIC: u32 = 1;
/// The register frames of a PL011 and a PL031.
const PRIMECELL_SIZE: u64 = 0x1000;

/// A device tree describing `info`. Fails on what no tree can say: an
/// interrupt that is not an SPI where one must be, a timer interrupt that is
/// not a PPI, or a region that wraps the address space.
pub fn host_tree(info: &HostInfo) -> Result<Vec<u8>, DtError> {
    let reservations = info
        .reserved
        .iter()
        .map(|r| FdtReserveEntry::new(r.base, r.size).step("reservation"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut w = FdtWriter::new_with_mem_reserv(&reservations).step("create writer")?;
    let root = w.begin_node("").step("root")?;
    w.property_u32("#address-cells", 2).step("root")?;
    w.property_u32("#size-cells", 2).step("root")?;
    if let Some(model) = &info.model {
        w.property_string("model", model).step("root")?;
    }
    if info.gic.is_some() || info.gic_v2.is_some() {
        w.property_u32("interrupt-parent", PHANDLE_GIC)
            .step("root")?;
    }
    if let Some(first) = info.memory.first() {
        let node = w
            .begin_node(&format!("memory@{:x}", first.base))
            .step("memory")?;
        w.property_string("device_type", "memory").step("memory")?;
        w.property_array_u64("reg", &pairs(&info.memory)?)
            .step("memory")?;
        w.end_node(node).step("memory")?;
    }
    cpus(&mut w, info)?;
    if let Some(method) = &info.psci_method {
        let node = w.begin_node("psci").step("psci")?;
        w.property_string("compatible", "arm,psci-0.2")
            .step("psci")?;
        w.property_string("method", method).step("psci")?;
        w.end_node(node).step("psci")?;
    }
    if let Some(gic) = &info.gic {
        let node = w
            .begin_node(&format!("intc@{:x}", gic.dist.base))
            .step("gic")?;
        w.property_string("compatible", "arm,gic-v3").step("gic")?;
        w.property_u32("#interrupt-cells", 3).step("gic")?;
        w.property_null("interrupt-controller").step("gic")?;
        w.property_u32("#redistributor-regions", gic.redist.len() as u32)
            .step("gic")?;
        let mut regions = Vec::from([gic.dist]);
        regions.extend(&gic.redist);
        w.property_array_u64("reg", &pairs(&regions)?).step("gic")?;
        w.property_phandle(PHANDLE_GIC).step("gic")?;
        w.end_node(node).step("gic")?;
    } else if let Some(gic) = &info.gic_v2 {
        crate::gic_v2::write(&mut w, gic, PHANDLE_GIC)?;
    }
    if let Some(t) = &info.timer {
        let mut cells = Vec::new();
        let all = [t.secure_phys, t.nonsecure_phys, t.virt, t.hyp];
        for intid in all.iter().chain(&t.hyp_virt) {
            // Low-level, as the architected timer binding writes them.
            cells.extend([GIC_PPI, ppi(*intid)?, IRQ_TYPE_LEVEL_LOW]);
        }
        let node = w.begin_node("timer").step("timer")?;
        w.property_string("compatible", "arm,armv8-timer")
            .step("timer")?;
        w.property_array_u32("interrupts", &cells).step("timer")?;
        w.end_node(node).step("timer")?;
    }
    let uart_path = match info.uart {
        Some(uart) => Some(serial(&mut w, info.uart_kind, uart, info.uart_intid)?),
        None => None,
    };
    if let Some(rtc) = info.rtc {
        crate::rtc::write(&mut w, rtc, &pairs(&[rtc.region])?)?;
    }
    if let Some(ged) = info.ged_button {
        crate::ged::write(&mut w, ged, &pairs(&[ged.region])?, spi(ged.intid)?)?;
    }
    if let Some(eth) = info.ethernet {
        crate::ethernet::write(&mut w, eth, &pairs(&[eth.region])?, spi(eth.intid)?)?;
    }
    for &sd in &info.sd_hosts {
        crate::sd_host::write(&mut w, sd, &pairs(&[sd.region])?)?;
    }
    for v in &info.virtio_mmio {
        let node = w
            .begin_node(&format!("virtio_mmio@{:x}", v.region.base))
            .step("virtio-mmio")?;
        w.property_string("compatible", "virtio,mmio")
            .step("virtio-mmio")?;
        w.property_array_u64("reg", &pairs(&[v.region])?)
            .step("virtio-mmio")?;
        if let Some(intid) = v.intid {
            w.property_array_u32("interrupts", &[GIC_SPI, spi(intid)?, IRQ_TYPE_LEVEL_HIGH])
                .step("virtio-mmio")?;
        }
        w.end_node(node).step("virtio-mmio")?;
    }
    let chosen = w.begin_node("chosen").step("chosen")?;
    if let Some(path) = &uart_path {
        w.property_string("stdout-path", path).step("chosen")?;
    }
    if let Some(args) = &info.bootargs {
        w.property_string("bootargs", args).step("chosen")?;
    }
    if let Some(initrd) = info.initrd {
        let end = initrd
            .end()
            .ok_or(DtError::InvalidSpec("the initrd wraps the address space"))?;
        w.property_u64("linux,initrd-start", initrd.base)
            .step("chosen")?;
        w.property_u64("linux,initrd-end", end).step("chosen")?;
    }
    if let Some(seed) = &info.rng_seed {
        w.property("rng-seed", seed).step("chosen")?;
    }
    if let Some(clock) = info.wall_clock {
        crate::handoff::write_wall_clock(&mut w, clock)?;
    }
    w.end_node(chosen).step("chosen")?;
    w.end_node(root).step("root")?;
    w.finish().step("finish")
}

fn cpus(w: &mut FdtWriter, info: &HostInfo) -> Result<(), DtError> {
    let node = w.begin_node("cpus").step("cpus")?;
    w.property_u32("#address-cells", 2).step("cpus")?;
    w.property_u32("#size-cells", 0).step("cpus")?;
    for cpu in &info.cpus {
        let c = w.begin_node(&format!("cpu@{:x}", cpu.mpidr)).step("cpu")?;
        w.property_string("device_type", "cpu").step("cpu")?;
        w.property_string("compatible", "arm,armv8").step("cpu")?;
        w.property_u64("reg", cpu.mpidr).step("cpu")?;
        if let Some(method) = &cpu.enable_method {
            w.property_string("enable-method", method).step("cpu")?;
        }
        if let Some(addr) = cpu.release_addr {
            w.property_u64("cpu-release-addr", addr).step("cpu")?;
        }
        w.end_node(c).step("cpu")?;
    }
    w.end_node(node).step("cpus")
}

/// A PL011 or PL031 node; returns its path.
fn primecell(
    w: &mut FdtWriter,
    part: &str,
    region: Region,
    intid: Option<u32>,
) -> Result<alloc::string::String, DtError> {
    let compatible = [format!("arm,{part}"), "arm,primecell".into()];
    device(
        w,
        &format!("{part}@{:x}", region.base),
        &compatible,
        region,
        intid,
    )
}

/// The console UART's node; returns its path.
fn serial(
    w: &mut FdtWriter,
    kind: UartKind,
    region: Region,
    intid: Option<u32>,
) -> Result<alloc::string::String, DtError> {
    if kind == UartKind::Pl011 {
        return primecell(w, "pl011", region, intid);
    }
    let compatible: Vec<alloc::string::String> =
        kind.compatible().iter().map(|c| (*c).into()).collect();
    // A 16550's register layout is in properties of its own.
    let layout = match kind {
        UartKind::Ns16550 {
            reg_shift,
            io_width,
        } => alloc::vec![
            ("reg-shift", u32::from(reg_shift)),
            ("reg-io-width", u32::from(io_width)),
        ],
        _ => Vec::new(),
    };
    device_with(
        w,
        &format!("serial@{:x}", region.base),
        &compatible,
        region,
        intid,
        &layout,
    )
}

/// A device node `name` with its registers and, if given, its SPI; returns
/// its path.
fn device(
    w: &mut FdtWriter,
    name: &str,
    compatible: &[alloc::string::String],
    region: Region,
    intid: Option<u32>,
) -> Result<alloc::string::String, DtError> {
    device_with(w, name, compatible, region, intid, &[])
}

/// [`device`] with more one-cell properties.
fn device_with(
    w: &mut FdtWriter,
    name: &str,
    compatible: &[alloc::string::String],
    region: Region,
    intid: Option<u32>,
    props: &[(&str, u32)],
) -> Result<alloc::string::String, DtError> {
    let node = w.begin_node(name).step("device")?;
    w.property_string_list("compatible", compatible.to_vec())
        .step("device")?;
    w.property_array_u64("reg", &pairs(&[region])?)
        .step("device")?;
    for (prop, value) in props {
        w.property_u32(prop, *value).step("device")?;
    }
    if let Some(intid) = intid {
        w.property_array_u32("interrupts", &[GIC_SPI, spi(intid)?, IRQ_TYPE_LEVEL_HIGH])
            .step("device")?;
    }
    w.end_node(node).step("device")?;
    Ok(format!("/{name}"))
}

/// `reg` cells (2 address, 2 size) of `regions`.
fn pairs(regions: &[Region]) -> Result<Vec<u64>, DtError> {
    if regions.iter().any(|r| r.end().is_none()) {
        return Err(DtError::InvalidSpec("a region wraps the address space"));
    }
    Ok(reg2(regions))
}

/// The SPI number of INTID `intid` (one of [`SPI_INTIDS`]).
fn spi(intid: u32) -> Result<u32, DtError> {
    if !SPI_INTIDS.contains(&intid) {
        return Err(DtError::InvalidSpec("a device interrupt is not an SPI"));
    }
    Ok(intid - SPI_INTIDS.start())
}

/// The PPI number of INTID `intid` (one of [`PPI_INTIDS`]).
fn ppi(intid: u32) -> Result<u32, DtError> {
    if !PPI_INTIDS.contains(&intid) {
        return Err(DtError::InvalidSpec("a timer interrupt is not a PPI"));
    }
    Ok(intid - PPI_INTIDS.start())
}

/// The size a PL011 or PL031 region has when nothing says otherwise.
pub const fn primecell_region(base: u64) -> Region {
    Region::new(base, PRIMECELL_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethernet::{EthernetKind, HostEthernet, PhyMode};
    use crate::ged::GedButton;
    use crate::host::{parse_host, Cpu, GicV3, HostVirtio, Timer};
    use crate::rtc::{HostRtc, RtcKind};
    use crate::sd_host::{HostSdHost, SdHostKind};
    use alloc::string::ToString;
    use alloc::vec;

    /// The machine QEMU's `virt` board describes, as Aerie reads it.
    fn qemu_like() -> HostInfo {
        HostInfo {
            memory: vec![Region::new(0x4000_0000, 0x4000_0000)],
            reserved: vec![Region::new(0x4800_0000, 0x1000)],
            cpus: (0..2)
                .map(|i| Cpu {
                    mpidr: i,
                    enable_method: Some("psci".to_string()),
                    release_addr: None,
                })
                .collect(),
            uart: Some(primecell_region(0x900_0000)),
            uart_intid: Some(33),
            uart_kind: UartKind::Pl011,
            gic: Some(GicV3 {
                dist: Region::new(0x800_0000, 0x1_0000),
                redist: vec![Region::new(0x80a_0000, 0xf6_0000)],
            }),
            gic_v2: None,
            timer: Some(Timer {
                secure_phys: 29,
                nonsecure_phys: 30,
                virt: 27,
                hyp: 26,
                hyp_virt: Some(28),
            }),
            psci_method: Some("smc".to_string()),
            bootargs: Some("aerie.log=debug".to_string()),
            initrd: Some(Region::new(0x4800_0000, 0x2000)),
            rng_seed: Some(vec![7; 32]),
            model: Some("from ACPI: BOCHS BXPC".to_string()),
            virtio_mmio: vec![
                HostVirtio {
                    region: Region::new(0xa00_0000, 0x200),
                    intid: Some(48),
                },
                HostVirtio {
                    region: Region::new(0xa00_0200, 0x200),
                    intid: None,
                },
            ],
            rtc: Some(HostRtc {
                kind: RtcKind::Pl031,
                region: primecell_region(0x901_0000),
            }),
            wall_clock: Some(crate::WallClock {
                unix_seconds: 1_795_000_000,
                counter: 77,
            }),
            // ACPI describes its power button otherwise: a GED event.
            power_button: None,
            ged_button: Some(GedButton {
                region: Region::new(0x908_0000, 4),
                intid: 41,
                power_down: 0x2,
            }),
            ethernet: None,
            // Its disks are virtio's.
            sd_hosts: vec![],
            power_controller: None,
        }
    }

    #[test]
    fn the_host_parser_reads_back_what_was_written() {
        let info = qemu_like();
        assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
    }

    #[test]
    fn a_tree_without_optional_parts_reads_back_too() {
        let info = HostInfo {
            memory: vec![Region::new(0x8000_0000, 0x1000_0000)],
            gic: Some(GicV3 {
                dist: Region::new(0x2f00_0000, 0x1_0000),
                redist: vec![
                    Region::new(0x2f10_0000, 0x4_0000),
                    Region::new(0x2f20_0000, 0x4_0000),
                ],
            }),
            cpus: vec![Cpu {
                mpidr: 0x81_0000_0100,
                enable_method: None,
                release_addr: None,
            }],
            ..HostInfo::default()
        };
        assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
    }

    #[test]
    fn each_rtc_kind_reads_back_as_itself() {
        for (kind, base) in [
            (RtcKind::Pl031, 0x0901_0000),
            (RtcKind::ZynqMp, 0xf12a_0000),
            (RtcKind::ImxSnvs { lp_offset: 0x34 }, 0x3037_0000),
        ] {
            let mut info = qemu_like();
            info.rtc = Some(HostRtc {
                kind,
                region: Region::new(base, 0x10000),
            });
            assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
        }
    }

    #[test]
    fn the_ethernet_reads_back_as_itself() {
        // The i.MX 8M Plus's ENET, with and without a PHY the tree names,
        // beside the SNVS RTC whose phandle the PHY's must not take.
        for phy_mode in [PhyMode::Mii, PhyMode::Rmii, PhyMode::Rgmii] {
            for phy_address in [Some(1), Some(0x1f), None] {
                let mut info = qemu_like();
                info.rtc = Some(HostRtc {
                    kind: RtcKind::ImxSnvs { lp_offset: 0x34 },
                    region: Region::new(0x3037_0000, 0x10000),
                });
                info.ethernet = Some(HostEthernet {
                    kind: EthernetKind::ImxFec,
                    region: Region::new(0x30be_0000, 0x10000),
                    intid: 150,
                    phy_address,
                    phy_mode,
                });
                assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
            }
        }
    }

    #[test]
    fn the_ged_button_reads_back_as_itself() {
        // QEMU's, one at the last SPI with every event bit, and none.
        for ged in [
            Some(GedButton {
                region: Region::new(0x908_0000, 4),
                intid: 41,
                power_down: 0x2,
            }),
            Some(GedButton {
                region: Region::new(0x1_0000_0000, 0x1000),
                intid: 1019,
                power_down: u32::MAX,
            }),
            None,
        ] {
            let mut info = qemu_like();
            info.ged_button = ged;
            let back = parse_host(&host_tree(&info).unwrap()).unwrap();
            assert_eq!(back.ged_button, ged);
            assert_eq!(back, info);
        }
    }

    #[test]
    fn the_sd_hosts_read_back_as_themselves() {
        // The i.MX 8M Plus EVK's card slot and eMMC, in its tree's order,
        // then an SDHCI.
        let mut info = qemu_like();
        info.sd_hosts = [
            (SdHostKind::ImxUsdhc, 0x30b5_0000, false, 4),
            (SdHostKind::ImxUsdhc, 0x30b6_0000, true, 8),
            (SdHostKind::Sdhci, 0xfe34_0000, false, 1),
        ]
        .map(|(kind, base, non_removable, bus_width)| HostSdHost {
            kind,
            region: Region::new(base, 0x100),
            non_removable,
            bus_width,
        })
        .to_vec();
        assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
    }

    #[test]
    fn each_uart_kind_reads_back_as_itself() {
        for kind in [
            UartKind::Pl011,
            UartKind::Sbsa,
            UartKind::Imx,
            UartKind::Ns16550 {
                reg_shift: 2,
                io_width: 4,
            },
            UartKind::Ns16550 {
                reg_shift: 0,
                io_width: 1,
            },
            UartKind::MiniUart,
            UartKind::Cadence,
        ] {
            let mut info = qemu_like();
            info.uart_kind = kind;
            let back = parse_host(&host_tree(&info).unwrap()).unwrap();
            assert_eq!(back, info);
            assert_eq!(back.uart_kind, kind);
        }
    }

    #[test]
    fn interrupts_a_tree_cannot_say_are_refused() {
        let mut info = qemu_like();
        info.uart_intid = Some(27);
        assert_eq!(
            host_tree(&info),
            Err(DtError::InvalidSpec("a device interrupt is not an SPI"))
        );
        let mut info = qemu_like();
        info.timer.as_mut().unwrap().virt = 40;
        assert_eq!(
            host_tree(&info),
            Err(DtError::InvalidSpec("a timer interrupt is not a PPI"))
        );
        let mut info = qemu_like();
        info.ethernet = Some(HostEthernet {
            kind: EthernetKind::ImxFec,
            region: Region::new(0x30be_0000, 0x10000),
            intid: 30,
            phy_address: None,
            phy_mode: PhyMode::Rgmii,
        });
        assert_eq!(
            host_tree(&info),
            Err(DtError::InvalidSpec("a device interrupt is not an SPI"))
        );
        for intid in [27, 1020] {
            let mut info = qemu_like();
            info.ged_button.as_mut().unwrap().intid = intid;
            assert_eq!(
                host_tree(&info),
                Err(DtError::InvalidSpec("a device interrupt is not an SPI"))
            );
        }
        let mut info = qemu_like();
        info.virtio_mmio[0].region = Region::new(u64::MAX, 2);
        assert_eq!(
            host_tree(&info),
            Err(DtError::InvalidSpec("a region wraps the address space"))
        );
    }
}
