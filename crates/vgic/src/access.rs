//! Checks shared by every MMIO register file: legal widths, alignment, and
//! the 32-bit halves of 64-bit registers (the GICv3 spec allows a 64-bit
//! register such as `GICD_IROUTER<n>` or `GICR_TYPER` to be accessed as two
//! 32-bit words).

use crate::VgicError;

/// Rejects widths other than 1/2/4/8, misaligned offsets and accesses that
/// run past `limit` (the frame size).
pub(crate) fn check(offset: u64, size: u8, limit: u64) -> Result<(), VgicError> {
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(VgicError::BadSize { offset, size });
    }
    if !offset.is_multiple_of(u64::from(size)) {
        return Err(VgicError::Misaligned { offset, size });
    }
    // Not `offset + size > limit`: the offset is guest-derived and may be
    // near u64::MAX, where the sum overflows (a panic with overflow checks,
    // and a wrapped sum that passes the check without them).
    match offset.checked_add(u64::from(size)) {
        Some(end) if end <= limit => Ok(()),
        _ => Err(VgicError::OutOfRange { offset }),
    }
}

/// A 32-bit register: only word accesses.
pub(crate) fn word_only(offset: u64, size: u8) -> Result<(), VgicError> {
    if size == 4 {
        Ok(())
    } else {
        Err(VgicError::BadSize { offset, size })
    }
}

/// A byte-accessible 32-bit register (one byte per INTID or SGI): bytes or
/// words.
pub(crate) fn byte_or_word(offset: u64, size: u8) -> Result<(), VgicError> {
    if size == 1 || size == 4 {
        Ok(())
    } else {
        Err(VgicError::BadSize { offset, size })
    }
}

/// A 64-bit register: doubleword, or a word at either half.
pub(crate) fn dword_or_word(offset: u64, size: u8) -> Result<(), VgicError> {
    if size == 4 || size == 8 {
        Ok(())
    } else {
        Err(VgicError::BadSize { offset, size })
    }
}

/// Reads `size` bytes of the 64-bit `reg` at byte `offset` within it.
pub(crate) fn read_part(reg: u64, offset: u64, size: u8) -> u64 {
    let shift = (offset & 7) * 8;
    let v = reg >> shift;
    if size == 8 {
        v
    } else {
        v & ((1u64 << (u64::from(size) * 8)) - 1)
    }
}

/// Merges a `size`-byte write at byte `offset` into the 64-bit `reg`.
pub(crate) fn write_part(reg: u64, offset: u64, size: u8, value: u64) -> u64 {
    if size == 8 {
        return value;
    }
    let shift = (offset & 7) * 8;
    let mask = ((1u64 << (u64::from(size) * 8)) - 1) << shift;
    (reg & !mask) | ((value << shift) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rejects_bad_width_alignment_and_range() {
        assert_eq!(
            check(0, 3, 0x10000),
            Err(VgicError::BadSize { offset: 0, size: 3 })
        );
        assert_eq!(
            check(2, 4, 0x10000),
            Err(VgicError::Misaligned { offset: 2, size: 4 })
        );
        assert_eq!(
            check(0x10000, 4, 0x10000),
            Err(VgicError::OutOfRange { offset: 0x10000 })
        );
        assert_eq!(check(0xFFFC, 4, 0x10000), Ok(()));
    }

    #[test]
    fn halves_of_a_64_bit_register() {
        let r = 0x1122_3344_5566_7788;
        assert_eq!(read_part(r, 0, 4), 0x5566_7788);
        assert_eq!(read_part(r, 4, 4), 0x1122_3344);
        assert_eq!(read_part(r, 0, 8), r);
        assert_eq!(write_part(r, 4, 4, 0xAABB_CCDD), 0xAABB_CCDD_5566_7788);
        assert_eq!(write_part(r, 0, 4, 0xAABB_CCDD), 0x1122_3344_AABB_CCDD);
    }
}
