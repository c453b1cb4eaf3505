//! Aerie's own symbol table, carried in every boot module so Aerie can name its
//! addresses (watchdog reports, backtraces, profiles) without debug info.
//!
//! `cargo xtask build` reads the release ELF's `.symtab` right after building
//! the hypervisor and writes the packed table (format of the `aerie-symbols`
//! crate) to `target/aerie/aerie.symbols`, next to the Image made from the same
//! ELF; [`load`] hands it to the boot module writer.
//!
//! What goes in: every `STT_FUNC` symbol of `.text` with its ELF size, plus the
//! named `STT_NOTYPE` labels of the assembly (exception entry, guest entry,
//! boot), which have no size: they get the distance to the next symbol, so a
//! PC in the vector code still names the routine it is in. Left out: mapping
//! symbols (`$x`, `$d`), assembler locals (`.L...`), and linker-script
//! markers (`__image_start`, `__text_end`, ...), which alias real code.

use std::path::Path;

use anyhow::{Context, Result};
use object::elf::{FileHeader64, SHT_SYMTAB, STT_FUNC, STT_NOTYPE};
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;

use crate::paths;

/// One symbol as `aerie_symbols::write` takes it: address, size, demangled name.
pub type Entry = (u64, u32, String);

/// How a `.text` symbol was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `STT_FUNC`: a compiled function with a size.
    Func,
    /// `STT_NOTYPE`: an assembly label, size 0.
    Label,
}

/// A `.text` symbol straight from the ELF (name still mangled).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Raw {
    name: String,
    addr: u64,
    size: u64,
    kind: Kind,
}

/// The `.text` symbols of a 64-bit ELF, and where `.text` ends.
fn read_text_symbols(elf: &[u8]) -> Result<(Vec<Raw>, u64)> {
    let header = FileHeader64::<Endianness>::parse(elf).context("not a 64-bit ELF file")?;
    let endian = header.endian().context("bad ELF endianness")?;
    let sections = header
        .sections(endian, elf)
        .context("bad ELF section headers")?;
    let (text_index, text) = sections
        .section_by_name(endian, b".text")
        .context("no .text section")?;
    let text_end = text.sh_addr(endian) + text.sh_size(endian);
    let symtab = sections
        .symbols(endian, elf, SHT_SYMTAB)
        .context("bad ELF symbol table")?;
    if symtab.is_empty() {
        anyhow::bail!("no symbol table (.symtab): was the ELF stripped?");
    }
    let mut out = Vec::new();
    for (index, sym) in symtab.enumerate() {
        let kind = match sym.st_type() {
            STT_FUNC => Kind::Func,
            STT_NOTYPE => Kind::Label,
            _ => continue,
        };
        if symtab.symbol_section(endian, sym, index)? != Some(text_index) {
            continue;
        }
        let name = symtab
            .symbol_name(endian, sym)
            .with_context(|| format!("symbol {}: bad name", index.0))?;
        out.push(Raw {
            name: String::from_utf8_lossy(name).into_owned(),
            addr: sym.st_value(endian),
            size: sym.st_size(endian),
            kind,
        });
    }
    Ok((out, text_end))
}

/// Whether a `.text` symbol names code a reader would want to see.
fn wanted(raw: &Raw) -> bool {
    let n = raw.name.as_str();
    if n.is_empty() || n.starts_with('$') || n.starts_with(".L") {
        return false;
    }
    // Linker-script markers are untyped and start with `__`; compiled
    // functions with such names (compiler-builtins) are STT_FUNC and stay.
    !(raw.kind == Kind::Label && n.starts_with("__"))
}

