//! Turning an `ESR_EL2` value into "why did the guest exit", the input of the
//! hypervisor's exit dispatcher.
//!
//! Where `ELR_EL2` points matters for completing an exit:
//! - `Hvc`: already at the instruction after the HVC (preferred return
//!   address of an HVC exception); return without adjusting.
//! - `Smc` (trapped by HCR_EL2.TSC), `Wfx`, `SysReg`, `DataAbort`: at the
//!   trapping instruction itself; add [`Esr::instr_len`] after emulating it.
//! - `InstrAbort`, `Debug`, `Brk`: at the instruction; re-execute it or inject.

use crate::abort::DataAbort;
use crate::esr::{ec, Esr};
use crate::sysreg::SysRegAccess;

/// Which wait instruction trapped (ISS TI\[1:0\]); the *T variants carry the
/// register holding the timeout (ISS RN\[9:5\], valid because RV=1 for A64).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WfxKind {
    /// WFI.
    Wfi,
    /// WFE.
    Wfe,
    /// WFIT Xt (FEAT_WFxT).
    Wfit(u8),
    /// WFET Xt (FEAT_WFxT).
    Wfet(u8),
}

impl WfxKind {
    /// Decodes the ISS of EC 0x01.
    #[inline]
    pub const fn from_iss(iss: u32) -> WfxKind {
        let rn = ((iss >> 5) & 0x1F) as u8;
        match iss & 3 {
            0 => WfxKind::Wfi,
            1 => WfxKind::Wfe,
            2 => WfxKind::Wfit(rn),
            _ => WfxKind::Wfet(rn),
        }
    }

    /// WFE or WFET (an event wait) rather than an interrupt wait.
    #[inline]
    pub const fn is_wfe(self) -> bool {
        matches!(self, WfxKind::Wfe | WfxKind::Wfet(_))
    }
}

/// Why a guest exited to EL2, decoded from `ESR_EL2` for the classes a
/// guest can cause. Anything else (including aborts taken at EL2 itself,
/// EC 0x21/0x25) comes back as [`Exit::Other`] with the raw fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exit {
    /// HVC #imm from AArch64 (EC 0x16): SMCCC/PSCI conduit.
    Hvc {
        /// The 16-bit immediate (0 for SMCCC calls).
        imm: u16,
    },
    /// SMC #imm from AArch64 trapped by HCR_EL2.TSC (EC 0x17).
    Smc {
        /// The 16-bit immediate.
        imm: u16,
    },
    /// WFI/WFE/WFIT/WFET trapped by HCR_EL2.TWI/TWE (EC 0x01).
    Wfx(WfxKind),
    /// MSR/MRS trapped (EC 0x18).
    SysReg(SysRegAccess),
    /// Stage-2 data abort from the guest (EC 0x24).
    DataAbort(DataAbort),
    /// Stage-2 instruction abort from the guest (EC 0x20).
    InstrAbort {
        /// IFSC, ISS\[5:0\]; see [`crate::abort::fsc`].
        fsc: u8,
        /// ISS\[7\]: the fault happened on the guest's stage-1 table walk.
        s1ptw: bool,
    },
    /// FP/SIMD access trapped by CPTR_EL2.TFP (EC 0x07): lazy FP switch.
    FpAccess,
    /// BRK #imm from AArch64 (EC 0x3C), routed here by MDCR_EL2.TDE.
    Brk {
        /// The 16-bit immediate (ISS\[15:0\]).
        imm: u16,
    },
    /// Hardware breakpoint, software step or watchpoint from the guest
    /// (EC 0x30/0x32/0x34), kept raw for faithful re-injection.
    Debug {
        /// The lower-EL exception class.
        ec: u8,
        /// The ISS as hardware reported it.
        iss: u32,
    },
    /// Any other exception class.
    Other {
        /// Exception class.
        ec: u8,
        /// Instruction specific syndrome.
        iss: u32,
    },
}

