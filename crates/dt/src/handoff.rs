//! What a boot loader adds to the firmware's device tree before it starts
//! Aerie: the command line, where the boot module lies, and which memory is
//! RAM Aerie may use. QEMU's `-kernel` path writes the first two itself; the
//! UEFI loader (`loader/`) gets the tree from the firmware without them, and
//! takes the RAM from the UEFI memory map, which is what a UEFI firmware
//! vouches for (the tree's /memory nodes may be stale, and say nothing of
//! the memory the firmware keeps for itself).
//!
//! The tree is read whole (so a malformed one is refused with the reader's
//! own error) and written again node by node, every property in its order,
//! with /chosen's three properties replaced or added and, when the handoff
//! gives the RAM, the /memory nodes replaced by one.

use alloc::vec::Vec;

use vm_fdt::{FdtReserveEntry, FdtWriter};

use crate::error::{DtError, Step};
use crate::fdt::header::Header;
use crate::fdt::tree::{NodeRef, Tree};
use crate::region::Region;

/// The properties of /chosen a handoff sets.
const CHOSEN_PROPS: [&str; 3] = ["bootargs", "linux,initrd-start", "linux,initrd-end"];

/// What the loader hands over.
#[derive(Debug, Clone, Copy)]
pub struct Handoff<'a> {
    /// Aerie's command line (/chosen/bootargs).
    pub bootargs: &'a str,
    /// The boot module (/chosen/linux,initrd-start and -end).
    pub boot_module: Option<Region>,
    /// Memory Aerie must leave alone, added to the memory reservation block.
    pub reserve: &'a [Region],
    /// The RAM: replaces every /memory node with one, `memory@<first base>`,
    /// whose `reg` lists these regions. None keeps the tree's.
    pub memory: Option<&'a [Region]>,
    /// `/chosen/rng-seed` (entropy for Aerie, from the firmware's random
    /// number generator). None keeps the tree's, if it has one.
    pub rng_seed: Option<&'a [u8]>,
    /// `/chosen/aerie,wall-clock`: the time of day, from the firmware's
    /// clock, for a machine whose tree names no real-time clock Aerie
    /// drives. None keeps the tree's, if it has one.
    pub wall_clock: Option<WallClock>,
}

/// The time of day as a boot loader read it: seconds since the Unix epoch
/// (UTC), and the generic counter's value (CNTPCT_EL0) when it read them, so
/// that Aerie counts on from there. Written as two 64-bit values in
/// `/chosen/aerie,wall-clock` (a property of Aerie's own: no binding
/// carries the time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    pub unix_seconds: u64,
    pub counter: u64,
}

/// The /chosen property a [`WallClock`] is written to.
pub const WALL_CLOCK_PROP: &str = "aerie,wall-clock";

/// `blob` with `handoff` written in. Reservations already in the tree stay,
/// and so does every other property of /chosen; a tree without /chosen gets
/// one.
pub fn with_handoff(blob: &[u8], handoff: &Handoff<'_>) -> Result<Vec<u8>, DtError> {
    let header = Header::parse(blob)?;
    let tree = Tree::parse(blob)?;
    let mut reservations: Vec<FdtReserveEntry> = Vec::new();
    for r in tree.reservations().iter().chain(handoff.reserve) {
        if r.end().is_none() {
            return Err(DtError::InvalidSpec(
                "a memory reservation wraps the address space",
            ));
        }
        reservations.push(FdtReserveEntry::new(r.base, r.size).step("reservation")?);
    }
    let mut w = FdtWriter::new_with_mem_reserv(&reservations).step("create writer")?;
    w.set_boot_cpuid_phys(header.boot_cpuid_phys);
    let root = tree.root();
    let node = w.begin_node("").step("root node")?;
    copy_props(&mut w, &root, None)?;
    let mut had_chosen = false;
    if let Some(ram) = handoff.memory {
        write_memory(&mut w, &root, ram)?;
    }
    for child in root.children() {
        if handoff.memory.is_some() && child.prop("device_type") == Some(b"memory\0") {
            continue;
        }
        let chosen = child.name() == "chosen";
        had_chosen |= chosen;
        copy_node(&mut w, &child, chosen.then_some(handoff))?;
    }
    if !had_chosen {
        let node = w.begin_node("chosen").step("/chosen")?;
        write_handoff(&mut w, handoff)?;
        w.end_node(node).step("/chosen")?;
    }
    w.end_node(node).step("root node")?;
    w.finish().step("finish")
}

