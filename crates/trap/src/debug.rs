//! Re-injecting a debug exception that MDCR_EL2.TDE routed to EL2 into the
//! guest's EL1, as the hardware would have delivered it with TDE = 0 (Arm
//! ARM D2 "AArch64 Self-hosted Debug"; ESR_ELx encodings of EC 0x30..0x3C).
//!
//! What changes between the EL2 and the EL1 view:
//! - EC: ESR_EL2 always reports the guest as a *lower* EL. From EL1's point
//!   of view an exception taken from EL1 to EL1 is a *current* EL one, so
//!   0x30/0x32/0x34 become 0x31/0x33/0x35 when the guest was at EL1. BRK
//!   (0x3C) and AArch32 BKPT (0x38) have one class for every EL.
//! - Everything else in the syndrome (ISS, ISS2) is what the hardware
//!   reported: the same debug event seen by a different target EL.
//! - FAR_EL1 carries the watchpoint address; it is UNKNOWN for the others.
//! - ELR_EL1 is ELR_EL2: the BRK, the breakpointed instruction, the
//!   watchpointed access, or the next instruction to be stepped.
//!
//! Software step and SPSR.SS (D2.12, the software step state machine): a
//! Software Step exception is only generated in the active-pending state,
//! which is PSTATE.SS == 0, so the SPSR written on taking it has SS = 0.
//! SPSR_EL2 already says so; we clear SPSR_EL1.SS for this class anyway so
//! that the debugger in the guest always sees the architected value. For
//! every other debug exception SPSR.SS is kept as the hardware recorded
//! it: they are taken before the instruction completes, so SS = 1 there
//! means "the instruction was not stepped yet" and the guest's debugger
//! resumes in active-not-pending, exactly as with TDE = 0. The handler's
//! own PSTATE.SS is 0, as on every exception entry.
//!
//! Not decided here (the caller's job, it needs MDSCR_EL1 and OS lock
//! state): with TDE = 0 a breakpoint, watchpoint or step from EL1 exists
//! only if the guest enabled debug exceptions at EL1 (MDSCR_EL1.KDE = 1,
//! PSTATE.D = 0, OS lock clear); BRK exists regardless.

use crate::esr::{ec, Esr};
use crate::inject::{class_for, inject_sync, Injection};
use crate::pstate;

/// ESR bits \[31:26\]: the exception class, the only field rewritten.
const EC_FIELD: u64 = 0x3F << Esr::EC_SHIFT;

/// Re-injects the debug exception described by `esr_el2`/`far_el2` that the
/// guest took at `pc` with PSTATE `pstate` (ELR_EL2/SPSR_EL2) into its EL1.
///
/// Handles BRK (0x3C), hardware breakpoint (0x30), software step (0x32),
/// watchpoint (0x34) and AArch32 BKPT (0x38). The caller routes only
/// [`crate::Exit::Brk`] and [`crate::Exit::Debug`] here; any other class
/// (including AArch32 vector catch, impossible with an AArch64 EL1) is
/// delivered with its syndrome unchanged.
pub fn inject_debug(
    esr_el2: u64,
    far_el2: u64,
    pc: u64,
    pstate: u64,
    vbar_el1: u64,
    sctlr_el1: u64,
) -> Injection {
    let class = Esr(esr_el2).ec();
    let el1_class = match class {
        ec::BREAKPT_LOW => class_for(pstate, ec::BREAKPT_LOW, ec::BREAKPT_CUR),
        ec::SOFTSTP_LOW => class_for(pstate, ec::SOFTSTP_LOW, ec::SOFTSTP_CUR),
        ec::WATCHPT_LOW => class_for(pstate, ec::WATCHPT_LOW, ec::WATCHPT_CUR),
        other => other,
    };
    let mut esr_el1 = (esr_el2 & !EC_FIELD) | (u64::from(el1_class) << Esr::EC_SHIFT);
    // IL is 1 for every debug exception except a T32 BKPT, where it gives
    // the instruction size the hardware already reported.
    if class != ec::BKPT32 {
        esr_el1 |= Esr::IL;
    }

    let far_el1 = (class == ec::WATCHPT_LOW).then_some(far_el2);
    let mut inj = inject_sync(pc, pstate, vbar_el1, sctlr_el1, esr_el1, far_el1);
    if class == ec::SOFTSTP_LOW {
        // Taken in the active-pending state (PSTATE.SS == 0); see above.
        inj.spsr_el1 &= !pstate::SS;
    }
    inj
}

#[cfg(test)]
mod tests {
    use super::*;

    const VBAR: u64 = 0xFFFF_8000_1001_0800;
    const PC: u64 = 0x0000_ffff_8000_0124;
    /// SCTLR_EL1.SPAN = 1, DSSBS = 0: PAN and SSBS stay 0 on entry.
    const SCTLR_PLAIN: u64 = 1 << 23;
    /// EL1h with D, A, I, F masked: the least every entry PSTATE carries.
    const ENTRY: u64 = 0x3C5;
    /// The flags the guest had (N and C), carried into the handler.
    const FLAGS: u64 = 0xA000_0000;

    const EL0T: u64 = FLAGS | pstate::M_EL0T;
    const EL1T: u64 = FLAGS | pstate::M_EL1T;
    const EL1H: u64 = FLAGS | pstate::M_EL1H;

    /// The three AArch64 origins with their vector offsets and whether the
    /// same-EL class applies.
    const ORIGINS: [(u64, u64, bool); 3] = [
        (EL0T, 0x400, false),
        (EL1T, 0x000, true),
        (EL1H, 0x200, true),
    ];

