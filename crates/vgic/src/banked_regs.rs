//! The per-INTID register block shared by the distributor (SPIs) and the
//! redistributor's SGI_base frame (SGIs and PPIs): IGROUPR, I[SC]ENABLER,
//! I[SC]PENDR, I[SC]ACTIVER, IPRIORITYR, ICFGR and IGRPMODR sit at the same
//! offsets in both (GICv3 spec, chapter 12 register maps).

use crate::bank::Bank;
use crate::{access, VgicError, PRIORITY_MASK};

/// One of the per-INTID registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BankedReg {
    IGroupR,
    ISEnableR,
    ICEnableR,
    ISPendR,
    ICPendR,
    ISActiveR,
    ICActiveR,
    IPriorityR,
    ICfgR,
    IGrpModR,
}

/// A decoded access: which register and the first INTID it covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BankedAccess {
    pub reg: BankedReg,
    pub intid: u32,
}

/// Offsets 0x0080..0x0D80 of GICD or of GICR's SGI_base frame.
pub(crate) fn decode(offset: u64) -> Option<BankedAccess> {
    // One bit per INTID: 32 INTIDs per 32-bit word.
    let bitwise = |base: u64| ((offset - base) / 4 * 32) as u32;
    let (reg, intid) = match offset {
        0x0080..=0x00FF => (BankedReg::IGroupR, bitwise(0x0080)),
        0x0100..=0x017F => (BankedReg::ISEnableR, bitwise(0x0100)),
        0x0180..=0x01FF => (BankedReg::ICEnableR, bitwise(0x0180)),
        0x0200..=0x027F => (BankedReg::ISPendR, bitwise(0x0200)),
        0x0280..=0x02FF => (BankedReg::ICPendR, bitwise(0x0280)),
        0x0300..=0x037F => (BankedReg::ISActiveR, bitwise(0x0300)),
        0x0380..=0x03FF => (BankedReg::ICActiveR, bitwise(0x0380)),
        // One byte per INTID.
        0x0400..=0x07FF => (BankedReg::IPriorityR, (offset - 0x0400) as u32),
        // Two bits per INTID: 16 INTIDs per word.
        0x0C00..=0x0CFF => (BankedReg::ICfgR, ((offset - 0x0C00) / 4 * 16) as u32),
        0x0D00..=0x0D7F => (BankedReg::IGrpModR, bitwise(0x0D00)),
        _ => return None,
    };
    Some(BankedAccess { reg, intid })
}

impl BankedAccess {
    /// IPRIORITYR is byte-accessible (spec: "byte-accessible"); every other
    /// per-INTID register takes word accesses only.
    pub fn check_size(self, offset: u64, size: u8) -> Result<(), VgicError> {
        match self.reg {
            BankedReg::IPriorityR if size == 1 => Ok(()),
            _ => access::word_only(offset, size),
        }
    }
}

/// Reads the register; `acc.intid` is taken modulo 32 (position in bank).
pub(crate) fn read(bank: &Bank, acc: BankedAccess, size: u8) -> u64 {
    let lo = acc.intid % 32;
    let word = match acc.reg {
        BankedReg::IGroupR => bank.group1,
        BankedReg::ISEnableR | BankedReg::ICEnableR => bank.enabled,
        BankedReg::ISPendR | BankedReg::ICPendR => bank.visible_pending(),
        BankedReg::ISActiveR | BankedReg::ICActiveR => bank.visible_active(),
        BankedReg::IPriorityR => {
            let mut v = 0u64;
            for i in 0..u32::from(size) {
                v |= u64::from(bank.priority[(lo + i) as usize]) << (8 * i);
            }
            return v;
        }
        BankedReg::ICfgR => {
            // Int_config is bit 1 of each 2-bit field; bit 0 is RES0.
            let half = bank.edge >> lo;
            let mut v = 0u32;
            for i in 0..16 {
                if half & (1 << i) != 0 {
                    v |= 2 << (2 * i);
                }
            }
            v
        }
        // DS = 1: the modifier has no meaning, RAZ/WI.
        BankedReg::IGrpModR => 0,
    };
    u64::from(word)
}

