//! What the hypervisor needs to know about the machine, read from the DTB the
//! boot loader (QEMU, U-Boot, UEFI) passes in x0.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::binding::{GIC_PPI, GIC_SPI};
use crate::error::DtError;
use crate::ethernet::HostEthernet;
use crate::fdt::cells::{cells, is_compatible, prop_str, prop_u32, prop_u32_or_u64, reg, str_list};
use crate::fdt::tree::{NodeRef, Tree};
use crate::ged::GedButton;
use crate::guest::KEY_POWER;
use crate::handoff::{WallClock, WALL_CLOCK_PROP};
use crate::power::HostPowerController;
use crate::region::Region;
use crate::rtc::HostRtc;
use crate::sd_host::HostSdHost;
use crate::uart::UartKind;

/// One physical CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// `reg` of the cpu node: the MPIDR_EL1 affinity fields (Aff3..Aff0).
    pub mpidr: u64,
    /// "psci" or "spin-table", if given.
    pub enable_method: Option<String>,
    /// `cpu-release-addr` (spin-table): the physical address the CPU polls
    /// for where to start.
    pub release_addr: Option<u64>,
}

/// GICv3 frames ("arm,gic-v3" binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GicV3 {
    pub dist: Region,
    /// One entry per redistributor region (`#redistributor-regions`, default 1).
    pub redist: Vec<Region>,
}

/// Generic timer interrupts ("arm,armv8-timer" binding), as GIC INTIDs
/// (PPI n is INTID 16 + n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub secure_phys: u32,
    pub nonsecure_phys: u32,
    pub virt: u32,
    pub hyp: u32,
    /// EL2 virtual timer (FEAT_VHE), a fifth optional entry.
    pub hyp_virt: Option<u32>,
}

/// One virtio-mmio transport of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostVirtio {
    pub region: Region,
    /// Its interrupt as a GIC INTID, when the node has a 3-cell GIC
    /// `interrupts` specifier.
    pub intid: Option<u32>,
}

/// The machine's power button: a `gpio-keys` key with KEY_POWER on a pin
/// of a PL061 (QEMU virt: pin 3 of the PL061 at 0x0903_0000, SPI 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerButton {
    /// The PL061's registers.
    pub gpio: Region,
    /// Its interrupt as a GIC INTID.
    pub intid: u32,
    /// The pin (0..8).
    pub pin: u32,
    /// The key reads low when pressed (GPIO_ACTIVE_LOW).
    pub active_low: bool,
}

/// The machine as the hypervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostInfo {
    /// Every `reg` range of every `device_type = "memory"` node.
    pub memory: Vec<Region>,
    /// `/memreserve/` entries and `reg` of enabled `/reserved-memory` children.
    pub reserved: Vec<Region>,
    pub cpus: Vec<Cpu>,
    /// The UART named by /chosen stdout-path, else the first enabled UART
    /// of a kind Aerie drives (see [`UartKind`]).
    pub uart: Option<Region>,
    /// What `uart` is.
    pub uart_kind: UartKind,
    /// The UART's interrupt as a GIC INTID (SPI n = 32 + n), when its node
    /// has a 3-cell GIC `interrupts` specifier.
    pub uart_intid: Option<u32>,
    pub gic: Option<GicV3>,
    /// A GICv2 (GIC-400), on machines without a GICv3 (see [`GicV2`]).
    pub gic_v2: Option<crate::gic_v2::GicV2>,
    pub timer: Option<Timer>,
    /// PSCI conduit, "smc" or "hvc".
    pub psci_method: Option<String>,
    pub bootargs: Option<String>,
    /// From /chosen linux,initrd-start/end.
    pub initrd: Option<Region>,
    /// /chosen/rng-seed: entropy from the boot loader (QEMU puts 32 bytes
    /// there), if any.
    pub rng_seed: Option<Vec<u8>>,
    pub model: Option<String>,
    /// Enabled `virtio,mmio` transports, in tree order (each may or may not
    /// have a device behind it: read its DeviceID).
    pub virtio_mmio: Vec<HostVirtio>,
    /// The real-time clock Aerie reads the time of day from once at boot:
    /// Aerie's wall clock (see [`HostRtc`]).
    pub rtc: Option<HostRtc>,
    /// `/chosen/aerie,wall-clock`: the time of day the boot loader read from
    /// the firmware, for machines without an RTC Aerie reads.
    pub wall_clock: Option<WallClock>,
    /// The power button, where it is a key on a PL061 pin with an
    /// interrupt Aerie can take.
    pub power_button: Option<PowerButton>,
    /// The power button of QEMU's ACPI machine, its Generic Event Device,
    /// where the tree carries the node Aerie's loader writes for it (see
    /// [`GedButton`]).
    pub ged_button: Option<GedButton>,
    /// The machine's own Ethernet controller, Aerie's network uplink, where
    /// it is one Aerie drives (see [`HostEthernet`]).
    pub ethernet: Option<HostEthernet>,
    /// The machine's SD host controllers Aerie drives, enabled ones in tree
    /// order: where its host disk is on boards without virtio (see
    /// [`HostSdHost`]).
    pub sd_hosts: Vec<HostSdHost>,
    /// The machine's own power controller, which powers it off where the
    /// firmware has no PSCI (see [`HostPowerController`]).
    pub power_controller: Option<HostPowerController>,
}

