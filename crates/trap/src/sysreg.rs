//! System-register encodings and the syndrome of a trapped MSR/MRS
//! (Arm ARM D24.2 "ISS encoding for an exception from MSR, MRS, or System
//! instruction execution in AArch64 state", EC 0x18).

use core::fmt;

/// A system register named by its encoding `S<op0>_<op1>_C<crn>_C<crm>_<op2>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct SysReg {
    /// op0, 2 bits (2 = debug, 3 = everything else that traps here).
    pub op0: u8,
    /// op1, 3 bits.
    pub op1: u8,
    /// CRn, 4 bits.
    pub crn: u8,
    /// CRm, 4 bits.
    pub crm: u8,
    /// op2, 3 bits.
    pub op2: u8,
}

/// One trapped MSR/MRS: which register, which general-purpose register,
/// which direction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SysRegAccess {
    /// The register accessed.
    pub reg: SysReg,
    /// Rt: the general-purpose register transferred; 31 means XZR (an MSR
    /// writes zero, an MRS result is discarded), never SP.
    pub rt: u8,
    /// true for MRS (register read into Rt), false for MSR.
    pub is_read: bool,
}

impl SysRegAccess {
    /// Decodes the ISS of EC 0x18: Op0\[21:20\], Op2\[19:17\], Op1\[16:14\],
    /// CRn\[13:10\], Rt\[9:5\], CRm\[4:1\], Direction\[0\] (1 = read).
    #[inline]
    pub const fn from_iss(iss: u32) -> SysRegAccess {
        SysRegAccess {
            reg: SysReg::from_iss(iss),
            rt: ((iss >> 5) & 0x1F) as u8,
            is_read: iss & 1 == 1,
        }
    }

    /// The architectural name for this direction. Only differs from the
    /// register's name for encodings shared by a read and a write register
    /// (DBGDTRRX_EL0 / DBGDTRTX_EL0, OSDTRRX/OSDTRTX are distinct encodings).
    pub fn name(&self) -> Option<&'static str> {
        if self.reg == SysReg::DBGDTRRX_EL0 {
            return Some(if self.is_read {
                "DBGDTRRX_EL0"
            } else {
                "DBGDTRTX_EL0"
            });
        }
        self.reg.name()
    }
}

