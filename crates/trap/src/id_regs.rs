//! The feature ID registers a guest sees (HCR_EL2.TID3 traps them to EL2).
//!
//! Aerie does not context-switch or virtualise a number of optional
//! features, so it tells the guest they are absent: a guest that believed
//! the hardware's value would touch registers Aerie does not save, or
//! execute instructions that trap or UNDEF because an EL2 enable (CPTR_EL2,
//! HCR_EL2, HCRX_EL2) is left off.
//!
//! Every field cleared below is an *unsigned* 4-bit field whose value 0b0000
//! means "not implemented" (Arm ARM D24.2 / DDI 0601, checked field by
//! field). Signed fields where 0 means "implemented" (FP, AdvSIMD,
//! DoubleLock, TGran4/64, ID_AA64MMFR4.E2H0, ...) are never zeroed. Fields
//! and registers not listed pass through unchanged, which includes the
//! AArch32 view (ID_PFR0_EL1 ... MVFR2_EL1): Aerie runs AArch64 guest
//! kernels and those registers only describe AArch32 EL0.

use crate::sysreg::SysReg;

/// Mask of the 4-bit ID field starting at bit `lsb`.
const fn field(lsb: u32) -> u64 {
    0xF << lsb
}

/// ID_AA64PFR0_EL1 fields hidden from guests.
const PFR0_HIDDEN: u64 = field(8) // EL2: guests run at EL1 only; no nested virtualisation.
    | field(32) // SVE: Z/P/FFR state and ZCR_EL1 are not context-switched.
    | field(36) // SEL2: Secure EL2 is not the guest's business.
    | field(40) // MPAM (major; MPAM_frac in PFR1 cleared too: 0.0 = absent).
    | field(44) // AMU: activity monitors are not virtualised.
    | field(52); // RME: Realm Management Extension.

/// ID_AA64PFR1_EL1 fields hidden from guests.
const PFR1_HIDDEN: u64 = field(8) // MTE: tag state and TFSR/GCR/RGSR not switched.
    | field(16) // MPAM_frac: with PFR0.MPAM=0 this makes MPAM v0.0 = absent.
    | field(24) // SME: ZA/ZT0 state and SMCR_EL1 not switched.
    | field(36) // NMI (FEAT_NMI): ALLINT / superpriority not virtualised.
    | field(40) // MTE_frac: only meaningful when MTE >= 2; 0 with MTE hidden.
    | field(44) // GCS: GCSCR_EL1 / GCSPR_EL1 not switched.
    | field(48) // THE: RCWMASK/RCWSMASK registers not switched.
    | field(52) // MTEX: MTE extensions.
    | field(56) // DF2: needs SCTLR2_EL1, which is hidden (MMFR3.SCTLRX).
    | field(60); // PFAR: PFAR_EL1 not switched.

/// ID_AA64DFR0_EL1 fields hidden from guests: no PMU, no SPE, no trace.
/// DebugVer, BRPs, WRPs, CTX_CMPs and DoubleLock (signed: 0 = present)
/// pass through because self-hosted debug is handed to the guest.
const DFR0_HIDDEN: u64 = field(4) // TraceVer: no system-register trace unit.
    | field(8) // PMUVer: 0 = PMU not implemented (0xF would be IMPDEF PMU).
    | field(16) // PMSS: PMU snapshot, a PMU feature.
    | field(24) // SEBEP: PMU exception-based event profiling.
    | field(32) // PMSVer: no Statistical Profiling Extension.
    | field(40) // TraceFilt: TRFCR_EL1 not switched.
    | field(44) // TraceBuffer: no TRBE.
    | field(48) // MTPMU: 0 = not implemented; consistent with PMUVer=0.
    | field(52) // BRBE: branch record buffer not switched.
    | field(56) // ExtTrcBuff: TRBE external mode.
    | field(60); // HPMN0: a PMU feature.

