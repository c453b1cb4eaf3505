//! A host GICv2 (GIC-400 and the Cortex-A15's): the interrupt controller of
//! boards such as the Raspberry Pi 4, and of QEMU's `virt` with
//! `gic-version=2`.
//!
//! Linux's `arm,gic` binding: `reg` lists the distributor, the CPU
//! interface, and with the Virtualization Extensions the virtual interface
//! control (GICH) and the virtual CPU interface (GICV); `interrupts` is the
//! maintenance interrupt. Aerie needs all four frames: its guests' CPU
//! interface is the GICV, fed through the GICH's list registers.

use alloc::format;
use alloc::vec::Vec;

use crate::binding::{reg2, GIC_PPI, IRQ_TYPE_LEVEL_HIGH};
use crate::error::{DtError, Step};
use crate::fdt::cells::reg;
use crate::fdt::tree::Tree;
use crate::host::{enabled_compatible, first_gic_intid};
use crate::region::Region;

/// What a tree Aerie writes names a GICv2: the GIC-400, which every
/// Cortex-A53/A72 board with a GICv2 has.
const WRITTEN: &str = "arm,gic-400";

/// The compatible strings of GICv2s with the Virtualization Extensions
/// that Linux's binding names (the Cortex-A7's and A15's built-in GICs,
/// and the GIC-400 that Cortex-A53/A72 SoCs carry).
const COMPATIBLE: [&str; 3] = ["arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a7-gic"];

/// A host GICv2's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GicV2 {
    /// GICD.
    pub dist: Region,
    /// GICC: Aerie's own CPU interface.
    pub cpu: Region,
    /// GICH: the virtual interface control (list registers), where the
    /// tree gives it.
    pub hyp: Option<Region>,
    /// GICV: the virtual CPU interface a guest's GICC becomes.
    pub vcpu: Option<Region>,
    /// The maintenance interrupt's INTID (PPI 9, INTID 25, on every GIC-400
    /// board).
    pub maintenance: Option<u32>,
}

impl GicV2 {
    /// Whether the tree describes what running guests needs: GICH and GICV.
    pub fn virtualization(&self) -> bool {
        self.hyp.is_some() && self.vcpu.is_some()
    }
}

/// The version of the GIC a host tree describes: 3 (`arm,gic-v3`), 2 (a
/// GICv2 Aerie's GICv2 build drives), or None. What a boot loader asks to
/// pick the Aerie build to start, before anything else of the tree matters
/// (a UEFI firmware's tree may have no /memory, which [`crate::parse_host`]
/// insists on).
pub fn host_gic_version(dtb: &[u8]) -> Result<Option<u8>, DtError> {
    let tree = Tree::parse(dtb)?;
    if enabled_compatible(&tree, &["arm,gic-v3"]).next().is_some() {
        return Ok(Some(3));
    }
    let v2 = enabled_compatible(&tree, &COMPATIBLE).next().is_some();
    Ok(v2.then_some(2))
}

/// The first enabled GICv2, if the tree has one. Its `reg` must hold at
/// least the distributor and the CPU interface.
pub(crate) fn host_gic_v2(tree: &Tree<'_>) -> Result<Option<GicV2>, DtError> {
    let Some(node) = enabled_compatible(tree, &COMPATIBLE).next() else {
        return Ok(None);
    };
    let regions = reg(&node)?;
    let [dist, cpu, ..] = regions[..] else {
        return Err(DtError::BadProperty {
            node: node.path(),
            property: "reg",
            reason: "fewer entries than distributor + CPU interface",
        });
    };
    Ok(Some(GicV2 {
        dist,
        cpu: cpu_interface(cpu),
        hyp: regions.get(2).copied(),
        vcpu: regions.get(3).copied().map(cpu_interface),
        maintenance: first_gic_intid(&node)?,
    }))
}

/// The size the tree gives a CPU interface (GICC or GICV) of a GIC-400
/// integrated on 64 KiB pages (the ZynqMP's, and servers'): each 4 KiB
/// page of the 8 KiB interface is repeated across 64 KiB of its own.
const ALIASED_FRAME: u64 = 0x2_0000;
/// Where the 8 KiB interface is contiguous in such a frame: the last
/// alias of its first page is followed by the first of its second.
const ALIASED_START: u64 = 0xf000;

/// A CPU interface's 8 KiB: the frame itself, or in a 64 KiB-aliased
/// frame the contiguous 8 KiB from its last alias of the first page, so
/// that GICC_DIR (at 0x1000) is where it should be. Linux moves its GICC
/// base the same way.
fn cpu_interface(frame: Region) -> Region {
    if frame.size == ALIASED_FRAME {
        Region::new(frame.base + ALIASED_START, 0x2000)
    } else {
        frame
    }
}