/// Reads a host DTB. `dtb` may be longer than the header's totalsize.
/// Fails if the blob is malformed or describes no memory.
pub fn parse_host(dtb: &[u8]) -> Result<HostInfo, DtError> {
    let tree = Tree::parse(dtb)?;
    let root = tree.root();
    let chosen = tree.find_path("/chosen");

    let memory = memory(&tree)?;
    if memory.is_empty() {
        return Err(DtError::MissingNode(
            "/memory (device_type = \"memory\" with reg)",
        ));
    }
    let uart = crate::uart::console(&tree, chosen.as_ref())?;
    let uart_kind = uart.as_ref().map_or(UartKind::Pl011, |u| u.2);
    Ok(HostInfo {
        memory,
        reserved: reserved(&tree)?,
        cpus: cpus(&tree)?,
        uart: uart.map(|(r, _, _)| r),
        uart_intid: uart.and_then(|(_, i, _)| i),
        uart_kind,
        virtio_mmio: virtio_mmio(&tree)?,
        rtc: crate::rtc::host_rtc(&tree)?,
        gic: gic(&tree)?,
        gic_v2: crate::gic_v2::host_gic_v2(&tree)?,
        timer: timer(&tree)?,
        psci_method: psci_method(&tree)?,
        bootargs: match &chosen {
            Some(c) => prop_str(c, "bootargs")?.map(ToString::to_string),
            None => None,
        },
        initrd: match &chosen {
            Some(c) => initrd(c)?,
            None => None,
        },
        rng_seed: chosen
            .and_then(|c| c.prop("rng-seed"))
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec),
        model: prop_str(&root, "model")?.map(ToString::to_string),
        wall_clock: match &chosen {
            Some(c) => wall_clock(c)?,
            None => None,
        },
        power_button: power_button(&tree)?,
        ged_button: crate::ged::host_ged_button(&tree)?,
        ethernet: crate::ethernet::host_ethernet(&tree)?,
        sd_hosts: crate::sd_host::host_sd_hosts(&tree)?,
        power_controller: crate::power::host_power_controller(&tree)?,
    })
}

/// The first enabled `gpio-keys` key with KEY_POWER whose `gpios` names a
/// pin of an enabled PL061 with a GIC interrupt. A key on another GPIO
/// controller, or without an interrupt, is none Aerie can watch.
fn power_button(tree: &Tree<'_>) -> Result<Option<PowerButton>, DtError> {
    let keys =
        enabled_compatible(tree, &["gpio-keys"]).flat_map(|n| n.children().collect::<Vec<_>>());
    for key in keys.filter(enabled) {
        if prop_u32(&key, "linux,code")? != Some(KEY_POWER) {
            continue;
        }
        let Some(&[phandle, pin, flags]) = cells(&key, "gpios")?.as_deref() else {
            continue;
        };
        let Some(gpio) = tree
            .by_phandle(phandle)
            .filter(|g| is_compatible(g, "arm,pl061") && enabled(g))
        else {
            continue;
        };
        let (Some(region), Some(intid)) = (reg(&gpio)?.first().copied(), gic_intid(&gpio)?) else {
            continue;
        };
        if pin < 8 {
            return Ok(Some(PowerButton {
                gpio: region,
                intid,
                pin,
                active_low: flags & 1 != 0,
            }));
        }
    }
    Ok(None)
}