/// Picks, names and sizes the symbols: one per address (a function beats a
/// label, then the larger, then the first name), sorted by address, names
/// demangled without the hash, and size-0 entries sized up to the next
/// symbol (or `text_end`).
fn select(mut raw: Vec<Raw>, text_end: u64) -> Vec<Entry> {
    raw.retain(wanted);
    raw.sort_by(|a, b| {
        (a.addr, a.kind, std::cmp::Reverse(a.size), &a.name).cmp(&(
            b.addr,
            b.kind,
            std::cmp::Reverse(b.size),
            &b.name,
        ))
    });
    raw.dedup_by_key(|r| r.addr);
    let next: Vec<u64> = raw
        .iter()
        .skip(1)
        .map(|r| r.addr)
        .chain([text_end])
        .collect();
    raw.into_iter()
        .zip(next)
        .map(|(r, next)| {
            let size = if r.size == 0 {
                next.saturating_sub(r.addr)
            } else {
                r.size
            };
            let name = format!("{:#}", rustc_demangle::demangle(&r.name));
            (r.addr, u32::try_from(size).unwrap_or(u32::MAX), name)
        })
        .collect()
}

/// Aerie's `.text` symbols from its ELF, ready for `aerie_symbols::write`.
pub fn text_symbols(elf: &[u8]) -> Result<Vec<Entry>> {
    let (raw, text_end) = read_text_symbols(elf)?;
    let symbols = select(raw, text_end);
    if symbols.is_empty() {
        anyhow::bail!("no function symbols in .text");
    }
    Ok(symbols)
}

/// Reads `elf`'s symbols and writes the packed table to `out`; returns how
/// many symbols it holds.
pub fn write_file(elf: &Path, out: &Path) -> Result<usize> {
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", paths::show(elf)))?;
    let mut symbols =
        text_symbols(&bytes).with_context(|| format!("symbols of {}", paths::show(elf)))?;
    let count = symbols.len();
    let packed = aerie_symbols::write(&mut symbols);
    std::fs::write(out, packed).with_context(|| format!("writing {}", paths::show(out)))?;
    Ok(count)
}