/// Copies `node` and its subtree; `handoff` is given for /chosen only.
fn copy_node(
    w: &mut FdtWriter,
    node: &NodeRef<'_, '_>,
    handoff: Option<&Handoff<'_>>,
) -> Result<(), DtError> {
    let begun = w.begin_node(node.name()).step("copy a node")?;
    copy_props(w, node, handoff)?;
    if let Some(h) = handoff {
        write_handoff(w, h)?;
    }
    for child in node.children() {
        copy_node(w, &child, None)?;
    }
    w.end_node(begun).step("copy a node")
}

/// Copies `node`'s properties, leaving out those `handoff` (given for
/// /chosen only) replaces.
/// Written raw: a phandle goes through `property` too, so the writer's
/// uniqueness check does not apply to values copied from a tree already made.
fn copy_props(
    w: &mut FdtWriter,
    node: &NodeRef<'_, '_>,
    handoff: Option<&Handoff<'_>>,
) -> Result<(), DtError> {
    for prop in node.props() {
        let replaced = handoff.is_some_and(|h| {
            CHOSEN_PROPS.contains(&prop.name)
                || (prop.name == "rng-seed" && h.rng_seed.is_some())
                || (prop.name == WALL_CLOCK_PROP && h.wall_clock.is_some())
        });
        if replaced {
            continue;
        }
        w.property(prop.name, prop.value).step("copy a property")?;
    }
    Ok(())
}

/// One /memory node listing `ram`, in the root's #address-cells and
/// #size-cells (1 or 2 each; the spec's defaults 2 and 1 when absent).
fn write_memory(w: &mut FdtWriter, root: &NodeRef<'_, '_>, ram: &[Region]) -> Result<(), DtError> {
    let cells = |name: &'static str, default: u32| match root.prop(name) {
        None => Ok(default),
        Some(&[a, b, c, d]) if matches!(u32::from_be_bytes([a, b, c, d]), 1 | 2) => {
            Ok(u32::from_be_bytes([a, b, c, d]))
        }
        Some(_) => Err(DtError::BadProperty {
            node: "/".into(),
            property: name,
            reason: "not 1 or 2 cells",
        }),
    };
    let (address_cells, size_cells) = (cells("#address-cells", 2)?, cells("#size-cells", 1)?);
    let first = ram
        .first()
        .ok_or(DtError::InvalidSpec("the firmware's memory map has no RAM"))?;
    let mut reg = Vec::new();
    for r in ram {
        for (value, n) in [(r.base, address_cells), (r.size, size_cells)] {
            if n == 1 {
                let v = u32::try_from(value).map_err(|_| {
                    DtError::InvalidSpec("RAM beyond 4 GiB with 1-cell addresses or sizes")
                })?;
                reg.extend_from_slice(&v.to_be_bytes());
            } else {
                reg.extend_from_slice(&value.to_be_bytes());
            }
        }
    }
    let node = w
        .begin_node(&alloc::format!("memory@{:x}", first.base))
        .step("/memory")?;
    w.property_string("device_type", "memory").step("/memory")?;
    w.property("reg", &reg).step("/memory")?;
    w.end_node(node).step("/memory")
}

pub(crate) fn write_wall_clock(w: &mut FdtWriter, clock: WallClock) -> Result<(), DtError> {
    w.property_array_u64(WALL_CLOCK_PROP, &[clock.unix_seconds, clock.counter])
        .step("/chosen/aerie,wall-clock")
}

