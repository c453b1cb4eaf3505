//! Data and instruction abort syndromes (Arm ARM D24.2 "ISS encoding for an
//! exception from a Data Abort" / "... from an Instruction Abort").

/// Fault status codes (DFSC/IFSC, ISS\[5:0\]) this hypervisor cares about.
pub mod fsc {
    /// Address size fault, level 0 (levels 0..3 are 0x00..0x03).
    pub const ADDR_SIZE_L0: u8 = 0x00;
    /// Address size fault, level -1 (FEAT_LPA2).
    pub const ADDR_SIZE_LM1: u8 = 0x29;
    /// Translation fault, level 0 (levels 0..3 are 0x04..0x07).
    pub const TRANSLATION_L0: u8 = 0x04;
    /// Translation fault, level -1 (FEAT_LPA2).
    pub const TRANSLATION_LM1: u8 = 0x2B;
    /// Access flag fault, level 0 (levels 0..3 are 0x08..0x0B).
    pub const ACCESS_FLAG_L0: u8 = 0x08;
    /// Permission fault, level 0 (levels 0..3 are 0x0C..0x0F).
    pub const PERMISSION_L0: u8 = 0x0C;
    /// Synchronous External abort, not on a translation table walk.
    pub const SYNC_EXTERNAL: u8 = 0x10;
    /// Synchronous Tag Check Fault (MTE).
    pub const TAG_CHECK: u8 = 0x11;
    /// Synchronous parity or ECC error, not on a translation table walk.
    pub const SYNC_PARITY: u8 = 0x18;
    /// Alignment fault.
    pub const ALIGNMENT: u8 = 0x21;
    /// TLB conflict abort.
    pub const TLB_CONFLICT: u8 = 0x30;

    /// Translation table level of a level-encoded fault (address size,
    /// translation, access flag, permission), `None` for other codes.
    #[inline]
    pub const fn level(fsc: u8) -> Option<i8> {
        match fsc {
            0x00..=0x0F => Some((fsc & 3) as i8),
            ADDR_SIZE_LM1 | TRANSLATION_LM1 => Some(-1),
            _ => None,
        }
    }

    /// Translation fault at any level (0b0001LL, or level -1).
    #[inline]
    pub const fn is_translation(fsc: u8) -> bool {
        fsc & 0x3C == TRANSLATION_L0 || fsc == TRANSLATION_LM1
    }

    /// Access flag fault at any level (0b0010LL).
    #[inline]
    pub const fn is_access_flag(fsc: u8) -> bool {
        fsc & 0x3C == ACCESS_FLAG_L0
    }

    /// Permission fault at any level (0b0011LL).
    #[inline]
    pub const fn is_permission(fsc: u8) -> bool {
        fsc & 0x3C == PERMISSION_L0
    }

    /// Address size fault at any level (0b0000LL, or level -1).
    #[inline]
    pub const fn is_address_size(fsc: u8) -> bool {
        fsc & 0x3C == ADDR_SIZE_L0 || fsc == ADDR_SIZE_LM1
    }
}

/// The ISS of a data abort (EC 0x24/0x25), decoded lazily by accessors.
///
/// Only [`DataAbort::isv`] says whether the instruction-syndrome fields
/// (`access_size`, `sse`, `srt`, `sf`, `ar`) hold anything: with ISV=0 they
/// are RES0 and the faulting instruction must be decoded from memory (or
/// the access refused). [`DataAbort::access`] hands them out only when valid.
/// ISV is 0 for, among others, load/store pair, writeback addressing,
/// SIMD/FP registers, and stage-2 faults on a stage-1 walk (S1PTW=1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DataAbort(pub u32);

/// The part of a data-abort syndrome an MMIO emulator needs, present only
/// when ISV=1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MmioAccess {
    /// Access size in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// A load must sign-extend the value to the register width.
    pub sign_extend: bool,
    /// Transfer register 0..=31; 31 means XZR (loads discard, stores write 0).
    pub srt: u8,
    /// The transfer register is 64 bits wide (Xn) rather than 32 (Wn).
    pub sf: bool,
    /// Acquire/release semantics (LDAR/STLR and friends).
    pub acquire_release: bool,
    /// A store (true) or a load (false).
    pub write: bool,
}

