//! What a faulting user world did. A world that takes an exception other
//! than a system call is ended, and Aerie logs one line saying why: the
//! [`Fault`] decoded from the syndrome (`ESR_EL1`, forwarded by the EL1
//! shim) and the fault address (`FAR_EL1`), in its [`Display`] form.
//!
//! [`Display`]: core::fmt::Display

use core::fmt;

use aerie_trap::esr::{ec, Esr};
use aerie_trap::fsc;

/// Why a user world's exception ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A load or store faulted (EC 0x24, or 0x25); `addr` is the FAR.
    DataAbort {
        kind: AbortKind,
        write: bool,
        addr: u64,
    },
    /// An instruction fetch faulted (EC 0x20, or 0x21); `addr` is the FAR.
    InstructionAbort { kind: AbortKind, addr: u64 },
    /// An UNDEFINED instruction (EC 0x00), e.g. `hvc`, `smc`, `eret` or an
    /// MSR to an EL1 register at EL0.
    Undefined,
    /// An MSR, MRS or System instruction the kernel traps (EC 0x18), e.g.
    /// cache maintenance, or a `CTR_EL0` read when that is trapped.
    SystemRegister { iss: u32 },
    /// An FP/SIMD instruction (EC 0x07): user worlds may not use FP/SIMD,
    /// so Aerie never saves their FP state.
    FpSimd,
    /// A branch to a misaligned address (EC 0x22); `addr` is the FAR.
    PcAlignment { addr: u64 },
    /// A load or store through a misaligned SP (EC 0x26).
    SpAlignment,
    /// A `BRK #imm` (EC 0x3C); `imm` is ISS\[15:0\].
    Breakpoint { imm: u16 },
    /// A WFI or WFE, trapped by `SCTLR_EL1.nTWI`/`nTWE` = 0 (EC 0x01): a
    /// world may not idle the CPU.
    Wfx,
    /// Any other exception class, reported raw.
    Other { ec: u8, iss: u32 },
}

/// What kind of abort, from the fault status code (DFSC/IFSC, ISS\[5:0\]).
/// Levels are translation table levels: 0..3, or -1 with FEAT_LPA2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortKind {
    /// Address size fault: an output address too wide for the regime.
    AddressSize { level: i8 },
    /// Translation fault: nothing mapped there (the usual wild pointer).
    Translation { level: i8 },
    /// Access flag fault: the descriptor's AF bit is clear.
    AccessFlag { level: i8 },
    /// Permission fault: mapped, but not for this access (a write to
    /// read-only data, a fetch from a non-executable page, a touch of a
    /// page EL0 may not access).
    Permission { level: i8 },
    /// Alignment fault: an unaligned access that must be aligned (an
    /// exclusive or atomic, or any access to Device memory).
    Alignment,
    /// Any other status code (external abort, parity error, TLB
    /// conflict...), reported raw.
    Other { fsc: u8 },
}

impl AbortKind {
    /// Decodes a fault status code (Arm ARM D24.2 ESR_ELx ISS for data and
    /// instruction aborts); only the bits \[5:0\] are looked at.
    pub fn from_fsc(code: u8) -> AbortKind {
        let code = code & 0x3F;
        match fsc::level(code) {
            Some(level) if fsc::is_address_size(code) => AbortKind::AddressSize { level },
            Some(level) if fsc::is_translation(code) => AbortKind::Translation { level },
            Some(level) if fsc::is_access_flag(code) => AbortKind::AccessFlag { level },
            Some(level) if fsc::is_permission(code) => AbortKind::Permission { level },
            _ if code == fsc::ALIGNMENT => AbortKind::Alignment,
            _ => AbortKind::Other { fsc: code },
        }
    }
}

impl fmt::Display for AbortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AbortKind::AddressSize { level } => write!(f, "address size fault (level {level})"),
            AbortKind::Translation { level } => write!(f, "translation fault (level {level})"),
            AbortKind::AccessFlag { level } => write!(f, "access flag fault (level {level})"),
            AbortKind::Permission { level } => write!(f, "permission fault (level {level})"),
            AbortKind::Alignment => f.write_str("alignment fault"),
            AbortKind::Other { fsc: code } => {
                let name = match code {
                    fsc::SYNC_EXTERNAL => "synchronous external abort",
                    fsc::TAG_CHECK => "tag check fault",
                    fsc::SYNC_PARITY => "parity or ECC error",
                    fsc::TLB_CONFLICT => "TLB conflict abort",
                    _ => "fault",
                };
                write!(f, "{name} (FSC {code:#04x})")
            }
        }
    }
}

