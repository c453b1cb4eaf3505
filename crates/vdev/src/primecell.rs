//! What Arm's PrimeCell peripherals (the PL011, PL031 and PL061 here)
//! share: a 4 KiB window of registers at word offsets, and at its top the
//! eight identification registers (PeriphID0..3, PCellID0..3) by which
//! Linux's AMBA bus matches a driver to the part.

use crate::mmio::MmioError;

/// The register window.
pub const WINDOW: u64 = 0x1000;
/// PeriphID0; the ID registers run to PCellID3 at 0xFFC.
pub const PERIPH_ID0: u64 = 0xFE0;

/// The access widths a part's bus takes: a bit per byte count.
#[derive(Clone, Copy, Debug)]
pub struct Widths(u8);

impl Widths {
    /// Whole registers only (the PL031).
    pub const WORD: Widths = Widths(1 << 4);
    /// A byte or a word (the PL061, which Linux's driver reads a byte at a
    /// time).
    pub const BYTE_OR_WORD: Widths = Widths(1 << 1 | 1 << 4);
    /// A byte, a halfword or a word (the PL011).
    pub const UP_TO_WORD: Widths = Widths(1 << 1 | 1 << 2 | 1 << 4);

    fn allow(self, size: u8) -> bool {
        size < 8 && self.0 >> size & 1 != 0
    }
}

/// Whether a `size`-byte access at `offset` reaches one register: inside
/// the window, a width the bus takes, at a word offset.
#[inline]
pub fn check(offset: u64, size: u8, widths: Widths) -> Result<(), MmioError> {
    if !widths.allow(size) {
        return Err(MmioError::UnsupportedSize { offset, size });
    }
    if offset >= WINDOW {
        return Err(MmioError::OutOfRange { offset });
    }
    if offset & 3 != 0 {
        return Err(MmioError::Misaligned { offset, size });
    }
    Ok(())
}

/// The ID register at `offset` (a checked access at [`PERIPH_ID0`] or
/// above) of a part whose eight ID bytes are `id`.
pub fn id_register(id: &[u8; 8], offset: u64) -> u32 {
    u32::from(id[((offset - PERIPH_ID0) >> 2) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_offsets() {
        for (size, word, byte_or_word, up_to_word) in [
            (1, false, true, true),
            (2, false, false, true),
            (4, true, true, true),
            (3, false, false, false),
            (8, false, false, false),
            (0, false, false, false),
            (255, false, false, false),
        ] {
            for (widths, want) in [
                (Widths::WORD, word),
                (Widths::BYTE_OR_WORD, byte_or_word),
                (Widths::UP_TO_WORD, up_to_word),
            ] {
                assert_eq!(check(0x10, size, widths).is_ok(), want, "{size} {widths:?}");
            }
        }
        assert_eq!(
            check(WINDOW, 4, Widths::WORD),
            Err(MmioError::OutOfRange { offset: WINDOW })
        );
        assert_eq!(
            check(0x11, 1, Widths::BYTE_OR_WORD),
            Err(MmioError::Misaligned {
                offset: 0x11,
                size: 1
            })
        );
        assert_eq!(check(0xFFC, 4, Widths::WORD), Ok(()));
    }

    #[test]
    fn id_registers_read_the_parts_bytes_in_order() {
        let id = [1, 2, 3, 4, 5, 6, 7, 8];
        let read: Vec<u32> = (0..8)
            .map(|i| id_register(&id, PERIPH_ID0 + 4 * i))
            .collect();
        assert_eq!(read, [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