/// Writes `gic` as Linux's `arm,gic` binding describes it, with phandle
/// `phandle`: the frames it has, in binding order, and its maintenance
/// interrupt (a PPI).
pub(crate) fn write(w: &mut vm_fdt::FdtWriter, gic: &GicV2, phandle: u32) -> Result<(), DtError> {
    let node = w
        .begin_node(&format!("intc@{:x}", gic.dist.base))
        .step("gic")?;
    w.property_string("compatible", WRITTEN).step("gic")?;
    w.property_u32("#interrupt-cells", 3).step("gic")?;
    w.property_null("interrupt-controller").step("gic")?;
    // GICV without GICH (or the reverse) cannot be said in `reg`'s order.
    let mut frames = Vec::from([gic.dist, gic.cpu]);
    if let (Some(hyp), Some(vcpu)) = (gic.hyp, gic.vcpu) {
        frames.extend([hyp, vcpu]);
    }
    if frames.iter().any(|r| r.end().is_none()) {
        return Err(DtError::InvalidSpec("a region wraps the address space"));
    }
    w.property_array_u64("reg", &reg2(&frames)).step("gic")?;
    if let Some(intid) = gic.maintenance.filter(|i| (16..32).contains(i)) {
        w.property_array_u32("interrupts", &[GIC_PPI, intid - 16, IRQ_TYPE_LEVEL_HIGH])
            .step("gic")?;
    }
    w.property_phandle(phandle).step("gic")?;
    w.end_node(node).step("gic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::parse_host;
    use alloc::vec::Vec;
    use vm_fdt::FdtWriter;

    /// A tree with RAM and one interrupt controller of `compatible` with
    /// `reg` (2 address and 2 size cells) and, if given, `interrupts`.
    fn tree(compatible: &str, reg: &[u64], interrupts: Option<&[u32]>) -> Vec<u8> {
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        let mem = w.begin_node("memory@40000000").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u64("reg", &[0x4000_0000, 0x4000_0000])
            .unwrap();
        w.end_node(mem).unwrap();
        let intc = w.begin_node("intc@8000000").unwrap();
        w.property_string("compatible", compatible).unwrap();
        w.property_u32("#interrupt-cells", 3).unwrap();
        w.property_null("interrupt-controller").unwrap();
        w.property_array_u64("reg", reg).unwrap();
        if let Some(i) = interrupts {
            w.property_array_u32("interrupts", i).unwrap();
        }
        w.end_node(intc).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    /// QEMU `virt,gic-version=2,virtualization=on`: GICD, GICC, GICH, GICV
    /// 64 KiB apart, maintenance PPI 9 with the CPU mask in its flags.
    const QEMU_VIRT: [u64; 8] = [
        0x0800_0000,
        0x1_0000,
        0x0801_0000,
        0x1_0000,
        0x0803_0000,
        0x1_0000,
        0x0804_0000,
        0x1_0000,
    ];

    #[test]
    fn qemu_virt_gic_v2_with_virtualization() {
        let dtb = tree("arm,cortex-a15-gic", &QEMU_VIRT, Some(&[1, 9, 0xf04]));
        let info = parse_host(&dtb).unwrap();
        assert_eq!(info.gic, None);
        let gic = info.gic_v2.unwrap();
        assert_eq!(gic.dist, Region::new(0x0800_0000, 0x1_0000));
        assert_eq!(gic.cpu, Region::new(0x0801_0000, 0x1_0000));
        assert_eq!(gic.hyp, Some(Region::new(0x0803_0000, 0x1_0000)));
        assert_eq!(gic.vcpu, Some(Region::new(0x0804_0000, 0x1_0000)));
        assert_eq!(gic.maintenance, Some(25));
        assert!(gic.virtualization());
    }

    #[test]
    fn a_zynqmp_gic_400_on_64k_pages_has_contiguous_cpu_interfaces() {
        // The ZCU102's tree: GICC, GICH and GICV 128 KiB each, every 4 KiB
        // page repeated over 64 KiB.
        let reg = [
            0xf901_0000,
            0x1_0000,
            0xf902_0000,
            0x2_0000,
            0xf904_0000,
            0x2_0000,
            0xf906_0000,
            0x2_0000,
        ];
        let gic = parse_host(&tree("arm,gic-400", &reg, Some(&[1, 9, 0xf04])))
            .unwrap()
            .gic_v2
            .unwrap();
        assert_eq!(gic.cpu, Region::new(0xf902_f000, 0x2000));
        assert_eq!(gic.vcpu, Some(Region::new(0xf906_f000, 0x2000)));
        // GICH's registers are all in its first page: taken as it is.
        assert_eq!(gic.hyp, Some(Region::new(0xf904_0000, 0x2_0000)));
    }

    #[test]
    fn a_gic_400_without_virtualization_frames_is_read_but_cannot_host_guests() {
        let dtb = tree("arm,gic-400", &QEMU_VIRT[..4], None);
        let gic = parse_host(&dtb).unwrap().gic_v2.unwrap();
        assert_eq!((gic.hyp, gic.vcpu, gic.maintenance), (None, None, None));
        assert!(!gic.virtualization());
    }

    #[test]
    fn a_gic_without_its_cpu_interface_is_refused() {
        let dtb = tree("arm,gic-400", &QEMU_VIRT[..2], None);
        assert!(matches!(
            parse_host(&dtb),
            Err(DtError::BadProperty {
                property: "reg",
                ..
            })
        ));
    }

    #[test]
    fn other_interrupt_controllers_are_not_a_gic_v2() {
        let dtb = tree("arm,cortex-a9-gic", &QEMU_VIRT, None);
        assert_eq!(parse_host(&dtb).unwrap().gic_v2, None);
        assert_eq!(host_gic_version(&dtb).unwrap(), None);
    }

    #[test]
    fn a_gic_v2_written_for_aerie_reads_back_the_same() {
        let dtb = tree("arm,cortex-a15-gic", &QEMU_VIRT, Some(&[1, 9, 4]));
        let info = parse_host(&dtb).unwrap();
        let again = crate::host_tree(&info).unwrap();
        let back = parse_host(&again).unwrap();
        assert_eq!(back.gic_v2, info.gic_v2);
        assert_eq!(host_gic_version(&again).unwrap(), Some(2));
    }

    #[test]
    fn a_boot_loader_learns_the_gic_version() {
        let v2 = tree("arm,gic-400", &QEMU_VIRT, None);
        assert_eq!(host_gic_version(&v2).unwrap(), Some(2));
        let v3 = tree("arm,gic-v3", &QEMU_VIRT[..4], None);
        assert_eq!(host_gic_version(&v3).unwrap(), Some(3));
        assert!(host_gic_version(b"not a tree").is_err());
    }
}