fn write_handoff(w: &mut FdtWriter, h: &Handoff<'_>) -> Result<(), DtError> {
    w.property_string("bootargs", h.bootargs)
        .step("/chosen/bootargs")?;
    if let Some(seed) = h.rng_seed {
        w.property("rng-seed", seed).step("/chosen/rng-seed")?;
    }
    if let Some(clock) = h.wall_clock {
        write_wall_clock(w, clock)?;
    }
    if let Some(m) = h.boot_module {
        let end = m.end().ok_or(DtError::InvalidSpec(
            "the boot module wraps the address space",
        ))?;
        w.property_u64("linux,initrd-start", m.base)
            .step("/chosen/linux,initrd-start")?;
        w.property_u64("linux,initrd-end", end)
            .step("/chosen/linux,initrd-end")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small QEMU-virt-like tree: memory, a UART, /chosen with stdout-path
    /// and a stale bootargs, one reservation.
    fn firmware_tree(with_chosen: bool) -> Vec<u8> {
        let rsv = [FdtReserveEntry::new(0x4000_0000, 0x1000).unwrap()];
        let mut w = FdtWriter::new_with_mem_reserv(&rsv).unwrap();
        w.set_boot_cpuid_phys(0);
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        w.property_string("model", "linux,dummy-virt").unwrap();
        let mem = w.begin_node("memory@40000000").unwrap();
        w.property_string("device_type", "memory").unwrap();
        w.property_array_u64("reg", &[0x4000_0000, 0x4000_0000])
            .unwrap();
        w.end_node(mem).unwrap();
        let uart = w.begin_node("pl011@9000000").unwrap();
        w.property_string("compatible", "arm,pl011").unwrap();
        w.property_phandle(0x8000).unwrap();
        w.end_node(uart).unwrap();
        if with_chosen {
            let chosen = w.begin_node("chosen").unwrap();
            w.property_string("stdout-path", "/pl011@9000000").unwrap();
            w.property_string("bootargs", "stale").unwrap();
            w.end_node(chosen).unwrap();
        }
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    const RESERVE: [Region; 1] = [Region::new(0x7fe0_0000, 0x20_0000)];

    fn handoff() -> Handoff<'static> {
        Handoff {
            bootargs: "aerie.log=debug",
            boot_module: Some(Region::new(0x4800_0000, 0x12_3456)),
            reserve: &RESERVE,
            memory: None,
            rng_seed: None,
            wall_clock: None,
        }
    }

    #[test]
    fn an_rng_seed_replaces_the_trees_and_none_keeps_it() {
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        let chosen = w.begin_node("chosen").unwrap();
        w.property("rng-seed", &[1; 32]).unwrap();
        w.end_node(chosen).unwrap();
        w.end_node(root).unwrap();
        let blob = w.finish().unwrap();
        let seed_of = |out: &[u8]| {
            let tree = Tree::parse(out).unwrap();
            let chosen = tree.find_path("/chosen").unwrap();
            assert_eq!(chosen.props().filter(|p| p.name == "rng-seed").count(), 1);
            chosen.prop("rng-seed").unwrap().to_vec()
        };
        let kept = with_handoff(&blob, &handoff()).unwrap();
        assert_eq!(seed_of(&kept), [1; 32]);
        let fresh = [2; 64];
        let h = Handoff {
            rng_seed: Some(&fresh),
            ..handoff()
        };
        assert_eq!(seed_of(&with_handoff(&blob, &h).unwrap()), [2; 64]);
    }

    #[test]
    fn the_wall_clock_is_handed_over_and_read_back() {
        let clock = WallClock {
            unix_seconds: 1_795_000_000,
            counter: 0x1234_5678_9abc,
        };
        let h = Handoff {
            wall_clock: Some(clock),
            ..handoff()
        };
        let clock_of = |blob: &[u8]| {
            let tree = Tree::parse(blob).unwrap();
            crate::host::wall_clock(&tree.find_path("/chosen").unwrap()).unwrap()
        };
        let once = with_handoff(&firmware_tree(true), &h).unwrap();
        assert_eq!(clock_of(&once), Some(clock));
        // A second handoff (its reservation already made) replaces it;
        // none keeps it.
        let later = WallClock {
            unix_seconds: clock.unix_seconds + 5,
            ..clock
        };
        let twice = with_handoff(
            &once,
            &Handoff {
                wall_clock: Some(later),
                reserve: &[],
                ..h
            },
        )
        .unwrap();
        assert_eq!(clock_of(&twice), Some(later));
        let kept = with_handoff(
            &once,
            &Handoff {
                wall_clock: None,
                reserve: &[],
                ..h
            },
        )
        .unwrap();
        assert_eq!(clock_of(&kept), Some(clock));
        assert_eq!(clock_of(&firmware_tree(true)), None);
    }

    #[test]
    fn the_ram_replaces_the_memory_nodes() {
        let ram = [
            Region::new(0x4000_0000, 0x3f00_0000),
            Region::new(0x7f80_0000, 0x80_0000),
            Region::new(0x1_0000_0000, 0x4000_0000),
        ];
        let h = Handoff {
            memory: Some(&ram),
            ..handoff()
        };
        let out = with_handoff(&firmware_tree(true), &h).unwrap();
        let tree = Tree::parse(&out).unwrap();
        let memory: Vec<_> = tree
            .root()
            .children()
            .filter(|n| n.prop("device_type") == Some(b"memory\0"))
            .collect();
        assert_eq!(memory.len(), 1);
        assert_eq!(memory[0].name(), "memory@40000000");
        let reg: Vec<u64> = memory[0]
            .prop("reg")
            .unwrap()
            .chunks(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            reg,
            [
                0x4000_0000,
                0x3f00_0000,
                0x7f80_0000,
                0x80_0000,
                0x1_0000_0000,
                0x4000_0000
            ]
        );
        // The rest of the tree is still there.
        assert!(tree.find_path("/pl011@9000000").is_some());
        assert!(tree.find_path("/chosen").is_some());
    }

    #[test]
    fn ram_that_the_cells_cannot_hold_is_refused() {
        let ram = [Region::new(0x1_0000_0000, 0x1000)];
        let h = Handoff {
            memory: Some(&ram),
            ..handoff()
        };
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 1).unwrap();
        w.property_u32("#size-cells", 1).unwrap();
        w.end_node(root).unwrap();
        let blob = w.finish().unwrap();
        assert_eq!(
            with_handoff(&blob, &h).unwrap_err(),
            DtError::InvalidSpec("RAM beyond 4 GiB with 1-cell addresses or sizes")
        );
        let h = Handoff {
            memory: Some(&[]),
            ..handoff()
        };
        assert_eq!(
            with_handoff(&firmware_tree(true), &h).unwrap_err(),
            DtError::InvalidSpec("the firmware's memory map has no RAM")
        );
    }

    #[test]
    fn chosen_gets_the_handoff_and_keeps_the_rest() {
        let out = with_handoff(&firmware_tree(true), &handoff()).unwrap();
        let tree = Tree::parse(&out).unwrap();
        let chosen = tree.find_path("/chosen").unwrap();
        assert_eq!(chosen.prop("bootargs"), Some(&b"aerie.log=debug\0"[..]));
        assert_eq!(
            chosen.prop("linux,initrd-start"),
            Some(&0x4800_0000u64.to_be_bytes()[..])
        );
        assert_eq!(
            chosen.prop("linux,initrd-end"),
            Some(&0x4812_3456u64.to_be_bytes()[..])
        );
        assert_eq!(
            tree.reservations(),
            [Region::new(0x4000_0000, 0x1000), RESERVE[0]]
        );
        assert_eq!(chosen.prop("stdout-path"), Some(&b"/pl011@9000000\0"[..]));
        assert_eq!(chosen.props().filter(|p| p.name == "bootargs").count(), 1);
        let uart = tree.find_path("/pl011@9000000").unwrap();
        assert_eq!(uart.prop("phandle"), Some(&0x8000u32.to_be_bytes()[..]));
        assert_eq!(tree.root().prop("model"), Some(&b"linux,dummy-virt\0"[..]));
    }

    #[test]
    fn a_tree_without_chosen_gets_one() {
        let h = Handoff {
            boot_module: None,
            ..handoff()
        };
        let out = with_handoff(&firmware_tree(false), &h).unwrap();
        let tree = Tree::parse(&out).unwrap();
        let chosen = tree.find_path("/chosen").unwrap();
        assert_eq!(chosen.prop("bootargs"), Some(&b"aerie.log=debug\0"[..]));
        assert_eq!(chosen.prop("linux,initrd-start"), None);
        assert!(tree.find_path("/memory@40000000").is_some());
    }

    #[test]
    fn a_malformed_tree_is_refused_with_the_readers_error() {
        let mut blob = firmware_tree(true);
        blob[0] = 0;
        assert!(matches!(
            with_handoff(&blob, &handoff()),
            Err(DtError::BadMagic(_))
        ));
        let blob = firmware_tree(true);
        assert!(matches!(
            with_handoff(&blob[..60], &handoff()),
            Err(DtError::Truncated { .. })
        ));
    }

    #[test]
    fn a_wrapping_boot_module_is_refused() {
        let h = Handoff {
            boot_module: Some(Region::new(u64::MAX - 10, 100)),
            ..handoff()
        };
        assert_eq!(
            with_handoff(&firmware_tree(true), &h).unwrap_err(),
            DtError::InvalidSpec("the boot module wraps the address space")
        );
    }
}