/// Applies a write and returns the bank bits it touched (for kicks).
/// `sgis_fixed` marks bank 0, whose SGI configuration is read-only.
pub(crate) fn write(
    bank: &mut Bank,
    acc: BankedAccess,
    size: u8,
    value: u64,
    sgis_fixed: bool,
) -> u32 {
    let lo = acc.intid % 32;
    let bits = value as u32;
    match acc.reg {
        BankedReg::IGroupR => {
            let changed = bank.group1 ^ bits;
            bank.group1 = bits;
            changed
        }
        BankedReg::ISEnableR => {
            bank.enabled |= bits;
            bits
        }
        BankedReg::ICEnableR => {
            bank.enabled &= !bits;
            bits
        }
        BankedReg::ISPendR => {
            bank.latch |= bits;
            bits
        }
        BankedReg::ICPendR => {
            // A level line still high keeps the interrupt pending (spec:
            // clearing pending only clears the latched state).
            bank.latch &= !bits;
            bank.lr_clear_pending |= bits & bank.owned;
            bank.lr_pending &= !bits;
            bits
        }
        BankedReg::ISActiveR => {
            bank.active |= bits;
            bits
        }
        BankedReg::ICActiveR => {
            bank.active &= !bits;
            bank.lr_clear_active |= bits & bank.owned;
            bank.lr_active &= !bits;
            bits
        }
        BankedReg::IPriorityR => {
            let mut touched = 0;
            for i in 0..u32::from(size) {
                let p = (value >> (8 * i)) as u8 & PRIORITY_MASK;
                bank.priority[(lo + i) as usize] = p;
                touched |= 1 << (lo + i);
            }
            touched
        }
        BankedReg::ICfgR => {
            if sgis_fixed && lo == 0 {
                return 0;
            }
            let mut half = 0u32;
            for i in 0..16 {
                if bits & (2 << (2 * i)) != 0 {
                    half |= 1 << i;
                }
            }
            let field = 0xFFFFu32 << lo;
            bank.edge = (bank.edge & !field) | (half << lo);
            field
        }
        BankedReg::IGrpModR => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(offset: u64) -> BankedAccess {
        decode(offset).unwrap()
    }

    #[test]
    fn decode_maps_offsets_to_first_intid() {
        assert_eq!(
            acc(0x0084),
            BankedAccess {
                reg: BankedReg::IGroupR,
                intid: 32
            }
        );
        assert_eq!(
            acc(0x0108),
            BankedAccess {
                reg: BankedReg::ISEnableR,
                intid: 64
            }
        );
        assert_eq!(
            acc(0x0421),
            BankedAccess {
                reg: BankedReg::IPriorityR,
                intid: 33
            }
        );
        assert_eq!(
            acc(0x0C04),
            BankedAccess {
                reg: BankedReg::ICfgR,
                intid: 16
            }
        );
        assert_eq!(
            acc(0x0C08),
            BankedAccess {
                reg: BankedReg::ICfgR,
                intid: 32
            }
        );
        assert_eq!(
            acc(0x0D00),
            BankedAccess {
                reg: BankedReg::IGrpModR,
                intid: 0
            }
        );
        assert_eq!(decode(0x0800), None); // ITARGETSR: not ours under ARE
        assert_eq!(decode(0x0E00), None); // NSACR
    }

    #[test]
    fn only_ipriorityr_takes_bytes() {
        assert!(acc(0x0400).check_size(0x400, 1).is_ok());
        assert!(acc(0x0400).check_size(0x400, 4).is_ok());
        assert!(acc(0x0400).check_size(0x400, 2).is_err());
        assert!(acc(0x0100).check_size(0x100, 1).is_err());
    }

    #[test]
    fn set_and_clear_pairs() {
        let mut b = Bank::new_shared();
        write(&mut b, acc(0x0100), 4, 0b1010, false);
        write(&mut b, acc(0x0100), 4, 0b0001, false);
        assert_eq!(read(&b, acc(0x0180), 4), 0b1011);
        write(&mut b, acc(0x0180), 4, 0b0010, false);
        assert_eq!(read(&b, acc(0x0100), 4), 0b1001);
        write(&mut b, acc(0x0200), 4, 0b110, false);
        write(&mut b, acc(0x0280), 4, 0b010, false);
        assert_eq!(read(&b, acc(0x0200), 4), 0b100);
        write(&mut b, acc(0x0300), 4, 0xF0, false);
        write(&mut b, acc(0x0380), 4, 0x30, false);
        assert_eq!(read(&b, acc(0x0380), 4), 0xC0);
    }

    #[test]
    fn icpendr_does_not_clear_a_high_level_line() {
        let mut b = Bank::new_shared();
        b.line = 1;
        write(&mut b, acc(0x0280), 4, 1, false);
        assert_eq!(read(&b, acc(0x0200), 4), 1);
    }

    #[test]
    fn priority_bytes_keep_five_bits() {
        let mut b = Bank::new_shared();
        write(&mut b, acc(0x0401), 1, 0xFF, false);
        assert_eq!(read(&b, acc(0x0400), 4), 0x0000_F800);
        write(&mut b, acc(0x0404), 4, 0x1122_3344, false);
        assert_eq!(read(&b, acc(0x0407), 1), 0x10);
        assert_eq!(read(&b, acc(0x0404), 4), 0x1020_3040);
    }

    #[test]
    fn icfgr_sgis_read_only_ppis_and_spis_programmable() {
        let mut b = Bank::new_private();
        assert_eq!(read(&b, acc(0x0C00), 4), 0xAAAA_AAAA);
        write(&mut b, acc(0x0C00), 4, 0, true);
        assert_eq!(read(&b, acc(0x0C00), 4), 0xAAAA_AAAA);
        assert_eq!(read(&b, acc(0x0C04), 4), 0);
        // Bit 0 of each field is RES0.
        write(&mut b, acc(0x0C04), 4, 0xFFFF_FFFF, true);
        assert_eq!(read(&b, acc(0x0C04), 4), 0xAAAA_AAAA);
        assert_eq!(b.edge, u32::MAX);

        let mut s = Bank::new_shared();
        write(&mut s, acc(0x0C0C), 4, 0x8, false); // INTID 49 edge
        assert_eq!(s.edge, 1 << 17);
    }

    #[test]
    fn igrpmodr_is_raz_wi() {
        let mut b = Bank::new_shared();
        assert_eq!(write(&mut b, acc(0x0D04), 4, u64::MAX, false), 0);
        assert_eq!(read(&b, acc(0x0D04), 4), 0);
    }
}
