//! ELF → flat binary ("Image"), the part of `objcopy -O binary` we need.
//!
//! QEMU and firmware load an arm64 Image as raw bytes at one address, so the file
//! must be the memory image: every PT_LOAD segment's file bytes at its offset from
//! the lowest segment, zero-filled gaps, and no trailing bss (the Image header's
//! `image_size` tells the loader how much memory the bss needs).

use anyhow::{bail, Context, Result};
use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

/// A flat image larger than this means the segments are scattered (e.g. a
/// segment linked at a different address space) and the output would be absurd.
const MAX_IMAGE: u64 = 256 << 20;

/// One PT_LOAD segment with file contents.
struct Segment<'a> {
    vaddr: u64,
    bytes: &'a [u8],
}

/// Converts a 64-bit ELF executable into a flat image starting at the lowest
/// loadable address.
pub fn elf_to_image(elf: &[u8]) -> Result<Vec<u8>> {
    let header = FileHeader64::<Endianness>::parse(elf).context("not a 64-bit ELF file")?;
    let endian = header.endian().context("bad ELF endianness")?;
    let mut segments = Vec::new();
    for ph in header
        .program_headers(endian, elf)
        .context("bad ELF program headers")?
    {
        if ph.p_type(endian) != PT_LOAD || ph.p_filesz(endian) == 0 {
            continue;
        }
        let vaddr = ph.p_vaddr(endian);
        let bytes = ph
            .data(endian, elf)
            .map_err(|()| anyhow::anyhow!("PT_LOAD segment at {vaddr:#x} lies outside the file"))?;
        segments.push(Segment { vaddr, bytes });
    }
    segments.sort_by_key(|s| s.vaddr);
    let Some(start) = segments.first().map(|s| s.vaddr) else {
        bail!("ELF has no PT_LOAD segment with file contents");
    };
    let end = segments
        .iter()
        .map(|s| s.vaddr + s.bytes.len() as u64)
        .max()
        .unwrap_or(start);
    if end - start > MAX_IMAGE {
        bail!(
            "PT_LOAD segments span {start:#x}..{end:#x} ({} MiB): too far apart for a flat image",
            (end - start) >> 20
        );
    }
    let mut image = vec![0u8; (end - start) as usize];
    for s in &segments {
        let at = (s.vaddr - start) as usize;
        image[at..at + s.bytes.len()].copy_from_slice(s.bytes);
    }
    Ok(image)
}

/// The fields every test ELF file shares: identification (ELF64,
/// little-endian, version 1), ET_EXEC, EM_AARCH64, e_version, e_ehsize.
#[cfg(test)]
pub(crate) fn test_elf_header(out: &mut [u8]) {
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // ELFDATA2LSB
    out[6] = 1; // EV_CURRENT
    out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// p_type values from the ELF specification.
    const LOAD: u32 = 1;
    const PT_NOTE: u32 = 4;

    /// (p_type, vaddr, file bytes, memsz) → a minimal little-endian ELF64 file.
    fn elf(segments: &[(u32, u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 64usize;
        let mut data_off = phoff + 56 * segments.len();
        let mut out = vec![0u8; data_off];
        test_elf_header(&mut out);
        out[32..40].copy_from_slice(&(phoff as u64).to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        for (i, (ty, vaddr, bytes, memsz)) in segments.iter().enumerate() {
            let ph = phoff + 56 * i;
            let put = |out: &mut Vec<u8>, at: usize, v: u64| {
                out[ph + at..ph + at + 8].copy_from_slice(&v.to_le_bytes())
            };
            out[ph..ph + 4].copy_from_slice(&ty.to_le_bytes());
            put(&mut out, 8, data_off as u64); // p_offset
            put(&mut out, 16, *vaddr); // p_vaddr
            put(&mut out, 24, *vaddr); // p_paddr
            put(&mut out, 32, bytes.len() as u64); // p_filesz
            put(&mut out, 40, *memsz); // p_memsz
            out.extend_from_slice(bytes);
            data_off += bytes.len();
        }
        out
    }

    #[test]
    fn lays_out_segments_with_zero_gaps_and_no_bss() {
        let file = elf(&[
            // Listed out of order on purpose.
            (LOAD, 0x4008_0010, b"DATA", 0x1000), // bss tail not written
            (PT_NOTE, 0x1000, b"note", 4),
            (LOAD, 0x4008_0000, b"CODE", 4),
            (LOAD, 0x4009_0000, b"", 0x5000), // bss only: skipped
        ]);
        let image = elf_to_image(&file).unwrap();
        let mut expect = vec![0u8; 0x14];
        expect[..4].copy_from_slice(b"CODE");
        expect[0x10..0x14].copy_from_slice(b"DATA");
        assert_eq!(image, expect);
    }

    #[test]
    fn rejects_non_elf_and_empty() {
        assert!(
            elf_to_image(b"not an elf at all, just text....................................")
                .is_err()
        );
        let err = elf_to_image(&elf(&[(LOAD, 0x1000, b"", 0x100)])).unwrap_err();
        assert!(err.to_string().contains("no PT_LOAD"), "{err}");
    }

    #[test]
    fn rejects_scattered_segments() {
        let err = elf_to_image(&elf(&[
            (LOAD, 0x4000_0000, b"a", 1),
            (LOAD, 0xffff_8000_0000_0000, b"b", 1),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("too far apart"), "{err}");
    }
}