impl DataAbort {
    /// ISS\[24\]: the instruction syndrome ISS\[23:14\] is valid.
    #[inline]
    pub const fn isv(self) -> bool {
        self.0 & (1 << 24) != 0
    }
    /// ISS\[23:22\] SAS as a byte count (1 << SAS). Valid only when `isv()`.
    #[inline]
    pub const fn access_size(self) -> u8 {
        1 << ((self.0 >> 22) & 3)
    }
    /// ISS\[21\] SSE: sign-extend the loaded value. Valid only when `isv()`.
    #[inline]
    pub const fn sse(self) -> bool {
        self.0 & (1 << 21) != 0
    }
    /// ISS\[20:16\] SRT: transfer register, 31 = XZR. Valid only when `isv()`.
    #[inline]
    pub const fn srt(self) -> u8 {
        ((self.0 >> 16) & 0x1F) as u8
    }
    /// ISS\[15\] SF: 64-bit transfer register. Valid only when `isv()`.
    #[inline]
    pub const fn sf(self) -> bool {
        self.0 & (1 << 15) != 0
    }
    /// ISS\[14\] AR: acquire/release. Valid only when `isv()`.
    #[inline]
    pub const fn ar(self) -> bool {
        self.0 & (1 << 14) != 0
    }
    /// ISS\[13\] VNCR: the fault came from a VNCR_EL2-relative access (NV2).
    #[inline]
    pub const fn vncr(self) -> bool {
        self.0 & (1 << 13) != 0
    }
    /// ISS\[12:11\] SET: synchronous error type (meaningful for DFSC 0x10
    /// with FEAT_RAS: 0b00 recoverable, 0b10 uncontainable, 0b11 restartable).
    #[inline]
    pub const fn set(self) -> u8 {
        ((self.0 >> 11) & 3) as u8
    }
    /// ISS\[10\] FnV: FAR is not valid (only set for external aborts).
    #[inline]
    pub const fn fnv(self) -> bool {
        self.0 & (1 << 10) != 0
    }
    /// ISS\[9\] EA: external abort type (IMPLEMENTATION DEFINED classification).
    #[inline]
    pub const fn ea(self) -> bool {
        self.0 & (1 << 9) != 0
    }
    /// ISS\[8\] CM: the fault came from a cache maintenance or address
    /// translation instruction (WnR then reads as 1 and is not a real store).
    #[inline]
    pub const fn cm(self) -> bool {
        self.0 & (1 << 8) != 0
    }
    /// ISS\[7\] S1PTW: a stage-2 fault taken on the guest's stage-1 walk.
    #[inline]
    pub const fn s1ptw(self) -> bool {
        self.0 & (1 << 7) != 0
    }
    /// ISS\[6\] WnR: the access was a write.
    #[inline]
    pub const fn write(self) -> bool {
        self.0 & (1 << 6) != 0
    }
    /// ISS\[5:0\] DFSC, see [`fsc`].
    #[inline]
    pub const fn dfsc(self) -> u8 {
        (self.0 & 0x3F) as u8
    }

    /// Translation fault at any level: for a stage-2 abort this is the
    /// "unmapped IPA" case that MMIO emulation handles.
    #[inline]
    pub const fn is_translation_fault(self) -> bool {
        fsc::is_translation(self.dfsc())
    }
    /// Permission fault at any level.
    #[inline]
    pub const fn is_permission_fault(self) -> bool {
        fsc::is_permission(self.dfsc())
    }
    /// Access flag fault at any level.
    #[inline]
    pub const fn is_access_flag_fault(self) -> bool {
        fsc::is_access_flag(self.dfsc())
    }
    /// Synchronous external abort, not on a walk.
    #[inline]
    pub const fn is_external_abort(self) -> bool {
        self.dfsc() == fsc::SYNC_EXTERNAL
    }
    /// Translation level of the fault, where the DFSC encodes one.
    #[inline]
    pub const fn fault_level(self) -> Option<i8> {
        fsc::level(self.dfsc())
    }

