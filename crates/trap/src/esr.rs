//! `ESR_EL2`, the syndrome register that says why the guest trapped
//! (Arm ARM D24.2 "ESR_EL2": EC\[31:26\], IL\[25\], ISS\[24:0\], ISS2\[55:32\]).

/// A raw `ESR_ELx` value with field accessors.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Esr(pub u64);

impl Esr {
    /// Bit position of the Exception Class field.
    pub const EC_SHIFT: u32 = 26;
    /// The Instruction Length bit: 1 = 32-bit instruction (always the case
    /// for A64), 0 = 16-bit T32 instruction.
    pub const IL: u64 = 1 << 25;
    /// Mask of the 25-bit Instruction Specific Syndrome.
    pub const ISS_MASK: u64 = 0x1FF_FFFF;

    /// Builds a syndrome from its fields (used when injecting exceptions).
    #[inline]
    pub const fn new(ec: u8, il: bool, iss: u32) -> Esr {
        let il_bit = if il { Self::IL } else { 0 };
        Esr(((ec as u64 & 0x3F) << Self::EC_SHIFT) | il_bit | (iss as u64 & Self::ISS_MASK))
    }

    /// Exception Class, bits \[31:26\]; see [`ec`].
    #[inline]
    pub const fn ec(self) -> u8 {
        ((self.0 >> Self::EC_SHIFT) & 0x3F) as u8
    }

    /// Instruction Length, bit \[25\].
    #[inline]
    pub const fn il(self) -> bool {
        self.0 & Self::IL != 0
    }

    /// Instruction Specific Syndrome, bits \[24:0\].
    #[inline]
    pub const fn iss(self) -> u32 {
        (self.0 & Self::ISS_MASK) as u32
    }

    /// ISS2, bits \[55:32\] (FEAT_LS64 and later extensions; 0 elsewhere).
    #[inline]
    pub const fn iss2(self) -> u32 {
        ((self.0 >> 32) & 0xFF_FFFF) as u32
    }

    /// Length in bytes of the trapped instruction: what to add to `ELR_EL2`
    /// to skip an instruction whose preferred return address is the
    /// instruction itself (WFx, MSR/MRS, data aborts, a trapped SMC).
    #[inline]
    pub const fn instr_len(self) -> u64 {
        if self.il() {
            4
        } else {
            2
        }
    }
}