    fn check_common(inj: &Injection, old: u64, offset: u64) {
        assert_eq!(inj.elr_el1, PC, "ELR_EL1 for {old:#x}");
        assert_eq!(inj.pc, VBAR + offset, "vector for {old:#x}");
        assert_eq!(inj.pstate, FLAGS | ENTRY, "entry PSTATE for {old:#x}");
    }

    #[test]
    fn brk_keeps_class_0x3c_and_its_immediate_from_every_el() {
        // BRK #0x1234: EC 0x3C, IL, ISS = comment.
        let esr = 0xF200_1234;
        for (old, offset, _) in ORIGINS {
            let inj = inject_debug(esr, 0xDEAD, PC, old, VBAR, SCTLR_PLAIN);
            assert_eq!(inj.esr_el1, 0xF200_1234);
            assert_eq!(inj.far_el1, None);
            assert_eq!(inj.spsr_el1, old);
            check_common(&inj, old, offset);
        }
    }

    #[test]
    fn breakpoint_becomes_0x31_when_taken_from_el1() {
        // EC 0x30, IL, IFSC = 0b100010 (debug exception).
        let esr = 0xC200_0022;
        for (old, offset, same) in ORIGINS {
            let inj = inject_debug(esr, 0, PC, old, VBAR, SCTLR_PLAIN);
            let want = if same { 0xC600_0022 } else { 0xC200_0022 };
            assert_eq!(inj.esr_el1, want, "from {old:#x}");
            assert_eq!(inj.far_el1, None);
            assert_eq!(inj.spsr_el1, old);
            check_common(&inj, old, offset);
        }
    }

    #[test]
    fn software_step_keeps_isv_and_ex_and_becomes_0x33_from_el1() {
        // EC 0x32, IL, ISV (bit 24), EX (bit 6: a load-exclusive stepped),
        // IFSC 0x22.
        let esr = 0xCB00_0062;
        for (old, offset, same) in ORIGINS {
            let inj = inject_debug(esr, 0, PC, old, VBAR, SCTLR_PLAIN);
            let want = if same { 0xCF00_0062 } else { 0xCB00_0062 };
            assert_eq!(inj.esr_el1, want, "from {old:#x}");
            assert_eq!(inj.far_el1, None);
            assert_eq!(inj.spsr_el1, old);
            check_common(&inj, old, offset);
        }
    }

    #[test]
    fn software_step_exception_reports_ss_clear_in_spsr() {
        // Active-pending has PSTATE.SS = 0; even a stray SS = 1 in
        // SPSR_EL2 must not reach the guest's SPSR_EL1 for this class.
        let old = EL0T | pstate::SS;
        let inj = inject_debug(0xCA00_0022, 0, PC, old, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.spsr_el1, EL0T);
        assert_eq!(inj.pstate & pstate::SS, 0);
    }

    #[test]
    fn breakpoint_on_a_stepped_instruction_keeps_spsr_ss() {
        // Active-not-pending (SS = 1): the breakpoint is taken before the
        // instruction is stepped, so the guest's debugger sees SS = 1 and
        // the handler runs with SS = 0.
        let old = EL0T | pstate::SS;
        let inj = inject_debug(0xC200_0022, 0, PC, old, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.spsr_el1, old);
        assert_eq!(inj.pstate, FLAGS | ENTRY);
    }

    #[test]
    fn watchpoint_reports_far_and_keeps_wnr_cm_dfsc() {
        // EC 0x34, IL, CM (bit 8), WnR (bit 6), DFSC 0x22.
        let esr = 0xD200_0162;
        let far = 0xFFFF_0000_0804_1008;
        for (old, offset, same) in ORIGINS {
            let inj = inject_debug(esr, far, PC, old, VBAR, SCTLR_PLAIN);
            let want = if same { 0xD600_0162 } else { 0xD200_0162 };
            assert_eq!(inj.esr_el1, want, "from {old:#x}");
            assert_eq!(inj.far_el1, Some(far));
            assert_eq!(inj.spsr_el1, old);
            check_common(&inj, old, offset);
        }
    }

    #[test]
    fn il_is_forced_and_iss2_is_kept() {
        // A syndrome with IL clear and an ISS2 bit: IL becomes 1 (every
        // A64 debug exception is IL = 1), ISS2 passes through.
        let esr = (1 << 32) | 0xD000_0022;
        let inj = inject_debug(esr, 0x1000, PC, EL1H, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.esr_el1, (1 << 32) | 0xD600_0022);
    }

    #[test]
    fn aarch32_bkpt_keeps_its_16_bit_length() {
        // T32 BKPT #0xAB from User mode: EC 0x38, IL = 0, ISS = comment.
        let old = 0x30; // M = 0b10000 (usr), T
        let inj = inject_debug(0xE000_00AB, 0, PC, old, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.esr_el1, 0xE000_00AB);
        assert_eq!(inj.far_el1, None);
        assert_eq!(inj.elr_el1, PC);
        assert_eq!(inj.spsr_el1, old);
        assert_eq!(inj.pc, VBAR + 0x600);
        assert_eq!(inj.pstate, ENTRY);
    }

    #[test]
    fn entry_pstate_follows_span_and_dssbs() {
        // SPAN = 0 sets PAN, DSSBS = 1 sets SSBS, as for other injections.
        let sctlr = 1 << 44;
        let inj = inject_debug(0xF200_0000, 0, PC, EL0T, VBAR, sctlr);
        assert_eq!(inj.pstate, FLAGS | ENTRY | pstate::PAN | pstate::SSBS);
    }

    #[test]
    fn other_classes_pass_through_unchanged() {
        // AArch32 vector catch (EC 0x3A) cannot happen with an AArch64 EL1.
        let inj = inject_debug(0xEA00_0000, 0, PC, EL1H, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.esr_el1, 0xEA00_0000);
        assert_eq!(inj.far_el1, None);
    }
}
