//! The host's console UART: the one the tree's `/chosen/stdout-path`
//! names, else the first enabled UART Aerie drives, and what kind it is.

use crate::error::DtError;
use crate::fdt::cells::{is_compatible, prop_str, prop_u32, reg};
use crate::fdt::tree::{NodeRef, Tree};
use crate::host::{enabled, gic_intid};
use crate::region::Region;

/// Follows stdout-path ("/path[:options]" or "alias[:options]").
fn stdout_node<'t, 'a>(
    tree: &'t Tree<'a>,
    chosen: &NodeRef<'t, 'a>,
) -> Result<Option<NodeRef<'t, 'a>>, DtError> {
    let Some(spec) = prop_str(chosen, "stdout-path")?.or(prop_str(chosen, "linux,stdout-path")?)
    else {
        return Ok(None);
    };
    let path = spec.split(':').next().unwrap_or(spec);
    if path.starts_with('/') {
        return Ok(tree.find_path(path));
    }
    let Some(aliases) = tree.find_path("/aliases") else {
        return Ok(None);
    };
    Ok(aliases
        .props()
        .find(|p| p.name == path)
        .and_then(|p| core::str::from_utf8(p.value.strip_suffix(&[0])?).ok())
        .and_then(|target| tree.find_path(target)))
}

/// The console UART: its registers, its interrupt and its kind.
pub(crate) fn console(
    tree: &Tree<'_>,
    chosen: Option<&NodeRef<'_, '_>>,
) -> Result<Option<(Region, Option<u32>, UartKind)>, DtError> {
    let driven = |n: &NodeRef<'_, '_>| enabled(n) && UartKind::of(n).is_some();
    let from_chosen = match chosen {
        Some(c) => stdout_node(tree, c)?.filter(driven),
        None => None,
    };
    let Some(node) = from_chosen.or_else(|| tree.nodes().find(driven)) else {
        return Ok(None);
    };
    let Some(first) = reg(&node)?.first().copied() else {
        return Err(DtError::MissingProperty {
            node: node.path(),
            property: "reg",
        });
    };
    let kind = UartKind::of(&node).unwrap_or(UartKind::Pl011);
    Ok(Some((first, gic_intid(&node)?, kind)))
}

/// The UARTs Aerie can drive as its console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UartKind {
    /// Arm's PL011 (`arm,pl011`): QEMU `virt`, Arm's boards, most servers.
    #[default]
    Pl011,
    /// An SBSA generic UART (`arm,sbsa-uart`): a PL011 with only its data,
    /// status and interrupt registers (no UARTCR: nothing to enable).
    Sbsa,
    /// The UART of NXP's i.MX SoCs from the i.MX21 on: i.MX 8M nodes name
    /// `fsl,imx6q-uart` as their fallback, earlier ones `fsl,imx21-uart`.
    Imx,
    /// A 16550-compatible UART, the 8250 family (`ns16550a`, `ns16550`,
    /// Synopsys' `snps,dw-apb-uart` of Rockchip and many other SoCs): its
    /// registers `1 << reg_shift` bytes apart, each accessed `io_width`
    /// bytes wide (1 or 4), as `reg-shift` and `reg-io-width` say.
    Ns16550 { reg_shift: u8, io_width: u8 },
    /// The Raspberry Pi's mini UART (`brcm,bcm2835-aux-uart`), the console
    /// its tree names: a 16550 subset with 32-bit registers 4 bytes apart.
    MiniUart,
    /// Cadence's UART (`cdns,uart-r1p12`, `cdns,uart-r1p8`): Xilinx's Zynq,
    /// ZynqMP (`xlnx,zynqmp-uart`) and others.
    Cadence,
}

/// The 16550 family's compatible strings Aerie takes.
const NS16550S: [&str; 3] = ["ns16550a", "ns16550", "snps,dw-apb-uart"];
/// The Raspberry Pi's mini UART's.
const MINI_UART: &str = "brcm,bcm2835-aux-uart";
/// Cadence's UART's: every ZynqMP node names r1p12 as its fallback, Zynq
/// ones r1p8 (`xlnx,xuartps`); the registers Aerie uses are the same.
const CADENCE_UARTS: [&str; 2] = ["cdns,uart-r1p12", "cdns,uart-r1p8"];

impl UartKind {
    /// Compatible strings, most specific first for writing a node back.
    pub const fn compatible(self) -> &'static [&'static str] {
        match self {
            UartKind::Pl011 => &["arm,pl011", "arm,primecell"],
            UartKind::Sbsa => &[SBSA_UART],
            UartKind::Imx => &IMX_UARTS,
            UartKind::Ns16550 { .. } => &["ns16550a"],
            UartKind::MiniUart => &[MINI_UART],
            UartKind::Cadence => &CADENCE_UARTS,
        }
    }

    /// Its name for people.
    pub const fn name(self) -> &'static str {
        match self {
            UartKind::Pl011 => "PL011",
            UartKind::Sbsa => "SBSA UART",
            UartKind::Imx => "i.MX UART",
            UartKind::Ns16550 { .. } => "16550 UART",
            UartKind::MiniUart => "Raspberry Pi mini UART",
            UartKind::Cadence => "Cadence UART",
        }
    }

    /// Where a 16550-style UART's registers are: (shift, access width in
    /// bytes); None for the other kinds.
    pub const fn ns16550_layout(self) -> Option<(u8, u8)> {
        match self {
            UartKind::Ns16550 {
                reg_shift,
                io_width,
            } => Some((reg_shift, io_width)),
            UartKind::MiniUart => Some((2, 4)),
            _ => None,
        }
    }

    /// A 16550 node's layout, if Aerie can drive it: a shift up to 4 and
    /// 8- or 32-bit accesses (`reg-io-width` 2 is rare and not taken).
    fn ns16550(node: &NodeRef<'_, '_>) -> Option<UartKind> {
        let reg_shift = prop_u32(node, "reg-shift").ok()?.unwrap_or(0);
        let io_width = prop_u32(node, "reg-io-width").ok()?.unwrap_or(1);
        (reg_shift <= 4 && matches!(io_width, 1 | 4)).then_some(UartKind::Ns16550 {
            reg_shift: reg_shift as u8,
            io_width: io_width as u8,
        })
    }

    /// What `node` is, if Aerie drives it. A node naming both the PL011
    /// and the SBSA UART is a full PL011.
    fn of(node: &NodeRef<'_, '_>) -> Option<UartKind> {
        if is_compatible(node, "arm,pl011") {
            Some(UartKind::Pl011)
        } else if is_compatible(node, SBSA_UART) {
            Some(UartKind::Sbsa)
        } else if IMX_UARTS.iter().any(|c| is_compatible(node, c)) {
            Some(UartKind::Imx)
        } else if is_compatible(node, MINI_UART) {
            Some(UartKind::MiniUart)
        } else if CADENCE_UARTS.iter().any(|c| is_compatible(node, c)) {
            Some(UartKind::Cadence)
        } else if NS16550S.iter().any(|c| is_compatible(node, c)) {
            UartKind::ns16550(node)
        } else {
            None
        }
    }
}

/// The SBSA generic UART's compatible string.
pub(crate) const SBSA_UART: &str = "arm,sbsa-uart";
/// The i.MX UART's, for the same registers (the i.MX1's differ).
const IMX_UARTS: [&str; 2] = ["fsl,imx6q-uart", "fsl,imx21-uart"];