/// Exception Class values (Arm ARM D24.2 ESR_ELx.EC). "LOW" means taken
/// from a lower Exception level, "CUR" from the same one.
pub mod ec {
    /// Unknown reason; also the class used for UNDEFINED instructions.
    pub const UNKNOWN: u8 = 0x00;
    /// Trapped WFI/WFE/WFIT/WFET.
    pub const WFX: u8 = 0x01;
    /// Trapped AArch32 MCR/MRC to CP15.
    pub const CP15_32: u8 = 0x03;
    /// Trapped AArch32 MCRR/MRRC to CP15.
    pub const CP15_64: u8 = 0x04;
    /// Trapped AArch32 MCR/MRC to CP14.
    pub const CP14_MR: u8 = 0x05;
    /// Trapped AArch32 LDC/STC to CP14.
    pub const CP14_LS: u8 = 0x06;
    /// Access to SVE, Advanced SIMD or FP trapped by CPACR/CPTR (lazy FP).
    pub const FP: u8 = 0x07;
    /// Trapped AArch32 VMRS (ID group).
    pub const CP10_ID: u8 = 0x08;
    /// Pointer authentication instruction trapped by HCR_EL2.API.
    pub const PAC: u8 = 0x09;
    /// Trapped AArch32 MRRC to CP14.
    pub const CP14_64: u8 = 0x0C;
    /// Branch Target Exception.
    pub const BTI: u8 = 0x0D;
    /// Illegal Execution state.
    pub const ILLEGAL: u8 = 0x0E;
    /// SVC from AArch32.
    pub const SVC32: u8 = 0x11;
    /// HVC from AArch32.
    pub const HVC32: u8 = 0x12;
    /// SMC from AArch32.
    pub const SMC32: u8 = 0x13;
    /// SVC from AArch64.
    pub const SVC64: u8 = 0x15;
    /// HVC from AArch64.
    pub const HVC64: u8 = 0x16;
    /// SMC from AArch64 trapped by HCR_EL2.TSC.
    pub const SMC64: u8 = 0x17;
    /// Trapped MSR, MRS or System instruction (AArch64).
    pub const SYSREG: u8 = 0x18;
    /// Access to SVE trapped by CPACR/CPTR ZEN.
    pub const SVE: u8 = 0x19;
    /// Trapped ERET/ERETAA/ERETAB (nested virtualisation).
    pub const ERET: u8 = 0x1A;
    /// Pointer authentication failure (FEAT_FPAC).
    pub const FPAC: u8 = 0x1C;
    /// Access to SME trapped.
    pub const SME: u8 = 0x1D;
    /// Instruction abort from a lower Exception level.
    pub const IABT_LOW: u8 = 0x20;
    /// Instruction abort from the same Exception level.
    pub const IABT_CUR: u8 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGN: u8 = 0x22;
    /// Data abort from a lower Exception level.
    pub const DABT_LOW: u8 = 0x24;
    /// Data abort from the same Exception level.
    pub const DABT_CUR: u8 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGN: u8 = 0x26;
    /// Memory copy/set (FEAT_MOPS) exception.
    pub const MOPS: u8 = 0x27;
    /// Trapped floating-point exception from AArch32.
    pub const FP32: u8 = 0x28;
    /// Trapped floating-point exception from AArch64.
    pub const FP64: u8 = 0x2C;
    /// SError interrupt.
    pub const SERROR: u8 = 0x2F;
    /// Breakpoint from a lower Exception level.
    pub const BREAKPT_LOW: u8 = 0x30;
    /// Breakpoint from the same Exception level.
    pub const BREAKPT_CUR: u8 = 0x31;
    /// Software step from a lower Exception level.
    pub const SOFTSTP_LOW: u8 = 0x32;
    /// Software step from the same Exception level.
    pub const SOFTSTP_CUR: u8 = 0x33;
    /// Watchpoint from a lower Exception level.
    pub const WATCHPT_LOW: u8 = 0x34;
    /// Watchpoint from the same Exception level.
    pub const WATCHPT_CUR: u8 = 0x35;
    /// AArch32 BKPT instruction.
    pub const BKPT32: u8 = 0x38;
    /// AArch32 vector catch.
    pub const VECTOR32: u8 = 0x3A;
    /// AArch64 BRK instruction (same class from any Exception level).
    pub const BRK64: u8 = 0x3C;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_an_hvc_syndrome() {
        // HVC #0x1234 from AArch64: EC=0x16, IL=1, ISS=imm16.
        let esr = Esr(0x5A00_1234);
        assert_eq!(esr.ec(), ec::HVC64);
        assert!(esr.il());
        assert_eq!(esr.iss(), 0x1234);
        assert_eq!(esr.iss2(), 0);
        assert_eq!(esr.instr_len(), 4);
    }

    #[test]
    fn new_round_trips_and_masks() {
        let esr = Esr::new(ec::DABT_CUR, true, 0x10);
        assert_eq!(esr.0, 0x9600_0010);
        // ISS wider than 25 bits must not leak into IL/EC.
        assert_eq!(Esr::new(0, false, u32::MAX).0, 0x1FF_FFFF);
        assert_eq!(Esr::new(0, false, 0).instr_len(), 2);
    }

    #[test]
    fn iss2_is_bits_55_to_32() {
        let esr = Esr(0xFFAB_CDEF_0000_0000);
        assert_eq!(esr.iss2(), 0xAB_CDEF);
        assert_eq!(esr.ec(), 0);
    }
}