pub(crate) fn wall_clock(chosen: &NodeRef<'_, '_>) -> Result<Option<WallClock>, DtError> {
    let Some(value) = chosen.prop(WALL_CLOCK_PROP) else {
        return Ok(None);
    };
    if value.len() != 16 {
        return Err(DtError::BadProperty {
            node: chosen.path(),
            property: WALL_CLOCK_PROP,
            reason: "not two 64-bit values",
        });
    }
    let half = |i: usize| u64::from_be_bytes(value[8 * i..8 * i + 8].try_into().unwrap());
    Ok(Some(WallClock {
        unix_seconds: half(0),
        counter: half(1),
    }))
}

/// `status` absent, "okay" or the legacy "ok" (spec §2.3.4).
pub(crate) fn enabled(node: &NodeRef<'_, '_>) -> bool {
    matches!(node.prop("status"), None | Some(b"okay\0") | Some(b"ok\0"))
}

/// The enabled nodes compatible with any of `compatibles`, in tree order:
/// the devices of a kind Aerie drives.
pub(crate) fn enabled_compatible<'t, 'a>(
    tree: &'t Tree<'a>,
    compatibles: &'t [&'t str],
) -> impl Iterator<Item = NodeRef<'t, 'a>> + 't {
    tree.nodes()
        .filter(move |n| compatibles.iter().any(|c| is_compatible(n, c)) && enabled(n))
}

fn memory(tree: &Tree<'_>) -> Result<Vec<Region>, DtError> {
    let mut out = Vec::new();
    for node in tree.root().children() {
        if prop_str(&node, "device_type")? == Some("memory") && enabled(&node) {
            out.extend(reg(&node)?.into_iter().filter(|r| r.size != 0));
        }
    }
    Ok(out)
}

fn reserved(tree: &Tree<'_>) -> Result<Vec<Region>, DtError> {
    let mut out = tree.reservations().to_vec();
    if let Some(rm) = tree.find_path("/reserved-memory") {
        for child in rm.children().filter(enabled) {
            out.extend(reg(&child)?);
        }
    }
    Ok(out)
}

fn cpus(tree: &Tree<'_>) -> Result<Vec<Cpu>, DtError> {
    let Some(cpus) = tree.find_path("/cpus") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    // cpu-map and idle-states siblings have no device_type "cpu". A "disabled"
    // cpu is only parked (spec §3.8.1) and can be started by its enable-method;
    // "fail" ones are broken.
    for node in cpus.children() {
        let failed = prop_str(&node, "status")?.is_some_and(|s| s.starts_with("fail"));
        if prop_str(&node, "device_type")? != Some("cpu") || failed {
            continue;
        }
        let regs = reg(&node)?;
        let first = regs.first().ok_or_else(|| DtError::MissingProperty {
            node: node.path(),
            property: "reg",
        })?;
        out.push(Cpu {
            mpidr: first.base,
            enable_method: prop_str(&node, "enable-method")?.map(ToString::to_string),
            release_addr: prop_u32_or_u64(&node, "cpu-release-addr")?,
        });
    }
    Ok(out)
}

/// A node's interrupt as a GIC INTID, from a 3-cell specifier <type number
/// flags>: type 0 = SPI (INTID 32 + n), type 1 = PPI (INTID 16 + n).
pub(crate) fn gic_intid(node: &NodeRef<'_, '_>) -> Result<Option<u32>, DtError> {
    Ok(cells(node, "interrupts")?
        .as_deref()
        .and_then(specifier_intid))
}

/// The first of a node's interrupts as a GIC INTID, for devices that list
/// several 3-cell specifiers (the i.MX ENET has one per queue) and whose
/// first is the one Aerie takes.
pub(crate) fn first_gic_intid(node: &NodeRef<'_, '_>) -> Result<Option<u32>, DtError> {
    Ok(match cells(node, "interrupts")?.as_deref() {
        Some(all) if all.len() % 3 == 0 => all.get(..3).and_then(specifier_intid),
        _ => None,
    })
}

/// The INTID one 3-cell GIC specifier names.
fn specifier_intid(specifier: &[u32]) -> Option<u32> {
    match specifier {
        [0, n, _] => Some(32 + n),
        [1, n, _] => Some(16 + n),
        _ => None,
    }
}

fn virtio_mmio(tree: &Tree<'_>) -> Result<Vec<HostVirtio>, DtError> {
    let mut out = Vec::new();
    for node in enabled_compatible(tree, &["virtio,mmio"]) {
        if let Some(r) = reg(&node)?.first() {
            out.push(HostVirtio {
                region: *r,
                intid: gic_intid(&node)?,
            });
        }
    }
    Ok(out)
}

