//! The borrowing, non-allocating reader.

use crate::error::SymbolsError;
use crate::format::{ENTRY_LEN, HEADER_LEN, MAGIC};

/// A validated symbol table borrowing its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Symbols<'a> {
    entries: &'a [u8],
    strtab: &'a [u8],
}

/// One entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub addr: u64,
    /// 0 when unknown.
    pub size: u32,
    pub name: &'a str,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut v = [0; 4];
    v.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut v = [0; 8];
    v.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(v)
}

impl<'a> Symbols<'a> {
    /// Validate `data` once (bounds, order, names), so lookups cannot fail
    /// later. Linear in the size of the table.
    pub fn parse(data: &'a [u8]) -> Result<Symbols<'a>, SymbolsError> {
        if data.len() < HEADER_LEN {
            return Err(if data.len() >= MAGIC.len() && data[..8] != MAGIC {
                SymbolsError::BadMagic
            } else {
                SymbolsError::Truncated {
                    needed: HEADER_LEN,
                    len: data.len(),
                }
            });
        }
        if data[..8] != MAGIC {
            return Err(SymbolsError::BadMagic);
        }
        let count = u32_at(data, 8) as usize;
        let strtab_len = u32_at(data, 12) as usize;
        // u32 * 16 + u32 + 16 cannot overflow a 64-bit usize, but be exact
        // on any target.
        let needed = count
            .checked_mul(ENTRY_LEN)
            .and_then(|e| e.checked_add(HEADER_LEN))
            .and_then(|e| e.checked_add(strtab_len))
            .ok_or(SymbolsError::Truncated {
                needed: usize::MAX,
                len: data.len(),
            })?;
        if data.len() < needed {
            return Err(SymbolsError::Truncated {
                needed,
                len: data.len(),
            });
        }
        if let Some(i) = data[needed..].iter().position(|&b| b != 0) {
            return Err(SymbolsError::TrailingBytes { offset: needed + i });
        }
        let strtab_start = HEADER_LEN + count * ENTRY_LEN;
        let table = Symbols {
            entries: &data[HEADER_LEN..strtab_start],
            strtab: &data[strtab_start..needed],
        };
        let mut prev: Option<u64> = None;
        for index in 0..count {
            let (addr, size, name_off) = table.raw(index);
            if let Some(prev) = prev {
                if addr <= prev {
                    return Err(SymbolsError::NotSorted { index, prev, addr });
                }
            }
            prev = Some(addr);
            if addr.checked_add(u64::from(size)).is_none() {
                return Err(SymbolsError::SizeOverflow { index });
            }
            table.name_checked(index, name_off)?;
        }
        Ok(table)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_LEN
    }

    /// Whether the table has no symbols.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Symbol `index` in address order.
    pub fn get(&self, index: usize) -> Option<Symbol<'a>> {
        if index >= self.len() {
            return None;
        }
        let (addr, size, name_off) = self.raw(index);
        // Validated by `parse`; a failure here would be a bug, so show "?".
        let name = self.name_checked(index, name_off).unwrap_or("?");
        Some(Symbol { addr, size, name })
    }

    /// Every symbol in address order.
    pub fn iter(&self) -> impl Iterator<Item = Symbol<'a>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The symbol containing `addr` and the offset of `addr` in it.
    ///
    /// Finds the last symbol starting at or below `addr` (binary search). If
    /// its size is known, `addr` must lie in `[start, start + size)`;
    /// otherwise (size 0) it extends to the next symbol. Nested symbols are
    /// not looked through: an address past the end of the nearest preceding
    /// sized symbol resolves to nothing.
    pub fn lookup(&self, addr: u64) -> Option<(&'a str, u64)> {
        let after = self.partition_point(addr);
        let sym = self.get(after.checked_sub(1)?)?;
        let offset = addr - sym.addr;
        if sym.size != 0 && offset >= u64::from(sym.size) {
            return None;
        }
        Some((sym.name, offset))
    }

    /// Number of symbols starting at or below `addr`.
    fn partition_point(&self, addr: u64) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.raw(mid).0 <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn raw(&self, index: usize) -> (u64, u32, u32) {
        let off = index * ENTRY_LEN;
        (
            u64_at(self.entries, off),
            u32_at(self.entries, off + 8),
            u32_at(self.entries, off + 12),
        )
    }

    fn name_checked(&self, index: usize, name_off: u32) -> Result<&'a str, SymbolsError> {
        let rest = self
            .strtab
            .get(name_off as usize..)
            .filter(|r| !r.is_empty())
            .ok_or(SymbolsError::NameOutOfBounds { index, name_off })?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(SymbolsError::NameNotTerminated { index })?;
        core::str::from_utf8(&rest[..end]).map_err(|_| SymbolsError::NameNotUtf8 { index })
    }
}