    /// The instruction syndrome, or `None` when ISV=0 (then the emulator
    /// cannot tell size or register from the syndrome alone).
    #[inline]
    pub const fn access(self) -> Option<MmioAccess> {
        if !self.isv() {
            return None;
        }
        Some(MmioAccess {
            size: self.access_size(),
            sign_extend: self.sse(),
            srt: self.srt(),
            sf: self.sf(),
            acquire_release: self.ar(),
            write: self.write(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_w5_word_with_isv() {
        // STR w5, [x1] to an unmapped (stage-2 level-3 translation fault) page:
        // ISV=1, SAS=0b10, SRT=5, SF=0, WnR=1, DFSC=0x07.
        let d = DataAbort(0x0185_0047);
        assert!(d.isv());
        assert_eq!(d.access_size(), 4);
        assert_eq!(d.srt(), 5);
        assert!(!d.sf() && !d.sse() && !d.ar());
        assert!(d.write());
        assert_eq!(d.dfsc(), 0x07);
        assert!(d.is_translation_fault());
        assert_eq!(d.fault_level(), Some(3));
        assert_eq!(
            d.access(),
            Some(MmioAccess {
                size: 4,
                sign_extend: false,
                srt: 5,
                sf: false,
                acquire_release: false,
                write: true
            })
        );
    }

    #[test]
    fn ldrsh_x2_sign_extends_into_64_bit_register() {
        // LDRSH x2: SAS=0b01, SSE=1, SRT=2, SF=1, read.
        let iss = (1 << 24) | (1 << 22) | (1 << 21) | (2 << 16) | (1 << 15) | 0x06;
        let a = DataAbort(iss).access().unwrap();
        assert_eq!(
            (a.size, a.sign_extend, a.srt, a.sf, a.write),
            (2, true, 2, true, false)
        );
        assert_eq!(DataAbort(iss).fault_level(), Some(2));
    }

    #[test]
    fn isv_clear_gives_no_access() {
        // LDP from MMIO: ISV=0, DFSC=0x07; the syndrome bits are RES0.
        let d = DataAbort(0x07);
        assert!(!d.isv());
        assert_eq!(d.access(), None);
        assert!(d.is_translation_fault());
    }

    #[test]
    fn walk_and_cache_maintenance_flags() {
        let d = DataAbort((1 << 8) | (1 << 7) | (1 << 6) | 0x0D);
        assert!(d.cm() && d.s1ptw() && d.write());
        assert!(d.is_permission_fault());
        assert!(!d.is_translation_fault());
        assert_eq!(d.fault_level(), Some(1));
    }

    #[test]
    fn external_abort_fields() {
        let d = DataAbort((0b11 << 11) | (1 << 10) | (1 << 9) | 0x10);
        assert!(d.is_external_abort());
        assert_eq!(d.set(), 0b11);
        assert!(d.fnv() && d.ea());
        assert_eq!(d.fault_level(), None);
    }

    #[test]
    fn fault_classes_cover_all_levels() {
        for l in 0..4u8 {
            assert!(fsc::is_translation(0x04 + l));
            assert!(fsc::is_access_flag(0x08 + l));
            assert!(fsc::is_permission(0x0C + l));
            assert!(fsc::is_address_size(l));
            assert_eq!(fsc::level(0x0C + l), Some(l as i8));
        }
        assert!(fsc::is_translation(fsc::TRANSLATION_LM1));
        assert_eq!(fsc::level(fsc::TRANSLATION_LM1), Some(-1));
        assert!(!fsc::is_translation(fsc::ALIGNMENT));
        assert!(!fsc::is_translation(fsc::SYNC_EXTERNAL));
    }
}