fn gic(tree: &Tree<'_>) -> Result<Option<GicV3>, DtError> {
    let Some(node) = enabled_compatible(tree, &["arm,gic-v3"]).next() else {
        return Ok(None);
    };
    let regions = reg(&node)?;
    let n_redist = prop_u32(&node, "#redistributor-regions")?.unwrap_or(1) as usize;
    if n_redist == 0 || regions.len() < 1 + n_redist {
        return Err(DtError::BadProperty {
            node: node.path(),
            property: "reg",
            reason: "fewer entries than distributor + #redistributor-regions",
        });
    }
    Ok(Some(GicV3 {
        dist: regions[0],
        redist: regions[1..=n_redist].to_vec(),
    }))
}

/// #interrupt-cells of the controller that serves `node`: its own or nearest
/// ancestor's `interrupt-parent`, resolved by phandle.
fn interrupt_cells(tree: &Tree<'_>, node: &NodeRef<'_, '_>) -> Result<u32, DtError> {
    let mut cur = Some(*node);
    while let Some(n) = cur {
        if let Some(phandle) = prop_u32(&n, "interrupt-parent")? {
            let ctrl = tree
                .by_phandle(phandle)
                .ok_or_else(|| DtError::BadProperty {
                    node: n.path(),
                    property: "interrupt-parent",
                    reason: "no node has this phandle",
                })?;
            return prop_u32(&ctrl, "#interrupt-cells")?.ok_or_else(|| DtError::MissingProperty {
                node: ctrl.path(),
                property: "#interrupt-cells",
            });
        }
        cur = n.parent();
    }
    Err(DtError::MissingProperty {
        node: node.path(),
        property: "interrupt-parent",
    })
}

fn timer(tree: &Tree<'_>) -> Result<Option<Timer>, DtError> {
    let Some(node) = enabled_compatible(tree, &["arm,armv8-timer", "arm,armv7-timer"]).next()
    else {
        return Ok(None);
    };
    let bad = |reason| DtError::BadProperty {
        node: node.path(),
        property: "interrupts",
        reason,
    };
    let ncells = interrupt_cells(tree, &node)? as usize;
    if ncells < 2 {
        return Err(bad(
            "interrupt controller uses fewer than 2 cells; not a GIC",
        ));
    }
    let raw = cells(&node, "interrupts")?.ok_or_else(|| DtError::MissingProperty {
        node: node.path(),
        property: "interrupts",
    })?;
    if raw.len() % ncells != 0 {
        return Err(bad("length not a multiple of #interrupt-cells"));
    }
    let intids = raw
        .chunks_exact(ncells)
        .map(|c| match c[0] {
            GIC_PPI if c[1] < 16 => Ok(16 + c[1]),
            GIC_PPI => Err(bad("PPI number above 15")),
            GIC_SPI => Err(bad("timer interrupt is an SPI, expected a PPI")),
            _ => Err(bad("unknown GIC interrupt type")),
        })
        .collect::<Result<Vec<u32>, DtError>>()?;
    if intids.len() < 4 {
        return Err(bad("fewer than the 4 required timer interrupts"));
    }
    Ok(Some(Timer {
        secure_phys: intids[0],
        nonsecure_phys: intids[1],
        virt: intids[2],
        hyp: intids[3],
        hyp_virt: intids.get(4).copied(),
    }))
}

fn psci_method(tree: &Tree<'_>) -> Result<Option<String>, DtError> {
    let node = tree
        .nodes()
        .find(|n| str_list(n, "compatible").any(|c| c.starts_with("arm,psci")) && enabled(n));
    match node {
        Some(n) => Ok(prop_str(&n, "method")?.map(ToString::to_string)),
        None => Ok(None),
    }
}

fn initrd(chosen: &NodeRef<'_, '_>) -> Result<Option<Region>, DtError> {
    let start = prop_u32_or_u64(chosen, "linux,initrd-start")?;
    let end = prop_u32_or_u64(chosen, "linux,initrd-end")?;
    match (start, end) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) if end >= start => Ok(Some(Region {
            base: start,
            size: end - start,
        })),
        (Some(_), Some(_)) => Err(DtError::BadProperty {
            node: chosen.path(),
            property: "linux,initrd-end",
            reason: "ends before linux,initrd-start",
        }),
        (Some(_), None) => Err(DtError::MissingProperty {
            node: chosen.path(),
            property: "linux,initrd-end",
        }),
        (None, Some(_)) => Err(DtError::MissingProperty {
            node: chosen.path(),
            property: "linux,initrd-start",
        }),
    }
}

#[cfg(test)]
mod tests;
