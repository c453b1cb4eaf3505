//! The arm64 Image header Aerie's image starts with (the Linux boot
//! protocol's, `Documentation/arch/arm64/booting.rst`, read by
//! `aerie_bootmodule::arm64_image` as for the guests' kernels), what the
//! loader requires of it, and where the loader puts the image by it.

use aerie_bootmodule::arm64_image::{self, HEADER_LEN, PageSize, parse_image_header};
use core::fmt;

/// The image must start `text_offset` above a 2 MiB boundary.
pub const ALIGN: u64 = 2 << 20;
/// A sanity bound on text_offset (Aerie's is 2 MiB, Linux's 0 or 512 KiB).
const MAX_TEXT_OFFSET: u64 = 1 << 30;

/// The header fields placement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub text_offset: u64,
    /// Bytes the image occupies once running, bss included.
    pub image_size: u64,
}

/// Why a file is not an image the loader can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    TooShort(usize),
    BadMagic,
    /// Flags bit 0: a big-endian image.
    BigEndian,
    /// Flags bits 1-2: a page size other than 4 KiB.
    PageSize(u64),
    /// image_size 0 (images before Linux 3.17 did not fill it in).
    NoImageSize,
    /// The file is longer than the image_size it declares.
    FileLongerThanImage {
        file: usize,
        image_size: u64,
    },
    /// text_offset is not a 4 KiB multiple of at most 1 GiB.
    TextOffset(u64),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort(n) => write!(
                f,
                "{n} bytes: shorter than the {HEADER_LEN}-byte Image header"
            ),
            Self::BadMagic => write!(f, "no arm64 Image magic (\"ARM\\x64\" at byte 56)"),
            Self::BigEndian => write!(f, "a big-endian image; Aerie runs little-endian"),
            Self::PageSize(p) => write!(
                f,
                "page size field {p} in the flags; the loader maps 4 KiB pages"
            ),
            Self::NoImageSize => write!(
                f,
                "image_size is 0: the header does not say how much memory the image needs"
            ),
            Self::FileLongerThanImage { file, image_size } => write!(
                f,
                "the file ({file} bytes) is longer than its image_size ({image_size} bytes)"
            ),
            Self::TextOffset(t) => write!(
                f,
                "text_offset {t:#x} is not a 4 KiB multiple of at most 1 GiB"
            ),
        }
    }
}

impl ImageHeader {
    /// Reads and checks the header of `file`, the whole image file.
    pub fn parse(file: &[u8]) -> Result<Self, ImageError> {
        let header = parse_image_header(file).map_err(|e| match e {
            arm64_image::ImageError::TooShort { len } => ImageError::TooShort(len),
            arm64_image::ImageError::BadMagic { .. } => ImageError::BadMagic,
        })?;
        // The parser reads an image_size of 0 as a pre-3.17 kernel and
        // guesses; Aerie's image must say how much memory its bss needs.
        if file[16..24] == [0; 8] {
            return Err(ImageError::NoImageSize);
        }
        if header.big_endian() {
            return Err(ImageError::BigEndian);
        }
        match header.page_size() {
            PageSize::Size16K => return Err(ImageError::PageSize(2)),
            PageSize::Size64K => return Err(ImageError::PageSize(3)),
            PageSize::Unspecified | PageSize::Size4K => {}
        }
        let (text_offset, image_size) = (header.text_offset, header.image_size);
        if file.len() as u64 > image_size {
            return Err(ImageError::FileLongerThanImage {
                file: file.len(),
                image_size,
            });
        }
        if text_offset > MAX_TEXT_OFFSET || !text_offset.is_multiple_of(4096) {
            return Err(ImageError::TextOffset(text_offset));
        }
        Ok(Self {
            text_offset,
            image_size,
        })
    }

    /// Bytes to allocate so that an aligned base with the image above it
    /// fits wherever the firmware puts the allocation.
    pub fn allocation(&self) -> u64 {
        ALIGN + self.text_offset + self.image_size
    }

    /// Where the image goes in an allocation at `start`: the first 2 MiB
    /// boundary at or above it, plus text_offset.
    pub fn load_address(&self, start: u64) -> u64 {
        start.next_multiple_of(ALIGN) + self.text_offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const MAGIC: &[u8; 4] = b"ARM\x64";

    fn image(text_offset: u64, image_size: u64, flags: u64, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[8..16].copy_from_slice(&text_offset.to_le_bytes());
        f[16..24].copy_from_slice(&image_size.to_le_bytes());
        f[24..32].copy_from_slice(&flags.to_le_bytes());
        f[56..60].copy_from_slice(MAGIC);
        f
    }

    #[test]
    fn aeries_own_header_is_accepted_and_placed() {
        // entry.S: text_offset 2 MiB, flags LE, 4 KiB pages, anywhere.
        let h = ImageHeader::parse(&image(0x20_0000, 0x30_0000, 0xa, 4096)).unwrap();
        assert_eq!(h.text_offset, 0x20_0000);
        assert_eq!(h.allocation(), 0x20_0000 + 0x20_0000 + 0x30_0000);
        assert_eq!(h.load_address(0x7e12_3000), 0x7e40_0000);
        assert_eq!(h.load_address(0x7e20_0000), 0x7e40_0000);
        let end = h.load_address(0x7e12_3000) + h.image_size;
        assert!(end <= 0x7e12_3000 + h.allocation());
    }

    #[test]
    fn bad_headers_are_refused_with_the_reason() {
        assert_eq!(ImageHeader::parse(&[0; 10]), Err(ImageError::TooShort(10)));
        let mut f = image(0, 0x1000, 0xa, 64);
        f[56] = b'X';
        assert_eq!(ImageHeader::parse(&f), Err(ImageError::BadMagic));
        assert_eq!(
            ImageHeader::parse(&image(0, 0x1000, 0xb, 64)),
            Err(ImageError::BigEndian)
        );
        assert_eq!(
            ImageHeader::parse(&image(0, 0x1000, 0x4, 64)),
            Err(ImageError::PageSize(2))
        );
        assert_eq!(
            ImageHeader::parse(&image(0, 0, 0xa, 64)),
            Err(ImageError::NoImageSize)
        );
        assert_eq!(
            ImageHeader::parse(&image(0, 32, 0xa, 64)),
            Err(ImageError::FileLongerThanImage {
                file: 64,
                image_size: 32
            })
        );
        assert_eq!(
            ImageHeader::parse(&image(0x1234, 0x1000, 0xa, 64)),
            Err(ImageError::TextOffset(0x1234))
        );
        assert_eq!(
            ImageHeader::parse(&image(2 << 30, 0x1000, 0xa, 64)),
            Err(ImageError::TextOffset(2 << 30))
        );
    }
}