/// ID_AA64ISAR0_EL1: TME, whose TSTART UNDEFs unless HCR_EL2.TME is set.
const ISAR0_HIDDEN: u64 = field(24);

/// ID_AA64ISAR1_EL1 fields hidden from guests.
const ISAR1_HIDDEN: u64 = field(4) // APA: address auth (QARMA5); keys not switched.
    | field(8) // API: address auth (IMPDEF algorithm).
    | field(24) // GPA: generic auth (QARMA5).
    | field(28) // GPI: generic auth (IMPDEF algorithm).
    | field(60); // LS64: LD64B/ST64B trap unless HCRX_EL2.EnALS/EnASR.

/// ID_AA64ISAR2_EL1 fields hidden from guests.
const ISAR2_HIDDEN: u64 = field(8) // GPA3: generic auth (QARMA3).
    | field(12) // APA3: address auth (QARMA3).
    | field(16) // MOPS: UNDEFINED at EL1 unless HCRX_EL2.MSCEn.
    | field(24) // PAC_frac: a pointer-auth refinement; nothing to refine.
    | field(32); // SYSREG_128: MRRS/MSRR trap unless HCRX_EL2.D128En.

/// ID_AA64MMFR1_EL1: LO (LORegions), whose LOR*_EL1 are not switched.
const MMFR1_HIDDEN: u64 = field(16);