/// The packed table `cargo xtask build` wrote for the Aerie build that
/// drives GIC version `gic` (see [`paths::hypervisor_image_for`]).
pub fn load(gic: u32) -> Result<Vec<u8>> {
    let path = paths::hypervisor_symbols_for(gic);
    std::fs::read(&path).with_context(|| {
        format!(
            "reading Aerie's symbol table {} (`cargo xtask build` writes it)",
            paths::show(&path)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, addr: u64, size: u64, kind: Kind) -> Raw {
        Raw {
            name: name.into(),
            addr,
            size,
            kind,
        }
    }

    #[test]
    fn select_filters_dedups_sizes_and_demangles() {
        let text_end = 0x1100;
        let symbols = select(
            vec![
                // Out of order on purpose.
                raw(
                    "_ZN5aerie3irq6handle17h0123456789abcdefE",
                    0x1040,
                    0x20,
                    Kind::Func,
                ),
                raw("__image_start", 0x1000, 0, Kind::Label),
                raw("_start", 0x1000, 0, Kind::Label),
                raw("$x", 0x1000, 0, Kind::Label),
                raw("$d.12", 0x1060, 0, Kind::Label),
                raw(".Ltmp3", 0x1070, 0, Kind::Label),
                // Two labels at one address: the first name wins.
                raw("not_el2", 0x1080, 0, Kind::Label),
                raw("early_failed", 0x1080, 0, Kind::Label),
                // A label aliasing a function: the function wins.
                raw("el2_vectors", 0x1040, 0, Kind::Label),
                // compiler-builtins: a `__` name that is a real function.
                raw("__aarch64_cas8_acq_rel", 0x10c0, 0x30, Kind::Func),
                raw("guest_enter", 0x10f0, 0, Kind::Label),
            ],
            text_end,
        );
        assert_eq!(
            symbols,
            [
                (0x1000, 0x40, "_start".to_string()),
                (0x1040, 0x20, "aerie::irq::handle".to_string()),
                (0x1080, 0x40, "early_failed".to_string()),
                (0x10c0, 0x30, "__aarch64_cas8_acq_rel".to_string()),
                (0x10f0, 0x10, "guest_enter".to_string()),
            ]
        );
    }

    #[test]
    fn v0_names_demangle_and_huge_sizes_saturate() {
        let symbols = select(
            vec![
                raw("_RNvCs1234_5aerie4main", 0x2000, 1 << 40, Kind::Func),
                raw("plain_c_name", 0x1000, 8, Kind::Func),
            ],
            0x3000,
        );
        assert_eq!(symbols[0], (0x1000, 8, "plain_c_name".to_string()));
        assert_eq!(symbols[1], (0x2000, u32::MAX, "aerie::main".to_string()));
    }

    /// A minimal little-endian ELF64 with sections null, .text, .data,
    /// .symtab, .strtab, .shstrtab and `syms` as (name, type, section, value,
    /// size).
    fn elf(syms: &[(&str, u8, u16, u64, u64)]) -> Vec<u8> {
        let shstrtab = b"\0.text\0.data\0.symtab\0.strtab\0.shstrtab\0";
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24]; // symbol 0 is the null symbol
        for (name, ty, shndx, value, size) in syms {
            let name_off = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            symtab.extend_from_slice(&name_off.to_le_bytes());
            symtab.push(*ty); // st_info: STB_LOCAL << 4 | type
            symtab.push(0);
            symtab.extend_from_slice(&shndx.to_le_bytes());
            symtab.extend_from_slice(&value.to_le_bytes());
            symtab.extend_from_slice(&size.to_le_bytes());
        }
        let mut out = vec![0u8; 64];
        let symtab_off = out.len();
        out.extend_from_slice(&symtab);
        let strtab_off = out.len();
        out.extend_from_slice(&strtab);
        let shstrtab_off = out.len();
        out.extend_from_slice(shstrtab);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len();
        // (name offset in shstrtab, type, addr, offset, size, link, entsize)
        let sections: [(u32, u32, u64, usize, usize, u32, u64); 6] = [
            (0, 0, 0, 0, 0, 0, 0),
            (1, 1, 0x1000, 0, 0x100, 0, 0), // .text, SHT_PROGBITS
            (7, 1, 0x8000, 0, 0x10, 0, 0),  // .data
            (13, 2, 0, symtab_off, symtab.len(), 4, 24), // .symtab -> .strtab
            (21, 3, 0, strtab_off, strtab.len(), 0, 0),
            (29, 3, 0, shstrtab_off, shstrtab.len(), 0, 0),
        ];
        for (name, ty, addr, off, size, link, entsize) in sections {
            out.extend_from_slice(&name.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes()); // flags
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(off as u64).to_le_bytes());
            out.extend_from_slice(&(size as u64).to_le_bytes());
            out.extend_from_slice(&link.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes()); // info
            out.extend_from_slice(&8u64.to_le_bytes()); // addralign
            out.extend_from_slice(&entsize.to_le_bytes());
        }
        crate::elf_image::test_elf_header(&mut out);
        out[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        out[60..62].copy_from_slice(&6u16.to_le_bytes()); // e_shnum
        out[62..64].copy_from_slice(&5u16.to_le_bytes()); // e_shstrndx
        out
    }

    /// st_info symbol types from the ELF specification.
    const NOTYPE: u8 = 0;
    const OBJECT: u8 = 1;
    const FUNC: u8 = 2;

    #[test]
    fn reads_only_code_symbols_of_text_from_an_elf() {
        let file = elf(&[
            ("_ZN5aerie4main17h0123456789abcdefE", FUNC, 1, 0x1000, 0x80),
            ("vectors", NOTYPE, 1, 0x1080, 0),
            ("$x", NOTYPE, 1, 0x1080, 0),
            ("TABLE", OBJECT, 1, 0x10c0, 0x10), // data in .text: not code
            ("data_fn", FUNC, 2, 0x8000, 0x10), // not in .text
            ("REGS_PC", NOTYPE, 0xfff1, 0xf8, 0), // SHN_ABS
        ]);
        assert_eq!(
            text_symbols(&file).unwrap(),
            [
                (0x1000, 0x80, "aerie::main".to_string()),
                // Up to the end of .text (0x1000 + 0x100).
                (0x1080, 0x80, "vectors".to_string()),
            ]
        );
    }

    #[test]
    fn an_elf_without_code_symbols_is_an_error() {
        let err = text_symbols(&elf(&[("TABLE", OBJECT, 1, 0x1000, 8)])).unwrap_err();
        assert!(err.to_string().contains("no function symbols"), "{err}");
        assert!(text_symbols(b"not an ELF").is_err());
    }
}