macro_rules! sysregs {
    ($($name:ident = ($op0:expr, $op1:expr, $crn:expr, $crm:expr, $op2:expr);)*) => {
        impl SysReg {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: SysReg = SysReg::new($op0, $op1, $crn, $crm, $op2);
            )*
        }

        /// Name lookup for the fixed (non-indexed) registers above.
        const fn fixed_name(reg: SysReg) -> Option<&'static str> {
            // Matching on associated consts compiles to a decision tree,
            // not a loop over a table.
            match reg {
                $(SysReg::$name => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

sysregs! {
    // Identification registers outside the TID3 group.
    MIDR_EL1 = (3, 0, 0, 0, 0);
    MPIDR_EL1 = (3, 0, 0, 0, 5);
    REVIDR_EL1 = (3, 0, 0, 0, 6);
    CCSIDR_EL1 = (3, 1, 0, 0, 0);
    CLIDR_EL1 = (3, 1, 0, 0, 1);
    CSSELR_EL1 = (3, 2, 0, 0, 0);
    CTR_EL0 = (3, 3, 0, 0, 1);
    DCZID_EL0 = (3, 3, 0, 0, 7);

    // TID3 group, AArch32 view (op0=3 op1=0 CRn=0, CRm=1..3).
    ID_PFR0_EL1 = (3, 0, 0, 1, 0);
    ID_PFR1_EL1 = (3, 0, 0, 1, 1);
    ID_DFR0_EL1 = (3, 0, 0, 1, 2);
    ID_AFR0_EL1 = (3, 0, 0, 1, 3);
    ID_MMFR0_EL1 = (3, 0, 0, 1, 4);
    ID_MMFR1_EL1 = (3, 0, 0, 1, 5);
    ID_MMFR2_EL1 = (3, 0, 0, 1, 6);
    ID_MMFR3_EL1 = (3, 0, 0, 1, 7);
    ID_ISAR0_EL1 = (3, 0, 0, 2, 0);
    ID_ISAR1_EL1 = (3, 0, 0, 2, 1);
    ID_ISAR2_EL1 = (3, 0, 0, 2, 2);
    ID_ISAR3_EL1 = (3, 0, 0, 2, 3);
    ID_ISAR4_EL1 = (3, 0, 0, 2, 4);
    ID_ISAR5_EL1 = (3, 0, 0, 2, 5);
    ID_MMFR4_EL1 = (3, 0, 0, 2, 6);
    ID_ISAR6_EL1 = (3, 0, 0, 2, 7);
    MVFR0_EL1 = (3, 0, 0, 3, 0);
    MVFR1_EL1 = (3, 0, 0, 3, 1);
    MVFR2_EL1 = (3, 0, 0, 3, 2);
    ID_PFR2_EL1 = (3, 0, 0, 3, 4);
    ID_DFR1_EL1 = (3, 0, 0, 3, 5);
    ID_MMFR5_EL1 = (3, 0, 0, 3, 6);

    // TID3 group, AArch64 view (CRm=4..7).
    ID_AA64PFR0_EL1 = (3, 0, 0, 4, 0);
    ID_AA64PFR1_EL1 = (3, 0, 0, 4, 1);
    ID_AA64PFR2_EL1 = (3, 0, 0, 4, 2);
    ID_AA64ZFR0_EL1 = (3, 0, 0, 4, 4);
    ID_AA64SMFR0_EL1 = (3, 0, 0, 4, 5);
    ID_AA64FPFR0_EL1 = (3, 0, 0, 4, 7);
    ID_AA64DFR0_EL1 = (3, 0, 0, 5, 0);
    ID_AA64DFR1_EL1 = (3, 0, 0, 5, 1);
    ID_AA64DFR2_EL1 = (3, 0, 0, 5, 2);
    ID_AA64AFR0_EL1 = (3, 0, 0, 5, 4);
    ID_AA64AFR1_EL1 = (3, 0, 0, 5, 5);
    ID_AA64ISAR0_EL1 = (3, 0, 0, 6, 0);
    ID_AA64ISAR1_EL1 = (3, 0, 0, 6, 1);
    ID_AA64ISAR2_EL1 = (3, 0, 0, 6, 2);
    ID_AA64ISAR3_EL1 = (3, 0, 0, 6, 3);
    ID_AA64MMFR0_EL1 = (3, 0, 0, 7, 0);
    ID_AA64MMFR1_EL1 = (3, 0, 0, 7, 1);
    ID_AA64MMFR2_EL1 = (3, 0, 0, 7, 2);
    ID_AA64MMFR3_EL1 = (3, 0, 0, 7, 3);
    ID_AA64MMFR4_EL1 = (3, 0, 0, 7, 4);

    // EL1 context.
    SCTLR_EL1 = (3, 0, 1, 0, 0);
    ACTLR_EL1 = (3, 0, 1, 0, 1);
    CPACR_EL1 = (3, 0, 1, 0, 2);
    TTBR0_EL1 = (3, 0, 2, 0, 0);
    TTBR1_EL1 = (3, 0, 2, 0, 1);
    TCR_EL1 = (3, 0, 2, 0, 2);
    AFSR0_EL1 = (3, 0, 5, 1, 0);
    AFSR1_EL1 = (3, 0, 5, 1, 1);
    ESR_EL1 = (3, 0, 5, 2, 0);
    FAR_EL1 = (3, 0, 6, 0, 0);
    PAR_EL1 = (3, 0, 7, 4, 0);
    MAIR_EL1 = (3, 0, 10, 2, 0);
    AMAIR_EL1 = (3, 0, 10, 3, 0);
    VBAR_EL1 = (3, 0, 12, 0, 0);
    CONTEXTIDR_EL1 = (3, 0, 13, 0, 1);
    TPIDR_EL1 = (3, 0, 13, 0, 4);
    CNTKCTL_EL1 = (3, 0, 14, 1, 0);

    // GICv3 CPU interface.
    ICC_PMR_EL1 = (3, 0, 4, 6, 0);
    ICC_DIR_EL1 = (3, 0, 12, 11, 1);
    ICC_SGI1R_EL1 = (3, 0, 12, 11, 5);
    ICC_ASGI1R_EL1 = (3, 0, 12, 11, 6);
    ICC_SGI0R_EL1 = (3, 0, 12, 11, 7);
    ICC_IAR1_EL1 = (3, 0, 12, 12, 0);
    ICC_EOIR1_EL1 = (3, 0, 12, 12, 1);
    ICC_CTLR_EL1 = (3, 0, 12, 12, 4);
    ICC_SRE_EL1 = (3, 0, 12, 12, 5);
    ICC_IGRPEN1_EL1 = (3, 0, 12, 12, 7);

    // Generic timer.
    CNTFRQ_EL0 = (3, 3, 14, 0, 0);
    CNTPCT_EL0 = (3, 3, 14, 0, 1);
    CNTVCT_EL0 = (3, 3, 14, 0, 2);
    CNTP_TVAL_EL0 = (3, 3, 14, 2, 0);
    CNTP_CTL_EL0 = (3, 3, 14, 2, 1);
    CNTP_CVAL_EL0 = (3, 3, 14, 2, 2);
    CNTV_TVAL_EL0 = (3, 3, 14, 3, 0);
    CNTV_CTL_EL0 = (3, 3, 14, 3, 1);
    CNTV_CVAL_EL0 = (3, 3, 14, 3, 2);

    // Debug (op0 = 2), trapped by MDCR_EL2.TDA / TDOSA / TDRA.
    OSDTRRX_EL1 = (2, 0, 0, 0, 2);
    MDCCINT_EL1 = (2, 0, 0, 2, 0);
    MDSCR_EL1 = (2, 0, 0, 2, 2);
    OSDTRTX_EL1 = (2, 0, 0, 3, 2);
    OSECCR_EL1 = (2, 0, 0, 6, 2);
    MDRAR_EL1 = (2, 0, 1, 0, 0);
    OSLAR_EL1 = (2, 0, 1, 0, 4);
    OSLSR_EL1 = (2, 0, 1, 1, 4);
    OSDLR_EL1 = (2, 0, 1, 3, 4);
    DBGPRCR_EL1 = (2, 0, 1, 4, 4);
    DBGCLAIMSET_EL1 = (2, 0, 7, 8, 6);
    DBGCLAIMCLR_EL1 = (2, 0, 7, 9, 6);
    DBGAUTHSTATUS_EL1 = (2, 0, 7, 14, 6);
    MDCCSR_EL0 = (2, 3, 0, 1, 0);
    DBGDTR_EL0 = (2, 3, 0, 4, 0);
    // Shares its encoding with DBGDTRTX_EL0: MRS reads RX, MSR writes TX.
    DBGDTRRX_EL0 = (2, 3, 0, 5, 0);

    // PMU.
    PMINTENSET_EL1 = (3, 0, 9, 14, 1);
    PMINTENCLR_EL1 = (3, 0, 9, 14, 2);
    PMCR_EL0 = (3, 3, 9, 12, 0);
    PMCNTENSET_EL0 = (3, 3, 9, 12, 1);
    PMCNTENCLR_EL0 = (3, 3, 9, 12, 2);
    PMOVSCLR_EL0 = (3, 3, 9, 12, 3);
    PMSWINC_EL0 = (3, 3, 9, 12, 4);
    PMSELR_EL0 = (3, 3, 9, 12, 5);
    PMCEID0_EL0 = (3, 3, 9, 12, 6);
    PMCEID1_EL0 = (3, 3, 9, 12, 7);
    PMCCNTR_EL0 = (3, 3, 9, 13, 0);
    PMXEVTYPER_EL0 = (3, 3, 9, 13, 1);
    PMXEVCNTR_EL0 = (3, 3, 9, 13, 2);
    PMUSERENR_EL0 = (3, 3, 9, 14, 0);
    PMOVSSET_EL0 = (3, 3, 9, 14, 3);
    PMCCFILTR_EL0 = (3, 3, 14, 15, 7);
}

impl SysReg {
    /// `DBGDTRTX_EL0`: the write view of [`SysReg::DBGDTRRX_EL0`]'s encoding.
    pub const DBGDTRTX_EL0: SysReg = SysReg::DBGDTRRX_EL0;

    /// Builds an encoding; each field is masked to its architectural width.
    #[inline]
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> SysReg {
        SysReg {
            op0: op0 & 0x3,
            op1: op1 & 0x7,
            crn: crn & 0xF,
            crm: crm & 0xF,
            op2: op2 & 0x7,
        }
    }

    /// Extracts the register from an EC 0x18 ISS (Rt and direction ignored).
    #[inline]
    pub const fn from_iss(iss: u32) -> SysReg {
        SysReg {
            op0: ((iss >> 20) & 0x3) as u8,
            op2: ((iss >> 17) & 0x7) as u8,
            op1: ((iss >> 14) & 0x7) as u8,
            crn: ((iss >> 10) & 0xF) as u8,
            crm: ((iss >> 1) & 0xF) as u8,
        }
    }

    /// The register's ISS bits (Rt = 0, direction = 0): lets a caller compare
    /// `iss & SysReg::ISS_MASK` against a constant without decoding.
    #[inline]
    pub const fn to_iss(self) -> u32 {
        ((self.op0 as u32) << 20)
            | ((self.op2 as u32) << 17)
            | ((self.op1 as u32) << 14)
            | ((self.crn as u32) << 10)
            | ((self.crm as u32) << 1)
    }

    /// ISS bits that name the register (everything but Rt and direction).
    pub const ISS_MASK: u32 = 0x003F_FC1E;

    /// True for the registers `HCR_EL2.TID3` traps: op0=3, op1=0, CRn=0,
    /// CRm=1..=7, any op2 (ID group 3, including its reserved encodings).
    #[inline]
    pub const fn is_id_group3(&self) -> bool {
        self.op0 == 3 && self.op1 == 0 && self.crn == 0 && self.crm >= 1 && self.crm <= 7
    }

    /// The Arm name of a fixed register, if this crate knows it. Indexed
    /// registers (`DBGBVR<n>_EL1`, `PMEVCNTR<n>_EL0`, ...) are named by `Display`.
    pub const fn name(&self) -> Option<&'static str> {
        fixed_name(*self)
    }

    /// Indexed debug/PMU registers: (prefix, n, suffix).
    fn indexed(&self) -> Option<(&'static str, u8, &'static str)> {
        match (self.op0, self.op1, self.crn) {
            // DBGBVR<n>_EL1 .. DBGWCR<n>_EL1: op0=2 op1=0 CRn=0 CRm=n op2=4..7.
            (2, 0, 0) if self.op2 >= 4 => {
                let prefix = match self.op2 {
                    4 => "DBGBVR",
                    5 => "DBGBCR",
                    6 => "DBGWVR",
                    _ => "DBGWCR",
                };
                Some((prefix, self.crm, "_EL1"))
            }
            // PMEVCNTR<n>_EL0: CRm=0b10:n[4:3], op2=n[2:0];
            // PMEVTYPER<n>_EL0: CRm=0b11:n[4:3] (n=31 is PMCCFILTR_EL0).
            (3, 3, 14) if self.crm >= 8 => {
                let n = ((self.crm & 3) << 3) | self.op2;
                let prefix = if self.crm < 12 {
                    "PMEVCNTR"
                } else {
                    "PMEVTYPER"
                };
                (n < 31).then_some((prefix, n, "_EL0"))
            }
            _ => None,
        }
    }
}

impl fmt::Display for SysReg {
    /// The Arm name when known, else the generic `s<op0>_<op1>_c<crn>_c<crm>_<op2>`
    /// spelling assemblers accept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == SysReg::DBGDTRRX_EL0 {
            return f.write_str("DBGDTRRX_EL0/DBGDTRTX_EL0");
        }
        if let Some(name) = self.name() {
            return f.write_str(name);
        }
        if let Some((prefix, n, suffix)) = self.indexed() {
            return write!(f, "{prefix}{n}{suffix}");
        }
        write!(
            f,
            "s{}_{}_c{}_c{}_{}",
            self.op0, self.op1, self.crn, self.crm, self.op2
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    /// ISS for MRS/MSR built from the Arm ARM field positions.
    fn iss(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32, rt: u32, read: bool) -> u32 {
        (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) | read as u32
    }

    #[test]
    fn decodes_mrs_of_id_aa64pfr0_into_x3() {
        // MRS x3, ID_AA64PFR0_EL1 -> ISS 0x30_0069.
        let a = SysRegAccess::from_iss(0x30_0069);
        assert_eq!(a.reg, SysReg::ID_AA64PFR0_EL1);
        assert_eq!(a.rt, 3);
        assert!(a.is_read);
        assert_eq!(a.reg.to_iss(), 0x30_0008);
    }

    #[test]
    fn decodes_msr_of_mdscr_from_xzr() {
        let a = SysRegAccess::from_iss(iss(2, 0, 0, 2, 2, 31, false));
        assert_eq!(a.reg, SysReg::MDSCR_EL1);
        assert_eq!(a.rt, 31);
        assert!(!a.is_read);
    }

    #[test]
    fn to_iss_round_trips_and_mask_strips_rt_and_direction() {
        let regs = [
            SysReg::MDCCSR_EL0,
            SysReg::PMCCFILTR_EL0,
            SysReg::ICC_SGI1R_EL1,
            SysReg::new(3, 7, 15, 15, 7),
        ];
        for r in regs {
            let raw = r.to_iss() | (17 << 5) | 1;
            assert_eq!(SysReg::from_iss(raw), r);
            assert_eq!(raw & SysReg::ISS_MASK, r.to_iss());
        }
    }

    #[test]
    fn id_group3_covers_crm_1_to_7_only() {
        assert!(SysReg::ID_PFR0_EL1.is_id_group3());
        assert!(SysReg::MVFR2_EL1.is_id_group3());
        assert!(SysReg::ID_AA64MMFR2_EL1.is_id_group3());
        assert!(SysReg::new(3, 0, 0, 7, 7).is_id_group3()); // reserved, still trapped
        assert!(!SysReg::MIDR_EL1.is_id_group3()); // CRm=0: TID1/TID0 territory
        assert!(!SysReg::new(3, 0, 0, 8, 0).is_id_group3());
        assert!(!SysReg::CTR_EL0.is_id_group3()); // op1=3
        assert!(!SysReg::new(2, 0, 0, 4, 0).is_id_group3()); // op0=2 is debug
    }

    #[test]
    fn display_names_known_and_unknown_registers() {
        assert_eq!(SysReg::ID_AA64PFR0_EL1.to_string(), "ID_AA64PFR0_EL1");
        assert_eq!(SysReg::MDCCSR_EL0.to_string(), "MDCCSR_EL0");
        assert_eq!(SysReg::OSLAR_EL1.to_string(), "OSLAR_EL1");
        assert_eq!(SysReg::PMCR_EL0.to_string(), "PMCR_EL0");
        assert_eq!(SysReg::new(2, 0, 0, 3, 4).to_string(), "DBGBVR3_EL1");
        assert_eq!(SysReg::new(2, 0, 0, 15, 7).to_string(), "DBGWCR15_EL1");
        assert_eq!(SysReg::new(3, 3, 14, 9, 2).to_string(), "PMEVCNTR10_EL0");
        assert_eq!(SysReg::new(3, 3, 14, 15, 6).to_string(), "PMEVTYPER30_EL0");
        assert_eq!(SysReg::new(3, 3, 14, 15, 7).to_string(), "PMCCFILTR_EL0");
        assert_eq!(SysReg::new(3, 0, 0, 7, 7).to_string(), "s3_0_c0_c7_7");
        assert_eq!(SysReg::new(3, 4, 15, 2, 1).to_string(), "s3_4_c15_c2_1");
    }

    #[test]
    fn dcc_data_register_is_named_by_direction() {
        let rd = SysRegAccess::from_iss(SysReg::DBGDTRRX_EL0.to_iss() | 1);
        let wr = SysRegAccess::from_iss(SysReg::DBGDTRTX_EL0.to_iss());
        assert_eq!(rd.name(), Some("DBGDTRRX_EL0"));
        assert_eq!(wr.name(), Some("DBGDTRTX_EL0"));
        assert_eq!(
            SysReg::DBGDTRRX_EL0.to_string(),
            "DBGDTRRX_EL0/DBGDTRTX_EL0"
        );
    }

    #[test]
    fn encodings_match_the_arm_arm() {
        // Spot checks against the Arm ARM register index (op0,op1,CRn,CRm,op2).
        assert_eq!(SysReg::MDCCSR_EL0, SysReg::new(2, 3, 0, 1, 0));
        assert_eq!(SysReg::OSLSR_EL1, SysReg::new(2, 0, 1, 1, 4));
        assert_eq!(SysReg::ACTLR_EL1, SysReg::new(3, 0, 1, 0, 1));
        assert_eq!(SysReg::ID_AA64SMFR0_EL1, SysReg::new(3, 0, 0, 4, 5));
        assert_eq!(SysReg::ID_AA64ISAR2_EL1, SysReg::new(3, 0, 0, 6, 2));
    }
}
