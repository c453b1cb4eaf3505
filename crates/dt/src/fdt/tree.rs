//! Flattens the FDT structure block (spec §5.4) into an arena of nodes so the
//! host-info code can walk parents (for #address-cells) and resolve phandles
//! and paths without re-scanning the blob.

use alloc::string::String;
use alloc::vec::Vec;

use super::header::{be32, be64, Header};
use crate::error::DtError;
use crate::region::Region;

const FDT_BEGIN_NODE: u32 = 0x1;
const FDT_END_NODE: u32 = 0x2;
const FDT_PROP: u32 = 0x3;
const FDT_NOP: u32 = 0x4;
const FDT_END: u32 = 0x9;

/// One property: its name (from the strings block) and raw big-endian value.
#[derive(Debug, Clone, Copy)]
pub struct Prop<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

#[derive(Debug)]
struct Node<'a> {
    name: &'a str,
    parent: Option<usize>,
    props: Vec<Prop<'a>>,
    children: Vec<usize>,
}

/// A parsed device tree borrowing names and values from the blob.
#[derive(Debug)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    reservations: Vec<Region>,
}

/// A node of a [`Tree`]; cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'t, 'a> {
    tree: &'t Tree<'a>,
    id: usize,
}

impl<'a> Tree<'a> {
    /// Parses header, memory reservation block and structure block. `blob` may
    /// extend past `totalsize`.
    pub fn parse(blob: &'a [u8]) -> Result<Self, DtError> {
        let hdr = Header::parse(blob)?;
        let blob = &blob[..hdr.total_size];
        let reservations = parse_reservations(blob, hdr.off_mem_rsvmap)?;
        let strings = &blob[hdr.off_dt_strings..hdr.off_dt_strings + hdr.size_dt_strings];
        let structure = &blob[hdr.off_dt_struct..hdr.off_dt_struct + hdr.size_dt_struct];
        let nodes = parse_structure(structure, strings)?;
        Ok(Self {
            nodes,
            reservations,
        })
    }

    /// `/memreserve/` entries from the memory reservation block.
    pub fn reservations(&self) -> &[Region] {
        &self.reservations
    }

    pub fn root(&self) -> NodeRef<'_, 'a> {
        NodeRef { tree: self, id: 0 }
    }

    /// Every node in document order, root first.
    pub fn nodes(&self) -> impl Iterator<Item = NodeRef<'_, 'a>> {
        (0..self.nodes.len()).map(move |id| NodeRef { tree: self, id })
    }

    /// Resolves an absolute path. A component without a unit address matches a
    /// node whose name before '@' equals it (spec §2.2.3), e.g. "/memory".
    pub fn find_path(&self, path: &str) -> Option<NodeRef<'_, 'a>> {
        let rest = path.strip_prefix('/')?;
        let mut node = self.root();
        for comp in rest.split('/').filter(|c| !c.is_empty()) {
            node = node.children().find(|c| name_matches(c.name(), comp))?;
        }
        Some(node)
    }

    /// The node whose `phandle` (or legacy `linux,phandle`) equals `phandle`.
    pub fn by_phandle(&self, phandle: u32) -> Option<NodeRef<'_, 'a>> {
        self.nodes().find(|n| {
            n.prop("phandle")
                .or_else(|| n.prop("linux,phandle"))
                .filter(|v| v.len() == 4)
                .and_then(|v| be32(v, 0))
                == Some(phandle)
        })
    }
}

fn name_matches(name: &str, comp: &str) -> bool {
    name == comp || (!comp.contains('@') && name.split('@').next() == Some(comp))
}

impl<'t, 'a> NodeRef<'t, 'a> {
    fn node(&self) -> &'t Node<'a> {
        &self.tree.nodes[self.id]
    }

    /// Full node name including unit address ("pl011@9000000"); "" for the root.
    pub fn name(&self) -> &'a str {
        self.node().name
    }

    pub fn parent(&self) -> Option<NodeRef<'t, 'a>> {
        let tree = self.tree;
        self.node().parent.map(|id| NodeRef { tree, id })
    }

    pub fn children(&self) -> impl Iterator<Item = NodeRef<'t, 'a>> + 't {
        let tree = self.tree;
        self.node()
            .children
            .iter()
            .map(move |&id| NodeRef { tree, id })
    }

    pub fn prop(&self, name: &str) -> Option<&'a [u8]> {
        self.node()
            .props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value)
    }

    pub fn props(&self) -> impl Iterator<Item = Prop<'a>> + 't {
        self.node().props.iter().copied()
    }

    /// Absolute path, for error messages.
    pub fn path(&self) -> String {
        let mut names = Vec::new();
        let mut cur = Some(*self);
        while let Some(n) = cur {
            if n.parent().is_some() {
                names.push(n.name());
            }
            cur = n.parent();
        }
        if names.is_empty() {
            return String::from("/");
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        path
    }
}

