//! The writer, for xtask (host side).

use crate::format::{ENTRY_LEN, HEADER_LEN, MAGIC};

/// Serialise `(addr, size, name)` symbols (sorted in place by address).
///
/// Symbols sharing an address (aliases) keep one entry: the largest size,
/// then the alphabetically first name, so the output is deterministic.
/// A name is cut at its first NUL (the table's terminator). Symbols beyond
/// `u32::MAX` entries or string bytes cannot be represented and panic (an
/// ELF that large is a build bug).
pub fn write(symbols: &mut Vec<(u64, u32, String)>) -> Vec<u8> {
    symbols.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    symbols.dedup_by_key(|s| s.0);

    let mut strtab = Vec::new();
    let mut entries = Vec::with_capacity(symbols.len() * ENTRY_LEN);
    for (addr, size, name) in symbols.iter() {
        let name = name.split('\0').next().unwrap_or("");
        let name_off = u32::try_from(strtab.len()).expect("symbol string table over 4 GiB");
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        entries.extend_from_slice(&addr.to_le_bytes());
        entries.extend_from_slice(&size.to_le_bytes());
        entries.extend_from_slice(&name_off.to_le_bytes());
    }
    let count = u32::try_from(symbols.len()).expect("more than u32::MAX symbols");
    let strtab_len = u32::try_from(strtab.len()).expect("symbol string table over 4 GiB");

    let mut out = Vec::with_capacity(HEADER_LEN + entries.len() + strtab.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&strtab_len.to_le_bytes());
    out.extend_from_slice(&entries);
    out.extend_from_slice(&strtab);
    out
}
