//! PAR_EL1 decoding: the result of an `AT` address-translation instruction
//! (Arm ARM D19 "PAR_EL1, Physical Address Register", 64-bit format).
//!
//! F = 0 (success): PA\[51:12\] hold the output address of the page holding
//! the input address (bits \[51:48\] are RES0 without FEAT_LPA/LPA2, so taking
//! them is harmless), to 4 KiB granularity whatever the granule; the page
//! offset comes from the input address. ATTR, SH, NS and the IMPDEF bit are
//! ignored.
//!
//! F = 1 (fault): FST\[6:1\] is the fault status code (same encoding as a
//! DFSC, see [`crate::fsc`]), PTW\[8\] says a stage-2 fault happened on a
//! stage-1 table walk, S\[9\] says the fault was at stage 2.

/// PAR_EL1.F: the translation failed.
pub const F: u64 = 1 << 0;
/// PAR_EL1.FST (F = 1).
pub const FST_SHIFT: u32 = 1;
pub const FST_MASK: u64 = 0x3F;
/// PAR_EL1.PTW (F = 1): stage-2 fault during a stage-1 table walk.
pub const PTW: u64 = 1 << 8;
/// PAR_EL1.S (F = 1): the fault was at stage 2.
pub const S: u64 = 1 << 9;
/// PAR_EL1.PA (F = 0): output address bits \[51:12\].
pub const PA_MASK: u64 = 0x000F_FFFF_FFFF_F000;
/// The part of the input address PAR_EL1 does not give back.
pub const PAGE_OFFSET_MASK: u64 = 0xFFF;

/// A failed translation as PAR_EL1 reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParFault {
    /// Fault status code (FST), a DFSC-style value: see [`crate::fsc`].
    pub fst: u8,
    /// Stage-2 fault on a stage-1 translation table walk (PTW).
    pub ptw: bool,
    /// The fault was at stage 2 (S).
    pub stage2: bool,
}

/// Decode PAR_EL1 after an `AT` on `va`: the output address of `va`
/// (PA\[51:12\] plus `va`'s low 12 bits), or the fault.
#[inline]
pub const fn decode(par: u64, va: u64) -> Result<u64, ParFault> {
    if par & F != 0 {
        Err(ParFault {
            fst: ((par >> FST_SHIFT) & FST_MASK) as u8,
            ptw: par & PTW != 0,
            stage2: par & S != 0,
        })
    } else {
        Ok((par & PA_MASK) | (va & PAGE_OFFSET_MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsc;

    #[test]
    fn success_4k_page_keeps_offset() {
        // PA 0x4123_4000, inner-shareable (SH = 0b11), NS set, RES1 bit 11.
        let par = 0x0000_0000_4123_4000 | (0b11 << 7) | (1 << 9) | (1 << 11);
        assert_eq!(decode(par, 0xffff_0000_0000_0abc), Ok(0x4123_4abc));
        assert_eq!(decode(par, 0x1000), Ok(0x4123_4000));
    }

    #[test]
    fn success_ignores_attributes() {
        // ATTR = 0xFF (normal WB) in [63:56], IMPDEF bit 10, SH = 0b10.
        let base = 0x0000_0000_8000_0000u64;
        let par = base | (0xFF << 56) | (1 << 10) | (0b10 << 7);
        assert_eq!(decode(par, 0xfff), Ok(0x8000_0fff));
        // Device memory attributes: still only the address.
        let par = base | (0x04 << 56);
        assert_eq!(decode(par, 0x10), Ok(0x8000_0010));
    }

    #[test]
    fn success_large_pa() {
        // FEAT_LPA: PA[51:48] are part of the address.
        let par = 0x000F_0000_0000_1000;
        assert_eq!(decode(par, 0x8), Ok(0x000F_0000_0000_1008));
    }

    #[test]
    fn fault_translation_level3() {
        let par = F | ((fsc::TRANSLATION_L0 as u64 + 3) << 1);
        let f = decode(par, 0x1234).unwrap_err();
        assert_eq!(f.fst, 0x07);
        assert!(fsc::is_translation(f.fst));
        assert_eq!(fsc::level(f.fst), Some(3));
        assert!(!f.ptw && !f.stage2);
    }

    #[test]
    fn fault_permission_and_stage2_walk() {
        let par = F | ((fsc::PERMISSION_L0 as u64 + 2) << 1);
        let f = decode(par, 0).unwrap_err();
        assert!(fsc::is_permission(f.fst));
        assert!(!f.stage2);

        // A stage-2 translation fault on a stage-1 table walk, level 1.
        let par = F | S | PTW | ((fsc::TRANSLATION_L0 as u64 + 1) << 1);
        let f = decode(par, 0).unwrap_err();
        assert_eq!(
            f,
            ParFault {
                fst: 0x05,
                ptw: true,
                stage2: true
            }
        );
    }

    #[test]
    fn fault_ignores_other_bits() {
        // IMPDEF bits [63:48] and [15:12] may be anything on a fault.
        let par = F | (0xABCD << 48) | (0xF << 12) | ((fsc::ACCESS_FLAG_L0 as u64) << 1);
        let f = decode(par, 0).unwrap_err();
        assert_eq!(f.fst, fsc::ACCESS_FLAG_L0);
        assert!(!f.ptw && !f.stage2);
    }
}
