//! The 64-byte header at the start of a Linux arm64 `Image`
//! (Linux `Documentation/arch/arm64/booting.rst`, "Call the kernel image").
//!
//! ```text
//! 0   u32 code0          executable code
//! 4   u32 code1          executable code
//! 8   u64 text_offset    image load offset from a 2 MiB aligned base
//! 16  u64 image_size     effective image size (0 for kernels before v3.17)
//! 24  u64 flags          kernel flags
//! 32  u64 res2, res3, res4
//! 56  u32 magic          0x644d5241 ("ARM\x64")
//! 60  u32 res5
//! ```
//! Both Aerie itself (`aerie.Image`) and the guests it loads carry this header.

use core::fmt;

/// Size of the header in bytes.
pub const HEADER_LEN: usize = 64;
/// `"ARM\x64"` read as a little-endian u32 at offset 56.
pub const MAGIC: u32 = 0x644d_5241;
/// `text_offset` a kernel with `image_size == 0` (before v3.17) expects.
pub const LEGACY_TEXT_OFFSET: u64 = 0x8_0000;

/// The fields of the header a loader needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset from a 2 MiB aligned RAM base at which the image must be placed.
    pub text_offset: u64,
    /// Bytes from the image start that the kernel may touch (code, data, bss).
    pub image_size: u64,
    /// Bit 0: big endian; bits 1-2: page size; bit 3: may be placed anywhere in RAM.
    pub flags: u64,
}

/// Kernel page size announced in `flags` bits 1-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    Unspecified,
    Size4K,
    Size16K,
    Size64K,
}

impl ImageHeader {
    /// Flags bit 0: the kernel is big endian.
    pub fn big_endian(&self) -> bool {
        self.flags & 1 != 0
    }

    /// Flags bits 1-2: the kernel's page size.
    pub fn page_size(&self) -> PageSize {
        match (self.flags >> 1) & 0b11 {
            0 => PageSize::Unspecified,
            1 => PageSize::Size4K,
            2 => PageSize::Size16K,
            _ => PageSize::Size64K,
        }
    }

    /// Flags bit 3: the 2 MiB aligned base may be anywhere in physical memory
    /// (otherwise it should be as low in RAM as possible).
    pub fn placement_anywhere(&self) -> bool {
        self.flags & (1 << 3) != 0
    }
}

/// Why a byte string is not an arm64 Image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Shorter than the 64-byte header.
    TooShort { len: usize },
    /// The u32 at offset 56 is not [`MAGIC`].
    BadMagic { found: u32 },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ImageError::TooShort { len } => write!(
                f,
                "not an arm64 Image: {len} bytes is shorter than the {HEADER_LEN}-byte header"
            ),
            ImageError::BadMagic { found } => write!(
                f,
                "not an arm64 Image: magic at offset 56 is {found:#010x}, expected {MAGIC:#010x} (\"ARM\\x64\")"
            ),
        }
    }
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Parses the header at the start of `bytes` (the whole file, so the legacy
/// fallback can use its length).
///
/// A kernel with `image_size == 0` predates v3.17: its `text_offset` is
/// unreliable, so it is taken as 0x80000 and the size as the file size.
pub fn parse_image_header(bytes: &[u8]) -> Result<ImageHeader, ImageError> {
    if bytes.len() < HEADER_LEN {
        return Err(ImageError::TooShort { len: bytes.len() });
    }
    let mut m = [0u8; 4];
    m.copy_from_slice(&bytes[56..60]);
    let magic = u32::from_le_bytes(m);
    if magic != MAGIC {
        return Err(ImageError::BadMagic { found: magic });
    }
    let image_size = le_u64(bytes, 16);
    if image_size == 0 {
        return Ok(ImageHeader {
            text_offset: LEGACY_TEXT_OFFSET,
            image_size: bytes.len() as u64,
            flags: 0,
        });
    }
    Ok(ImageHeader {
        text_offset: le_u64(bytes, 8),
        image_size,
        flags: le_u64(bytes, 24),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text_offset: u64, image_size: u64, flags: u64) -> [u8; 128] {
        let mut b = [0u8; 128];
        // code0 of a real kernel: `add x13, x18, #0x16` ("MZ" for EFI stubs) - any value works.
        b[0..4].copy_from_slice(&0x91005a4du32.to_le_bytes());
        b[8..16].copy_from_slice(&text_offset.to_le_bytes());
        b[16..24].copy_from_slice(&image_size.to_le_bytes());
        b[24..32].copy_from_slice(&flags.to_le_bytes());
        b[56..60].copy_from_slice(b"ARM\x64");
        b
    }

    #[test]
    fn magic_constant_is_arm_x64() {
        assert_eq!(MAGIC.to_le_bytes(), *b"ARM\x64");
    }

    #[test]
    fn parses_modern_header() {
        // Typical defconfig kernel: text_offset 0, flags 0xa = LE, 4K pages, anywhere.
        let b = header(0, 0x2a1_0000, 0xa);
        let h = parse_image_header(&b).unwrap();
        assert_eq!(
            h,
            ImageHeader {
                text_offset: 0,
                image_size: 0x2a1_0000,
                flags: 0xa
            }
        );
        assert!(!h.big_endian());
        assert_eq!(h.page_size(), PageSize::Size4K);
        assert!(h.placement_anywhere());
    }

    #[test]
    fn flag_decoding() {
        let h = |flags| parse_image_header(&header(0, 4096, flags)).unwrap();
        assert!(h(1).big_endian());
        assert_eq!(h(0).page_size(), PageSize::Unspecified);
        assert_eq!(h(0b100).page_size(), PageSize::Size16K);
        assert_eq!(h(0b110).page_size(), PageSize::Size64K);
        assert!(!h(0b110).placement_anywhere());
    }

    #[test]
    fn legacy_kernel_uses_fixed_offset_and_file_size() {
        let b = header(0x1234, 0, 0xff);
        let h = parse_image_header(&b).unwrap();
        assert_eq!(h.text_offset, 0x80000);
        assert_eq!(h.image_size, 128);
        assert_eq!(h.flags, 0);
    }

    #[test]
    fn rejects_short_and_bad_magic() {
        let b = header(0, 4096, 0);
        assert_eq!(
            parse_image_header(&b[..63]),
            Err(ImageError::TooShort { len: 63 })
        );
        let mut bad = b;
        bad[59] = 0x65;
        assert_eq!(
            parse_image_header(&bad),
            Err(ImageError::BadMagic { found: 0x654d5241 })
        );
        // An ELF file is the classic mistake: its magic is at offset 0, not 56.
        let mut elf = [0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        assert!(matches!(
            parse_image_header(&elf),
            Err(ImageError::BadMagic { found: 0 })
        ));
    }
}
