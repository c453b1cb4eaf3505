//! The 40-byte FDT header (devicetree spec v0.4, §5.2). All fields big-endian.

use crate::error::DtError;

pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Size of the v17 header: ten 32-bit fields.
pub const HEADER_SIZE: usize = 40;
/// Oldest layout we read: v16 is the first with `size_dt_strings` fixed meaning.
const MIN_VERSION: u32 = 16;
/// Newest layout we understand; a blob readable by v17 readers says so via
/// `last_comp_version <= 17`.
const MAX_COMP_VERSION: u32 = 17;

/// Big-endian u32 at `off`, if the slice is long enough.
pub fn be32(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Big-endian u64 at `off`, if the slice is long enough.
pub fn be64(bytes: &[u8], off: usize) -> Option<u64> {
    let hi = be32(bytes, off)?;
    let lo = be32(bytes, off.checked_add(4)?)?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// `totalsize` from a header, so the caller can map the whole blob before parsing.
/// `None` if fewer than 8 bytes are given or the magic is wrong.
pub fn total_size(header: &[u8]) -> Option<usize> {
    if be32(header, 0)? != FDT_MAGIC {
        return None;
    }
    usize::try_from(be32(header, 4)?).ok()
}

/// The validated header: block ranges are known to lie inside `totalsize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub total_size: usize,
    pub off_dt_struct: usize,
    pub size_dt_struct: usize,
    pub off_dt_strings: usize,
    pub size_dt_strings: usize,
    pub off_mem_rsvmap: usize,
    pub boot_cpuid_phys: u32,
}

impl Header {
    /// Reads and checks the header against the blob it heads. `blob` may be
    /// longer than `totalsize` (a caller mapping whole pages); never shorter.
    pub fn parse(blob: &[u8]) -> Result<Self, DtError> {
        if blob.len() < HEADER_SIZE {
            return Err(DtError::Truncated {
                what: "FDT header",
                needed: HEADER_SIZE,
                available: blob.len(),
            });
        }
        // Length checked above, so every field read succeeds.
        let field = |i: usize| be32(blob, i * 4).unwrap_or(0);
        let magic = field(0);
        if magic != FDT_MAGIC {
            return Err(DtError::BadMagic(magic));
        }
        let (version, last_comp_version) = (field(5), field(6));
        if version < MIN_VERSION || last_comp_version > MAX_COMP_VERSION {
            return Err(DtError::UnsupportedVersion {
                version,
                last_comp_version,
            });
        }
        let total_size = field(1) as usize;
        if total_size > blob.len() {
            return Err(DtError::Truncated {
                what: "blob (header totalsize)",
                needed: total_size,
                available: blob.len(),
            });
        }
        let off_dt_struct = field(2) as usize;
        let off_dt_strings = field(3) as usize;
        let size_dt_strings = field(8) as usize;
        // v16 has no size_dt_struct: the block may run up to the end of the blob.
        let size_dt_struct = if version >= 17 {
            field(9) as usize
        } else {
            total_size.saturating_sub(off_dt_struct)
        };
        let hdr = Self {
            total_size,
            off_dt_struct,
            size_dt_struct,
            off_dt_strings,
            size_dt_strings,
            off_mem_rsvmap: field(4) as usize,
            boot_cpuid_phys: field(7),
        };
        hdr.check_block(
            off_dt_struct,
            size_dt_struct,
            "structure block outside totalsize",
        )?;
        hdr.check_block(
            off_dt_strings,
            size_dt_strings,
            "strings block outside totalsize",
        )?;
        if hdr.off_mem_rsvmap < HEADER_SIZE || hdr.off_mem_rsvmap >= total_size {
            return Err(DtError::BadHeader(
                "memory reservation block outside totalsize",
            ));
        }
        if !off_dt_struct.is_multiple_of(4) || !hdr.off_mem_rsvmap.is_multiple_of(8) {
            return Err(DtError::BadHeader(
                "misaligned structure or reservation block",
            ));
        }
        Ok(hdr)
    }

    fn check_block(&self, off: usize, size: usize, what: &'static str) -> Result<(), DtError> {
        match off.checked_add(size) {
            Some(end) if off >= HEADER_SIZE && end <= self.total_size => Ok(()),
            _ => Err(DtError::BadHeader(what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid v17 header: empty rsvmap at 40, struct holding only
    /// FDT_END at 56, empty strings block after it.
    fn minimal() -> [u8; 60] {
        let mut b = [0u8; 60];
        let fields: [u32; 10] = [FDT_MAGIC, 60, 56, 60, 40, 17, 16, 0, 0, 4];
        for (i, f) in fields.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&f.to_be_bytes());
        }
        b[56..60].copy_from_slice(&9u32.to_be_bytes());
        b
    }

    #[test]
    fn total_size_reads_field_one() {
        assert_eq!(total_size(&minimal()[..8]), Some(60));
        assert_eq!(total_size(&minimal()[..7]), None);
        assert_eq!(total_size(&[0u8; 8]), None);
    }

    #[test]
    fn parses_minimal_header() {
        let h = Header::parse(&minimal()).unwrap();
        assert_eq!((h.off_dt_struct, h.size_dt_struct), (56, 4));
        assert_eq!((h.off_dt_strings, h.size_dt_strings), (60, 0));
        assert_eq!(h.off_mem_rsvmap, 40);
    }

    #[test]
    fn rejects_bad_magic() {
        let mut b = minimal();
        b[0] = 0;
        assert_eq!(Header::parse(&b), Err(DtError::BadMagic(0x000d_feed)));
    }

    #[test]
    fn rejects_blob_shorter_than_totalsize() {
        let b = minimal();
        assert!(matches!(
            Header::parse(&b[..50]),
            Err(DtError::Truncated {
                needed: 60,
                available: 50,
                ..
            })
        ));
        assert!(matches!(
            Header::parse(&b[..20]),
            Err(DtError::Truncated { needed: 40, .. })
        ));
    }

    #[test]
    fn rejects_future_layout_and_out_of_range_blocks() {
        let mut b = minimal();
        b[24..28].copy_from_slice(&18u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&b),
            Err(DtError::UnsupportedVersion { .. })
        ));
        let mut b = minimal();
        b[36..40].copy_from_slice(&100u32.to_be_bytes()); // size_dt_struct
        assert_eq!(
            Header::parse(&b),
            Err(DtError::BadHeader("structure block outside totalsize"))
        );
    }
}