/// Reads (address, size) u64 pairs up to the all-zero terminator (§5.3).
fn parse_reservations(blob: &[u8], mut off: usize) -> Result<Vec<Region>, DtError> {
    let mut out = Vec::new();
    loop {
        let (Some(base), Some(size)) = (be64(blob, off), be64(blob, off + 8)) else {
            return Err(DtError::Truncated {
                what: "memory reservation block (no terminator)",
                needed: off + 16,
                available: blob.len(),
            });
        };
        if base == 0 && size == 0 {
            return Ok(out);
        }
        out.push(Region { base, size });
        off += 16;
    }
}

/// NUL-terminated UTF-8 string starting at `off`.
fn c_str(bytes: &[u8], off: usize) -> Option<&str> {
    let tail = bytes.get(off..)?;
    let len = tail.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&tail[..len]).ok()
}

const fn align4(x: usize) -> usize {
    (x + 3) & !3
}

fn parse_structure<'a>(s: &'a [u8], strings: &'a [u8]) -> Result<Vec<Node<'a>>, DtError> {
    let mut nodes: Vec<Node<'a>> = Vec::new();
    // Open nodes, innermost last.
    let mut stack: Vec<usize> = Vec::new();
    let mut off = 0usize;
    let truncated = |needed: usize| DtError::Truncated {
        what: "structure block",
        needed,
        available: s.len(),
    };
    loop {
        let token = be32(s, off).ok_or_else(|| truncated(off + 4))?;
        let token_off = off;
        off += 4;
        match token {
            FDT_BEGIN_NODE => {
                let name = c_str(s, off).ok_or(DtError::BadName { offset: off })?;
                off = align4(off + name.len() + 1);
                let parent = stack.last().copied();
                // Exactly one root, and it comes first.
                if parent.is_none() && !nodes.is_empty() {
                    return Err(DtError::BadToken {
                        offset: token_off,
                        token,
                    });
                }
                let id = nodes.len();
                nodes.push(Node {
                    name,
                    parent,
                    props: Vec::new(),
                    children: Vec::new(),
                });
                if let Some(p) = parent {
                    nodes[p].children.push(id);
                }
                stack.push(id);
            }
            FDT_END_NODE => {
                stack.pop().ok_or(DtError::BadToken {
                    offset: token_off,
                    token,
                })?;
            }
            FDT_PROP => {
                let len = be32(s, off).ok_or_else(|| truncated(off + 8))? as usize;
                let nameoff = be32(s, off + 4).ok_or_else(|| truncated(off + 8))? as usize;
                off += 8;
                let value = s.get(off..off + len).ok_or_else(|| truncated(off + len))?;
                let name = c_str(strings, nameoff).ok_or(DtError::BadName { offset: nameoff })?;
                off = align4(off + len);
                let &cur = stack.last().ok_or(DtError::BadToken {
                    offset: token_off,
                    token,
                })?;
                nodes[cur].props.push(Prop { name, value });
            }
            FDT_NOP => {}
            FDT_END if stack.is_empty() && !nodes.is_empty() => return Ok(nodes),
            _ => {
                return Err(DtError::BadToken {
                    offset: token_off,
                    token,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_fdt::FdtWriter;

    fn sample() -> Vec<u8> {
        let mut w = FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        let soc = w.begin_node("soc").unwrap();
        let dev = w.begin_node("serial@1000").unwrap();
        w.property_u32("phandle", 7).unwrap();
        w.end_node(dev).unwrap();
        w.end_node(soc).unwrap();
        let chosen = w.begin_node("chosen").unwrap();
        w.end_node(chosen).unwrap();
        w.end_node(root).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn finds_paths_with_and_without_unit_address() {
        let blob = sample();
        let tree = Tree::parse(&blob).unwrap();
        assert_eq!(tree.find_path("/").unwrap().path(), "/");
        let dev = tree.find_path("/soc/serial@1000").unwrap();
        assert_eq!(dev.path(), "/soc/serial@1000");
        assert_eq!(
            tree.find_path("/soc/serial").unwrap().path(),
            "/soc/serial@1000"
        );
        assert!(tree.find_path("/soc/serial@2000").is_none());
        assert!(tree.find_path("soc").is_none());
        assert_eq!(tree.by_phandle(7).unwrap().name(), "serial@1000");
        assert!(tree.by_phandle(8).is_none());
        assert_eq!(tree.nodes().count(), 4);
    }

    /// Offset of the structure block in a blob.
    fn struct_off(blob: &[u8]) -> usize {
        be32(blob, 8).unwrap() as usize
    }

    #[test]
    fn rejects_unknown_token() {
        let mut blob = sample();
        let off = struct_off(&blob);
        // Replace the root's FDT_BEGIN_NODE with a token the spec does not define.
        blob[off..off + 4].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(
            Tree::parse(&blob).unwrap_err(),
            DtError::BadToken {
                offset: 0,
                token: 5
            }
        );
    }

    #[test]
    fn rejects_structure_without_end_token() {
        let mut blob = sample();
        // size_dt_struct minus the trailing FDT_END: the walk runs off the block.
        let size = be32(&blob, 36).unwrap() - 4;
        blob[36..40].copy_from_slice(&size.to_be_bytes());
        assert!(matches!(
            Tree::parse(&blob),
            Err(DtError::Truncated {
                what: "structure block",
                ..
            })
        ));
    }
}
