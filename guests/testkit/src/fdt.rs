//! A minimal flattened device tree walker (devicetree specification v0.4, ch. 5):
//! enough to find nodes by name and read their properties. Reads are byte-wise,
//! so an unaligned blob never causes an alignment fault with the MMU off.

use core::fmt;

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
const HEADER_LEN: usize = 40;
/// booting.rst limits the DTB to 2 MiB; anything larger is corrupt.
pub const MAX_SIZE: usize = 2 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdtError {
    BadMagic(u32),
    BadSize(usize),
    /// A structure or string offset points outside the blob.
    OutOfBounds {
        offset: usize,
    },
    BadToken {
        offset: usize,
        token: u32,
    },
}

impl fmt::Display for FdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(m) => write!(f, "bad FDT magic {m:#x}"),
            Self::BadSize(s) => write!(f, "bad FDT totalsize {s:#x}"),
            Self::OutOfBounds { offset } => write!(f, "FDT offset {offset:#x} out of bounds"),
            Self::BadToken { offset, token } => {
                write!(f, "bad FDT token {token:#x} at {offset:#x}")
            }
        }
    }
}

/// What the walker reports, in document order. `depth` is 0 for the root node.
pub enum Event<'a> {
    BeginNode {
        name: &'a [u8],
        depth: usize,
    },
    Property {
        name: &'a [u8],
        value: &'a [u8],
        depth: usize,
    },
    EndNode {
        depth: usize,
    },
}

pub struct Fdt<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
}

fn be32(bytes: &[u8], offset: usize) -> Result<u32, FdtError> {
    let b = bytes
        .get(offset..offset + 4)
        .ok_or(FdtError::OutOfBounds { offset })?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The NUL-terminated string starting at `offset`, without its terminator.
fn c_str(bytes: &[u8], offset: usize) -> Result<&[u8], FdtError> {
    let tail = bytes
        .get(offset..)
        .ok_or(FdtError::OutOfBounds { offset })?;
    let len = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or(FdtError::OutOfBounds { offset })?;
    Ok(&tail[..len])
}

fn align4(offset: usize) -> usize {
    (offset + 3) & !3
}

impl<'a> Fdt<'a> {
    /// Checks the header and locates the structure and strings blocks.
    pub fn new(blob: &'a [u8]) -> Result<Self, FdtError> {
        let magic = be32(blob, 0)?;
        if magic != FDT_MAGIC {
            return Err(FdtError::BadMagic(magic));
        }
        let total = be32(blob, 4)? as usize;
        if !(HEADER_LEN..=blob.len()).contains(&total) {
            return Err(FdtError::BadSize(total));
        }
        let blob = &blob[..total];
        let block = |off_field: usize, size_field: usize| -> Result<&'a [u8], FdtError> {
            let offset = be32(blob, off_field)? as usize;
            let size = be32(blob, size_field)? as usize;
            blob.get(offset..offset.saturating_add(size))
                .ok_or(FdtError::OutOfBounds { offset })
        };
        Ok(Self {
            structs: block(8, 36)?,
            strings: block(12, 32)?,
        })
    }

    /// Builds the walker over a blob in memory.
    ///
    /// # Safety
    /// `addr` must point to readable memory holding a device tree that is not
    /// written while the returned value lives (the boot protocol guarantees the
    /// DTB the loader passed in x0 stays intact).
    pub unsafe fn from_addr(addr: usize) -> Result<Fdt<'static>, FdtError> {
        // SAFETY: the caller guarantees at least the header is readable.
        let header = unsafe { core::slice::from_raw_parts(addr as *const u8, HEADER_LEN) };
        let total = be32(header, 4)? as usize;
        if !(HEADER_LEN..=MAX_SIZE).contains(&total) {
            return Err(FdtError::BadSize(total));
        }
        // SAFETY: the caller guarantees the whole blob (totalsize bytes) is readable.
        Fdt::new(unsafe { core::slice::from_raw_parts(addr as *const u8, total) })
    }

    /// Calls `visit` for every node start, property and node end.
    pub fn walk(&self, mut visit: impl FnMut(Event<'a>)) -> Result<(), FdtError> {
        let s = self.structs;
        let mut offset = 0;
        let mut depth = 0usize;
        loop {
            let token = be32(s, offset)?;
            let token_offset = offset;
            offset += 4;
            match token {
                FDT_BEGIN_NODE => {
                    let name = c_str(s, offset)?;
                    offset = align4(offset + name.len() + 1);
                    visit(Event::BeginNode { name, depth });
                    depth += 1;
                }
                FDT_END_NODE => {
                    depth = depth.checked_sub(1).ok_or(FdtError::BadToken {
                        offset: token_offset,
                        token,
                    })?;
                    visit(Event::EndNode { depth });
                }
                FDT_PROP => {
                    let len = be32(s, offset)? as usize;
                    let name_offset = be32(s, offset + 4)? as usize;
                    offset += 8;
                    let value = s
                        .get(offset..offset + len)
                        .ok_or(FdtError::OutOfBounds { offset })?;
                    offset = align4(offset + len);
                    let name = c_str(self.strings, name_offset)?;
                    // A property belongs to the node opened last, one level up.
                    visit(Event::Property {
                        name,
                        value,
                        depth: depth.saturating_sub(1),
                    });
                }
                FDT_NOP => {}
                FDT_END => return Ok(()),
                _ => {
                    return Err(FdtError::BadToken {
                        offset: token_offset,
                        token,
                    })
                }
            }
        }
    }
}

/// A big-endian cell value of 1 or 2 cells (the widths `reg` uses for CPUs).
pub fn cells_value(value: &[u8]) -> Option<u64> {
    match value.len() {
        4 => Some(u64::from(be32(value, 0).ok()?)),
        8 => Some((u64::from(be32(value, 0).ok()?) << 32) | u64::from(be32(value, 4).ok()?)),
        _ => None,
    }
}