/// Write-not-Read, ISS bit 6 of a data abort.
const WNR: u32 = 1 << 6;
/// The fault status code, ISS\[5:0\] of a data or instruction abort.
const FSC_MASK: u32 = 0x3F;

impl Fault {
    /// Decodes a user world's exception from its syndrome (`ESR_EL1`) and
    /// fault address (`FAR_EL1`; ignored where it means nothing). System
    /// calls (EC 0x15) are not faults; given one, this says `Other`.
    pub fn from_syndrome(esr: u64, far: u64) -> Fault {
        let esr = Esr(esr);
        let iss = esr.iss();
        match esr.ec() {
            ec::DABT_LOW | ec::DABT_CUR => Fault::DataAbort {
                kind: AbortKind::from_fsc((iss & FSC_MASK) as u8),
                write: iss & WNR != 0,
                addr: far,
            },
            ec::IABT_LOW | ec::IABT_CUR => Fault::InstructionAbort {
                kind: AbortKind::from_fsc((iss & FSC_MASK) as u8),
                addr: far,
            },
            ec::UNKNOWN => Fault::Undefined,
            ec::SYSREG => Fault::SystemRegister { iss },
            ec::FP => Fault::FpSimd,
            ec::PC_ALIGN => Fault::PcAlignment { addr: far },
            ec::SP_ALIGN => Fault::SpAlignment,
            ec::BRK64 => Fault::Breakpoint { imm: iss as u16 },
            ec::WFX => Fault::Wfx,
            other => Fault::Other { ec: other, iss },
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::DataAbort {
                kind,
                write: true,
                addr,
            } => {
                write!(f, "data abort: {kind} on a write to {addr:#x}")
            }
            Fault::DataAbort {
                kind,
                write: false,
                addr,
            } => {
                write!(f, "data abort: {kind} on a read of {addr:#x}")
            }
            Fault::InstructionAbort { kind, addr } => {
                write!(f, "instruction abort: {kind} at {addr:#x}")
            }
            Fault::Undefined => f.write_str("undefined instruction"),
            Fault::SystemRegister { iss } => {
                write!(f, "trapped system register access (ISS {iss:#x})")
            }
            Fault::FpSimd => f.write_str("FP/SIMD instruction (user worlds have no FP/SIMD)"),
            Fault::PcAlignment { addr } => write!(f, "PC alignment fault at {addr:#x}"),
            Fault::SpAlignment => f.write_str("SP alignment fault"),
            Fault::Breakpoint { imm } => write!(f, "breakpoint (BRK #{imm:#x})"),
            Fault::Wfx => f.write_str("WFI/WFE (user worlds may not wait)"),
            Fault::Other { ec, iss } => write!(f, "exception class {ec:#04x} (ISS {iss:#x})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The syndrome of an exception of class `ec` with `iss`, as the
    /// hardware reports it for an A64 instruction (IL = 1).
    fn esr(ec: u8, iss: u32) -> u64 {
        Esr::new(ec, true, iss).0
    }

    fn decode(ec: u8, iss: u32, far: u64) -> (Fault, alloc::string::String) {
        let fault = Fault::from_syndrome(esr(ec, iss), far);
        (fault, fault.to_string())
    }

    #[test]
    fn data_abort_translation_read() {
        // DFSC 0b000101: translation fault, level 1; WnR = 0.
        let (fault, text) = decode(ec::DABT_LOW, 0x05, 0x8000_0000_0000);
        assert_eq!(
            fault,
            Fault::DataAbort {
                kind: AbortKind::Translation { level: 1 },
                write: false,
                addr: 0x8000_0000_0000
            }
        );
        assert_eq!(
            text,
            "data abort: translation fault (level 1) on a read of 0x800000000000"
        );
    }

    #[test]
    fn data_abort_permission_write() {
        // DFSC 0b001111: permission fault, level 3; WnR = 1; ISV and SAS
        // bits set too, which must not matter.
        let (fault, text) = decode(ec::DABT_LOW, (1 << 24) | (3 << 22) | WNR | 0x0F, 0x40_0000);
        assert_eq!(
            fault,
            Fault::DataAbort {
                kind: AbortKind::Permission { level: 3 },
                write: true,
                addr: 0x40_0000
            }
        );
        assert_eq!(
            text,
            "data abort: permission fault (level 3) on a write to 0x400000"
        );
    }

    #[test]
    fn data_abort_from_the_same_level_is_accepted() {
        let (fault, _) = decode(ec::DABT_CUR, fsc::ALIGNMENT as u32, 0x1001);
        assert_eq!(
            fault,
            Fault::DataAbort {
                kind: AbortKind::Alignment,
                write: false,
                addr: 0x1001
            }
        );
        assert_eq!(
            fault.to_string(),
            "data abort: alignment fault on a read of 0x1001"
        );
    }

    #[test]
    fn instruction_abort() {
        let (fault, text) = decode(ec::IABT_LOW, 0x0F, 0x40_1000);
        assert_eq!(
            fault,
            Fault::InstructionAbort {
                kind: AbortKind::Permission { level: 3 },
                addr: 0x40_1000
            }
        );
        assert_eq!(
            text,
            "instruction abort: permission fault (level 3) at 0x401000"
        );
        // EC 0x21 too; WnR means nothing for a fetch and is ignored.
        let (fault, text) = decode(ec::IABT_CUR, WNR | 0x07, 0x10);
        assert_eq!(
            fault,
            Fault::InstructionAbort {
                kind: AbortKind::Translation { level: 3 },
                addr: 0x10
            }
        );
        assert_eq!(
            text,
            "instruction abort: translation fault (level 3) at 0x10"
        );
    }

    #[test]
    fn undefined() {
        let (fault, text) = decode(ec::UNKNOWN, 0, 0xDEAD);
        assert_eq!(fault, Fault::Undefined);
        assert_eq!(text, "undefined instruction");
    }

    #[test]
    fn system_register() {
        // DC CIVAC, X0: Op0=1 Op2=1 Op1=3 CRn=7 Rt=0 CRm=14 Direction=0.
        let iss = (1 << 20) | (1 << 17) | (3 << 14) | (7 << 10) | (14 << 1);
        let (fault, text) = decode(ec::SYSREG, iss, 0);
        assert_eq!(fault, Fault::SystemRegister { iss });
        assert_eq!(text, "trapped system register access (ISS 0x12dc1c)");
    }

    #[test]
    fn fp_simd() {
        let (fault, text) = decode(ec::FP, 0x1E0_0000, 0);
        assert_eq!(fault, Fault::FpSimd);
        assert_eq!(text, "FP/SIMD instruction (user worlds have no FP/SIMD)");
    }

    #[test]
    fn pc_alignment() {
        let (fault, text) = decode(ec::PC_ALIGN, 0, 0x40_0002);
        assert_eq!(fault, Fault::PcAlignment { addr: 0x40_0002 });
        assert_eq!(text, "PC alignment fault at 0x400002");
    }

    #[test]
    fn sp_alignment() {
        let (fault, text) = decode(ec::SP_ALIGN, 0, 0x7F_FFFF_0008);
        assert_eq!(fault, Fault::SpAlignment);
        assert_eq!(text, "SP alignment fault");
    }

    #[test]
    fn breakpoint() {
        let (fault, text) = decode(ec::BRK64, 0xF000, 0);
        assert_eq!(fault, Fault::Breakpoint { imm: 0xF000 });
        assert_eq!(text, "breakpoint (BRK #0xf000)");
        // Only ISS[15:0] is the immediate.
        let (fault, _) = decode(ec::BRK64, 0x1_0001, 0);
        assert_eq!(fault, Fault::Breakpoint { imm: 1 });
    }

    #[test]
    fn wfx() {
        // ISS TI = 0b01: WFE.
        let (fault, text) = decode(ec::WFX, 1, 0);
        assert_eq!(fault, Fault::Wfx);
        assert_eq!(text, "WFI/WFE (user worlds may not wait)");
    }

    #[test]
    fn other_classes_are_reported_raw() {
        let (fault, text) = decode(ec::ILLEGAL, 0, 0);
        assert_eq!(
            fault,
            Fault::Other {
                ec: ec::ILLEGAL,
                iss: 0
            }
        );
        assert_eq!(text, "exception class 0x0e (ISS 0x0)");
        let (fault, text) = decode(ec::SERROR, 0x123_4567, 0);
        assert_eq!(
            fault,
            Fault::Other {
                ec: 0x2F,
                iss: 0x123_4567
            }
        );
        assert_eq!(text, "exception class 0x2f (ISS 0x1234567)");
        // A system call is not a fault; if one gets here it is still named.
        assert_eq!(
            decode(ec::SVC64, 0, 0).0,
            Fault::Other {
                ec: ec::SVC64,
                iss: 0
            }
        );
        for class in [
            ec::SVE,
            ec::BTI,
            ec::PAC,
            ec::SOFTSTP_LOW,
            ec::WATCHPT_LOW,
            ec::BREAKPT_LOW,
        ] {
            assert!(matches!(decode(class, 7, 0).0, Fault::Other { ec, iss: 7 } if ec == class));
        }
    }

    #[test]
    fn bits_outside_ec_and_iss_are_ignored() {
        // IL = 0 and ISS2 bits set: same decoding.
        let raw = Esr::new(ec::DABT_LOW, false, 0x06).0 | (0xAB << 32);
        assert_eq!(
            Fault::from_syndrome(raw, 0x2000),
            Fault::DataAbort {
                kind: AbortKind::Translation { level: 2 },
                write: false,
                addr: 0x2000
            }
        );
    }

    #[test]
    fn fault_status_table() {
        use AbortKind::*;
        let table: [(u8, AbortKind, &str); 24] = [
            (
                0x00,
                AddressSize { level: 0 },
                "address size fault (level 0)",
            ),
            (
                0x01,
                AddressSize { level: 1 },
                "address size fault (level 1)",
            ),
            (
                0x02,
                AddressSize { level: 2 },
                "address size fault (level 2)",
            ),
            (
                0x03,
                AddressSize { level: 3 },
                "address size fault (level 3)",
            ),
            (
                0x04,
                Translation { level: 0 },
                "translation fault (level 0)",
            ),
            (
                0x05,
                Translation { level: 1 },
                "translation fault (level 1)",
            ),
            (
                0x06,
                Translation { level: 2 },
                "translation fault (level 2)",
            ),
            (
                0x07,
                Translation { level: 3 },
                "translation fault (level 3)",
            ),
            (0x08, AccessFlag { level: 0 }, "access flag fault (level 0)"),
            (0x09, AccessFlag { level: 1 }, "access flag fault (level 1)"),
            (0x0A, AccessFlag { level: 2 }, "access flag fault (level 2)"),
            (0x0B, AccessFlag { level: 3 }, "access flag fault (level 3)"),
            (0x0C, Permission { level: 0 }, "permission fault (level 0)"),
            (0x0D, Permission { level: 1 }, "permission fault (level 1)"),
            (0x0E, Permission { level: 2 }, "permission fault (level 2)"),
            (0x0F, Permission { level: 3 }, "permission fault (level 3)"),
            (
                0x29,
                AddressSize { level: -1 },
                "address size fault (level -1)",
            ),
            (
                0x2B,
                Translation { level: -1 },
                "translation fault (level -1)",
            ),
            (0x21, Alignment, "alignment fault"),
            (
                0x10,
                Other { fsc: 0x10 },
                "synchronous external abort (FSC 0x10)",
            ),
            (0x11, Other { fsc: 0x11 }, "tag check fault (FSC 0x11)"),
            (0x18, Other { fsc: 0x18 }, "parity or ECC error (FSC 0x18)"),
            (0x30, Other { fsc: 0x30 }, "TLB conflict abort (FSC 0x30)"),
            (0x3F, Other { fsc: 0x3F }, "fault (FSC 0x3f)"),
        ];
        for (code, kind, text) in table {
            assert_eq!(AbortKind::from_fsc(code), kind, "FSC {code:#x}");
            assert_eq!(kind.to_string(), text);
            // The same through a whole data-abort syndrome.
            let fault = Fault::from_syndrome(esr(ec::DABT_LOW, u32::from(code)), 0x1000);
            assert_eq!(
                fault,
                Fault::DataAbort {
                    kind,
                    write: false,
                    addr: 0x1000
                }
            );
        }
        // Every code decodes to something; the levelled kinds only from
        // 0x00..0x0F and the two level -1 codes, agreeing with aerie-trap.
        for code in 0..=0x3Fu8 {
            let kind = AbortKind::from_fsc(code);
            let level = match kind {
                AddressSize { level }
                | Translation { level }
                | AccessFlag { level }
                | Permission { level } => Some(level),
                Alignment | Other { .. } => None,
            };
            assert_eq!(level, fsc::level(code), "FSC {code:#x}");
            if let Other { fsc } = kind {
                assert_eq!(fsc, code);
            }
        }
        // Bits above [5:0] are dropped.
        assert_eq!(AbortKind::from_fsc(0x45), Translation { level: 1 });
    }
}
