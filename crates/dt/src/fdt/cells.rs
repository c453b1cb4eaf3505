//! Typed views of property values: cells, `reg` lists, strings (spec §2.2.4, §2.3).

use alloc::vec::Vec;

use super::header::be32;
use super::tree::NodeRef;
use crate::error::DtError;
use crate::region::Region;

/// Defaults the spec gives when a parent lacks the properties (§2.3.5).
const DEFAULT_ADDRESS_CELLS: u32 = 2;
const DEFAULT_SIZE_CELLS: u32 = 1;

fn bad(node: &NodeRef<'_, '_>, property: &'static str, reason: &'static str) -> DtError {
    DtError::BadProperty {
        node: node.path(),
        property,
        reason,
    }
}

/// A single u32 property, `None` if absent.
pub fn prop_u32(node: &NodeRef<'_, '_>, name: &'static str) -> Result<Option<u32>, DtError> {
    match node.prop(name) {
        None => Ok(None),
        Some(v) if v.len() == 4 => Ok(be32(v, 0)),
        Some(_) => Err(bad(node, name, "expected one 32-bit cell")),
    }
}

/// A property holding one number of 1 or 2 cells (e.g. linux,initrd-start,
/// whose width QEMU and firmware choose freely).
pub fn prop_u32_or_u64(node: &NodeRef<'_, '_>, name: &'static str) -> Result<Option<u64>, DtError> {
    match node.prop(name) {
        None => Ok(None),
        Some(v) if v.len() == 4 || v.len() == 8 => Ok(Some(read_cells(v, v.len() / 4))),
        Some(_) => Err(bad(node, name, "expected one or two 32-bit cells")),
    }
}

/// A string property, NUL-terminated in the blob; `None` if absent.
pub fn prop_str<'a>(
    node: &NodeRef<'_, 'a>,
    name: &'static str,
) -> Result<Option<&'a str>, DtError> {
    let Some(v) = node.prop(name) else {
        return Ok(None);
    };
    let body = v
        .strip_suffix(&[0])
        .ok_or_else(|| bad(node, name, "string not NUL-terminated"))?;
    if body.contains(&0) {
        return Err(bad(node, name, "expected one string, found a list"));
    }
    core::str::from_utf8(body)
        .map(Some)
        .map_err(|_| bad(node, name, "string is not UTF-8"))
}

/// Entries of a stringlist (e.g. `compatible`); empty if absent or malformed.
/// Lenient because it is used for matching, where a garbled list simply
/// does not match.
pub fn str_list<'a>(node: &NodeRef<'_, 'a>, name: &str) -> impl Iterator<Item = &'a str> {
    node.prop(name)
        .and_then(|v| v.strip_suffix(&[0]))
        .unwrap_or(&[])
        .split(|&b| b == 0)
        .filter_map(|s| core::str::from_utf8(s).ok())
        .filter(|s| !s.is_empty())
}

/// True if `compatible` lists `compat`.
pub fn is_compatible(node: &NodeRef<'_, '_>, compat: &str) -> bool {
    str_list(node, "compatible").any(|c| c == compat)
}

/// Big-endian number from `n` cells (n <= 2; callers check).
fn read_cells(bytes: &[u8], n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| {
        (acc << 32) | u64::from(be32(bytes, i * 4).unwrap_or(0))
    })
}

/// (#address-cells, #size-cells) that `node` declares for its children.
pub fn child_cells(node: &NodeRef<'_, '_>) -> Result<(u32, u32), DtError> {
    let a = prop_u32(node, "#address-cells")?.unwrap_or(DEFAULT_ADDRESS_CELLS);
    let s = prop_u32(node, "#size-cells")?.unwrap_or(DEFAULT_SIZE_CELLS);
    Ok((a, s))
}

/// Decodes `reg` using the parent's cell counts, each address translated to
/// the CPU's through the `ranges` of every bus above the node (the
/// Raspberry Pi 4's peripherals sit at bus address 0x7e00_0000, which its
/// SoC node maps to 0xfe00_0000). Absent `reg` gives an empty list. A bus
/// with an empty `ranges`, or none (nodes such as /cpus, whose `reg` is no
/// address), passes addresses through unchanged.
pub fn reg(node: &NodeRef<'_, '_>) -> Result<Vec<Region>, DtError> {
    raw_reg(node)?
        .into_iter()
        .map(|r| {
            Ok(Region {
                base: translate(node, r.base)?,
                size: r.size,
            })
        })
        .collect()
}

/// `reg` as the parent bus's addresses, untranslated.
fn raw_reg(node: &NodeRef<'_, '_>) -> Result<Vec<Region>, DtError> {
    let Some(v) = node.prop("reg") else {
        return Ok(Vec::new());
    };
    let (ac, sc) = match node.parent() {
        Some(p) => child_cells(&p)?,
        None => (DEFAULT_ADDRESS_CELLS, DEFAULT_SIZE_CELLS),
    };
    if ac == 0 || ac > 2 || sc > 2 {
        return Err(bad(
            node,
            "reg",
            "parent #address-cells/#size-cells beyond 64 bits",
        ));
    }
    let (ac, sc) = (ac as usize, sc as usize);
    let entry = (ac + sc) * 4;
    if v.len() % entry != 0 {
        return Err(bad(
            node,
            "reg",
            "length not a multiple of the parent's cell counts",
        ));
    }
    Ok(v.chunks_exact(entry)
        .map(|e| Region {
            base: read_cells(e, ac),
            size: read_cells(&e[ac * 4..], sc),
        })
        .collect())
}

/// `addr`, an address on `node`'s parent bus, as the CPU sees it: through
/// the `ranges` of each bus up to the root. An address that no entry of a
/// non-empty `ranges` covers has no CPU address: an error naming `node`.
fn translate(node: &NodeRef<'_, '_>, mut addr: u64) -> Result<u64, DtError> {
    let mut bus = node.parent();
    while let Some(b) = bus {
        let Some(parent) = b.parent() else { break };
        let ranges = b.prop("ranges").unwrap_or(&[]);
        if !ranges.is_empty() {
            let (child_ac, size_c) = child_cells(&b)?;
            let (parent_ac, _) = child_cells(&parent)?;
            if child_ac > 2 || parent_ac > 2 || size_c > 2 {
                return Err(bad(&b, "ranges", "cell counts beyond 64 bits"));
            }
            let (ca, pa, sc) = (child_ac as usize, parent_ac as usize, size_c as usize);
            let entry = (ca + pa + sc) * 4;
            if entry == 0 || ranges.len() % entry != 0 {
                return Err(bad(
                    &b,
                    "ranges",
                    "length not a multiple of its cell counts",
                ));
            }
            let hit = ranges.chunks_exact(entry).find_map(|e| {
                let child = read_cells(e, ca);
                let parent = read_cells(&e[ca * 4..], pa);
                let len = read_cells(&e[(ca + pa) * 4..], sc);
                (addr >= child && addr - child < len).then(|| parent + (addr - child))
            });
            addr = hit.ok_or_else(|| bad(node, "reg", "outside every range of its bus"))?;
        }
        bus = Some(parent);
    }
    Ok(addr)
}

/// All u32 cells of a property (e.g. `interrupts`); `None` if absent.
pub fn cells(node: &NodeRef<'_, '_>, name: &'static str) -> Result<Option<Vec<u32>>, DtError> {
    match node.prop(name) {
        None => Ok(None),
        Some(v) if v.len() % 4 == 0 => Ok(Some(
            v.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )),
        Some(_) => Err(bad(node, name, "length not a multiple of 4")),
    }
}