/// Decodes `ESR_EL2` for the exit dispatcher: a match on EC and a few
/// shifts, no loops.
#[inline]
pub fn decode(esr: u64) -> Exit {
    let esr = Esr(esr);
    let iss = esr.iss();
    match esr.ec() {
        ec::HVC64 => Exit::Hvc { imm: iss as u16 },
        ec::SMC64 => Exit::Smc { imm: iss as u16 },
        ec::WFX => Exit::Wfx(WfxKind::from_iss(iss)),
        ec::SYSREG => Exit::SysReg(SysRegAccess::from_iss(iss)),
        ec::DABT_LOW => Exit::DataAbort(DataAbort(iss)),
        ec::IABT_LOW => Exit::InstrAbort {
            fsc: (iss & 0x3F) as u8,
            s1ptw: iss & (1 << 7) != 0,
        },
        ec::FP => Exit::FpAccess,
        ec::BRK64 => Exit::Brk { imm: iss as u16 },
        code @ (ec::BREAKPT_LOW | ec::SOFTSTP_LOW | ec::WATCHPT_LOW) => {
            Exit::Debug { ec: code, iss }
        }
        code => Exit::Other { ec: code, iss },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysreg::SysReg;

    #[test]
    fn hvc_0_from_aarch64() {
        // EC=0x16 << 26 | IL.
        assert_eq!(decode(0x5A00_0000), Exit::Hvc { imm: 0 });
    }

    #[test]
    fn smc_imm_is_kept() {
        assert_eq!(decode(0x5E00_0001), Exit::Smc { imm: 1 });
    }

    #[test]
    fn wfi_and_wfe_from_aarch64() {
        // EC=0x01, IL=1, CV=1, COND=0b1110 (always set for A64), TI.
        assert_eq!(decode(0x07E0_0000), Exit::Wfx(WfxKind::Wfi));
        assert_eq!(decode(0x07E0_0001), Exit::Wfx(WfxKind::Wfe));
    }

    #[test]
    fn wfit_and_wfet_carry_their_register() {
        // RV=1 (bit 2), RN=x9 (bits 9:5).
        let base = 0x07E0_0000 | (9 << 5) | (1 << 2);
        assert_eq!(decode(base | 2), Exit::Wfx(WfxKind::Wfit(9)));
        assert_eq!(decode(base | 3), Exit::Wfx(WfxKind::Wfet(9)));
        assert!(WfxKind::Wfet(9).is_wfe());
        assert!(!WfxKind::Wfit(9).is_wfe());
    }

    #[test]
    fn mrs_id_aa64pfr0_into_x3() {
        // EC=0x18, IL=1, ISS=0x30_0069.
        match decode(0x6230_0069) {
            Exit::SysReg(a) => {
                assert_eq!(a.reg, SysReg::ID_AA64PFR0_EL1);
                assert_eq!(a.rt, 3);
                assert!(a.is_read);
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn mrs_mdccsr_el0() {
        // MRS x0, MDCCSR_EL0: op0=2 op1=3 CRn=0 CRm=1 op2=0 -> ISS 0x20_C003.
        match decode(0x6220_C003) {
            Exit::SysReg(a) => {
                assert_eq!(a.reg, SysReg::MDCCSR_EL0);
                assert_eq!(a.rt, 0);
                assert!(a.is_read);
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn str_w5_to_mmio_with_isv() {
        // EC=0x24, IL, ISV, SAS=word, SRT=5, WnR, DFSC=translation L3.
        match decode(0x9385_0047) {
            Exit::DataAbort(d) => {
                let a = d.access().expect("ISV set");
                assert_eq!((a.size, a.srt, a.write, a.sf), (4, 5, true, false));
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn data_abort_without_isv() {
        match decode(0x9200_0007) {
            Exit::DataAbort(d) => {
                assert!(!d.isv());
                assert_eq!(d.access(), None);
                assert!(d.is_translation_fault());
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn instruction_abort_on_walk() {
        // EC=0x20, IL, S1PTW, IFSC=translation L1.
        assert_eq!(
            decode(0x8200_0085),
            Exit::InstrAbort {
                fsc: 0x05,
                s1ptw: true
            }
        );
    }

    #[test]
    fn debug_classes() {
        assert_eq!(decode(0xF200_1234), Exit::Brk { imm: 0x1234 });
        assert_eq!(
            decode(0xC800_0022),
            Exit::Debug {
                ec: ec::SOFTSTP_LOW,
                iss: 0x22
            }
        );
        assert_eq!(decode(0x1FE0_0000), Exit::FpAccess);
    }

    #[test]
    fn el2_own_aborts_and_unknown_are_other() {
        assert_eq!(
            decode(0x9600_0010),
            Exit::Other {
                ec: 0x25,
                iss: 0x10
            }
        );
        assert_eq!(decode(0x0200_0000), Exit::Other { ec: 0, iss: 0 });
    }
}