/// The value a guest reads from an ID register, given the hardware's.
///
/// Registers that describe state-carrying extensions Aerie never offers
/// read as all-zero (every field "not implemented"): ID_AA64ZFR0_EL1
/// (SVE), ID_AA64SMFR0_EL1 (SME), ID_AA64PFR2_EL1 (MTE extensions and
/// FPMR), ID_AA64FPFR0_EL1 (FP8, needs FPMR) and ID_AA64MMFR3_EL1 (TCR2,
/// SCTLR2, permission indirection/overlays, D128, ..., all needing HCRX_EL2
/// enables and extra EL1 registers Aerie does not switch).
#[inline]
pub fn sanitize_id_register(reg: SysReg, hw: u64) -> u64 {
    match reg {
        SysReg::ID_AA64PFR0_EL1 => hw & !PFR0_HIDDEN,
        SysReg::ID_AA64PFR1_EL1 => hw & !PFR1_HIDDEN,
        SysReg::ID_AA64DFR0_EL1 => hw & !DFR0_HIDDEN,
        SysReg::ID_AA64ISAR0_EL1 => hw & !ISAR0_HIDDEN,
        SysReg::ID_AA64ISAR1_EL1 => hw & !ISAR1_HIDDEN,
        SysReg::ID_AA64ISAR2_EL1 => hw & !ISAR2_HIDDEN,
        SysReg::ID_AA64MMFR1_EL1 => hw & !MMFR1_HIDDEN,
        SysReg::ID_AA64ZFR0_EL1
        | SysReg::ID_AA64SMFR0_EL1
        | SysReg::ID_AA64PFR2_EL1
        | SysReg::ID_AA64FPFR0_EL1
        | SysReg::ID_AA64MMFR3_EL1 => 0,
        _ => hw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cortex-A72 r0p3 reset values (Cortex-A72 TRM, as QEMU's cortex-a72 has them).
    const A72_PFR0: u64 = 0x0000_0000_0000_2222; // EL0..EL3 AArch64+AArch32
    const A72_DFR0: u64 = 0x0000_0000_1030_5106; // DebugVer 6, PMUv3, 6 BRPs, 4 WRPs
    const A72_ISAR0: u64 = 0x0000_0000_0001_1120; // AES+PMULL, SHA1, SHA2, CRC32
    const A72_MMFR0: u64 = 0x0000_0000_0000_1124;

    #[test]
    fn cortex_a72_keeps_its_features_except_el2_and_pmu() {
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64PFR0_EL1, A72_PFR0),
            0x2022
        );
        assert_eq!(sanitize_id_register(SysReg::ID_AA64PFR1_EL1, 0), 0);
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64DFR0_EL1, A72_DFR0),
            0x1030_5006
        );
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64ISAR0_EL1, A72_ISAR0),
            A72_ISAR0
        );
        assert_eq!(sanitize_id_register(SysReg::ID_AA64ISAR1_EL1, 0), 0);
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64MMFR0_EL1, A72_MMFR0),
            A72_MMFR0
        );
    }

    #[test]
    fn max_like_pfr0() {
        // CSV3 CSV2 RME DIT | AMU MPAM SEL2 SVE | RAS=2 GIC AdvSIMD FP | EL3..EL0
        let hw = 0x1111_1111_2111_1111;
        // RME, AMU, MPAM, SEL2, SVE, EL2 cleared; FP/AdvSIMD (signed) kept.
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64PFR0_EL1, hw),
            0x1101_0000_2111_1011
        );
    }

    #[test]
    fn max_like_pfr1() {
        // PFAR DF2 MTEX THE | GCS MTE_frac=F NMI CSV2_frac=2 |
        // RNDR_trap SME=2 res MPAM_frac | RAS_frac MTE=3 SSBS=2 BT
        let hw = 0x1111_1F12_1201_1321;
        // Kept: CSV2_frac, RNDR_trap, RAS_frac, SSBS, BT.
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64PFR1_EL1, hw),
            0x0000_0002_1000_1021
        );
    }

    #[test]
    fn max_like_dfr0() {
        // HPMN0 ExtTrcBuff BRBE MTPMU | TraceBuffer TraceFilt DoubleLock=0 PMSVer=4 |
        // CTX_CMPs SEBEP WRPs=3 PMSS | BRPs=5 PMUVer=8 TraceVer DebugVer=0xA
        let hw = 0x1111_1104_1131_581A;
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64DFR0_EL1, hw),
            0x0000_0000_1030_500A
        );
        // DoubleLock=0xF ("not implemented") survives too.
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64DFR0_EL1, 0xF << 36),
            0xF << 36
        );
    }

    #[test]
    fn max_like_isar() {
        let all_ones = 0x1111_1111_1111_1111;
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64ISAR0_EL1, all_ones),
            0x1111_1111_1011_1111
        );
        // LS64, GPI, GPA, API, APA cleared.
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64ISAR1_EL1, all_ones),
            0x0111_1111_0011_1001
        );
        // SYSREG_128, PAC_frac, MOPS, APA3, GPA3 cleared; WFxT, RPRES, BC kept.
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64ISAR2_EL1, all_ones),
            0x1111_1110_1010_0011
        );
    }

    #[test]
    fn whole_registers_read_as_zero() {
        for reg in [
            SysReg::ID_AA64ZFR0_EL1,
            SysReg::ID_AA64SMFR0_EL1,
            SysReg::ID_AA64PFR2_EL1,
            SysReg::ID_AA64FPFR0_EL1,
            SysReg::ID_AA64MMFR3_EL1,
        ] {
            assert_eq!(sanitize_id_register(reg, u64::MAX), 0, "{reg}");
        }
    }

    #[test]
    fn mmfr1_hides_loregions_only() {
        let hw = 0x1111_1111_1111_1111;
        assert_eq!(
            sanitize_id_register(SysReg::ID_AA64MMFR1_EL1, hw),
            0x1111_1111_1110_1111
        );
    }

    #[test]
    fn other_registers_pass_through() {
        for reg in [
            SysReg::ID_AA64MMFR0_EL1,
            SysReg::ID_AA64MMFR2_EL1,
            SysReg::ID_AA64MMFR4_EL1,
            SysReg::ID_AA64DFR1_EL1,
            SysReg::ID_PFR0_EL1,
            SysReg::ID_DFR0_EL1,
            SysReg::MVFR0_EL1,
            SysReg::MIDR_EL1,
        ] {
            assert_eq!(
                sanitize_id_register(reg, 0x0123_4567_89AB_CDEF),
                0x0123_4567_89AB_CDEF
            );
        }
    }
}
