//! Building a synchronous exception for the guest's EL1, as the hardware
//! would on exception entry (Arm ARM D1.3 "Exceptions", AArch64 exception
//! entry; PSTATE updates per "Process state, PSTATE" on taking an exception).
//!
//! The hypervisor writes `esr_el1`, `far_el1` (when `Some`), `elr_el1` and
//! `spsr_el1` into the guest's EL1 registers, then resumes the guest with
//! `ELR_EL2 = pc` and `SPSR_EL2 = pstate`.

use crate::abort::fsc;
use crate::esr::{ec, Esr};
use crate::pstate;

/// SCTLR_EL1.SPAN (bit 23): 0 = set PSTATE.PAN on exception entry to EL1.
/// RES1 on CPUs without FEAT_PAN (e.g. Cortex-A72), so PAN stays untouched.
const SCTLR_SPAN: u64 = 1 << 23;
/// SCTLR_EL1.DSSBS (bit 44): PSTATE.SSBS on exception entry to EL1.
/// RES0 without FEAT_SSBS, giving SSBS = 0.
const SCTLR_DSSBS: u64 = 1 << 44;

/// ISS\[6\] WnR of a data abort.
const ISS_WNR: u32 = 1 << 6;

/// The register values that deliver an exception to the guest's EL1.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Injection {
    /// Syndrome for ESR_EL1.
    pub esr_el1: u64,
    /// Fault address for FAR_EL1; `None` leaves FAR_EL1 alone (it is
    /// UNKNOWN for exceptions that do not report an address).
    pub far_el1: Option<u64>,
    /// Preferred return address: the faulting instruction.
    pub elr_el1: u64,
    /// The guest's PSTATE at the time of the exception.
    pub spsr_el1: u64,
    /// Where the guest resumes: VBAR_EL1 + vector offset (ELR_EL2).
    pub pc: u64,
    /// PSTATE the handler runs with (SPSR_EL2 for the ERET).
    pub pstate: u64,
}

/// Where the exception was taken from, which picks the vector and the
/// "lower" vs "same" EL exception class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Origin {
    /// EL1 using SP_EL0: "current EL with SP_EL0" vectors, offset 0x000.
    El1t,
    /// EL1 using SP_EL1: "current EL with SP_ELx" vectors, offset 0x200.
    El1h,
    /// AArch64 EL0: "lower EL using AArch64" vectors, offset 0x400.
    El0A64,
    /// AArch32 EL0: "lower EL using AArch32" vectors, offset 0x600.
    El0A32,
}

impl Origin {
    fn of(pstate: u64) -> Origin {
        if pstate & pstate::M_AARCH32 != 0 {
            // The guest's EL1 is AArch64, so any AArch32 state is EL0.
            return Origin::El0A32;
        }
        // M[3:2] = EL, M[0] = SP select. A guest never runs above EL1, so
        // any non-zero EL is treated as EL1.
        match (pstate >> 2 & 3, pstate & 1) {
            (0, _) => Origin::El0A64,
            (_, 0) => Origin::El1t,
            _ => Origin::El1h,
        }
    }

    fn vector_offset(self) -> u64 {
        match self {
            Origin::El1t => 0x000,
            Origin::El1h => 0x200,
            Origin::El0A64 => 0x400,
            Origin::El0A32 => 0x600,
        }
    }

    fn is_lower_el(self) -> bool {
        matches!(self, Origin::El0A64 | Origin::El0A32)
    }
}

/// PSTATE on entry to EL1h for an exception taken from `old`.
fn entry_pstate(old: u64, sctlr_el1: u64, from_aarch64: bool) -> u64 {
    // Unchanged by exception entry: NZCV, DIT, and PAN (unless SPAN says set).
    let mut new = old & (pstate::NZCV | pstate::DIT | pstate::PAN);
    if sctlr_el1 & SCTLR_SPAN == 0 {
        new |= pstate::PAN;
    }
    if sctlr_el1 & SCTLR_DSSBS != 0 {
        new |= pstate::SSBS;
    }
    if from_aarch64 {
        // ALLINT is only changed for NMI-related entries; FEAT_NMI is hidden
        // from guests (see id_regs), so it has no effect and is carried.
        new |= old & pstate::ALLINT;
    }
    // Cleared: SS, IL, BTYPE, UAO. TCO would be set with FEAT_MTE2, but MTE
    // is hidden from guests, so TCO stays 0 as on a CPU without MTE.
    new | pstate::DAIF | pstate::M_EL1H
}

/// Delivers a synchronous exception with the given syndrome to the guest's
/// EL1 vector table. The building block for the specific injections below
/// and for re-injecting debug exceptions.
pub fn inject_sync(
    pc: u64,
    pstate: u64,
    vbar_el1: u64,
    sctlr_el1: u64,
    esr_el1: u64,
    far_el1: Option<u64>,
) -> Injection {
    let origin = Origin::of(pstate);
    Injection {
        esr_el1,
        far_el1,
        elr_el1: pc,
        spsr_el1: pstate,
        // VBAR_EL1[10:0] are RES0; mask them so a stray bit cannot misalign.
        pc: (vbar_el1 & !0x7FF) + origin.vector_offset(),
        pstate: entry_pstate(pstate, sctlr_el1, origin != Origin::El0A32),
    }
}

/// The exception class seen by EL1: the "lower EL" variant when the guest
/// was at EL0, the "same EL" variant when it was at EL1.
pub fn class_for(pstate: u64, lower: u8, same: u8) -> u8 {
    if Origin::of(pstate).is_lower_el() {
        lower
    } else {
        same
    }
}

/// UNDEFINED instruction at `pc`: EC 0x00 ("unknown reason"), IL=1, ISS=0.
pub fn inject_undefined(pc: u64, pstate: u64, vbar_el1: u64, sctlr_el1: u64) -> Injection {
    let esr = Esr::new(ec::UNKNOWN, true, 0);
    inject_sync(pc, pstate, vbar_el1, sctlr_el1, esr.0, None)
}

/// Synchronous external abort on a data access to `far`, not on a table
/// walk: DFSC=0x10, ISV=0, FnV=0 (FAR valid), EA=0, S1PTW=0, CM=0,
/// SET=0b00 (recoverable), WnR = `write`, IL=1.
pub fn inject_data_abort(
    pc: u64,
    pstate: u64,
    vbar_el1: u64,
    sctlr_el1: u64,
    far: u64,
    write: bool,
) -> Injection {
    let class = class_for(pstate, ec::DABT_LOW, ec::DABT_CUR);
    let wnr = if write { ISS_WNR } else { 0 };
    let esr = Esr::new(class, true, wnr | fsc::SYNC_EXTERNAL as u32);
    inject_sync(pc, pstate, vbar_el1, sctlr_el1, esr.0, Some(far))
}

/// Synchronous external abort on an instruction fetch from `far`, not on a
/// table walk: IFSC=0x10, IL=1.
pub fn inject_instr_abort(
    pc: u64,
    pstate: u64,
    vbar_el1: u64,
    sctlr_el1: u64,
    far: u64,
) -> Injection {
    let class = class_for(pstate, ec::IABT_LOW, ec::IABT_CUR);
    let esr = Esr::new(class, true, fsc::SYNC_EXTERNAL as u32);
    inject_sync(pc, pstate, vbar_el1, sctlr_el1, esr.0, Some(far))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VBAR: u64 = 0xFFFF_8000_1001_0800;
    const PC: u64 = 0xFFFF_8000_1234_5678;
    /// SCTLR_EL1 with SPAN=1 and DSSBS=0: neither rule fires.
    const SCTLR_PLAIN: u64 = SCTLR_SPAN;

    /// EL1h + DAIF: what every injected PSTATE carries at least.
    const BASE: u64 = 0x3C5;

    #[test]
    fn undefined_from_el0_uses_lower_el_vector() {
        let old = 0x2000_0000; // EL0t, C flag set, interrupts unmasked
        let inj = inject_undefined(PC, old, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.esr_el1, 0x0200_0000); // EC=0, IL=1
        assert_eq!(inj.far_el1, None);
        assert_eq!(inj.elr_el1, PC);
        assert_eq!(inj.spsr_el1, old);
        assert_eq!(inj.pc, VBAR + 0x400);
        assert_eq!(inj.pstate, 0x2000_0000 | BASE);
    }

    #[test]
    fn undefined_from_el1t_and_el1h() {
        assert_eq!(inject_undefined(PC, 0x4, VBAR, SCTLR_PLAIN).pc, VBAR);
        assert_eq!(
            inject_undefined(PC, 0x5, VBAR, SCTLR_PLAIN).pc,
            VBAR + 0x200
        );
    }

    #[test]
    fn aarch32_el0_uses_the_aarch32_vector() {
        // User mode (M=0b10000), T32.
        let inj = inject_undefined(PC, 0x30, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.pc, VBAR + 0x600);
        assert_eq!(inj.pstate, BASE);
    }

    #[test]
    fn data_abort_class_follows_the_origin() {
        let far = 0x0900_0000;
        let el0 = inject_data_abort(PC, 0x0, VBAR, SCTLR_PLAIN, far, false);
        assert_eq!(el0.esr_el1, 0x9200_0010); // EC 0x24, IL, DFSC 0x10
        assert_eq!(el0.far_el1, Some(far));
        assert_eq!(el0.pc, VBAR + 0x400);

        let el1h = inject_data_abort(PC, 0x5, VBAR, SCTLR_PLAIN, far, true);
        assert_eq!(el1h.esr_el1, 0x9600_0050); // EC 0x25, IL, WnR, DFSC 0x10
        assert_eq!(el1h.pc, VBAR + 0x200);

        let el1t = inject_data_abort(PC, 0x4, VBAR, SCTLR_PLAIN, far, false);
        assert_eq!(el1t.esr_el1, 0x9600_0010);
        assert_eq!(el1t.pc, VBAR);
    }

    #[test]
    fn instruction_abort_class_follows_the_origin() {
        let el0 = inject_instr_abort(PC, 0x0, VBAR, SCTLR_PLAIN, PC);
        assert_eq!(el0.esr_el1, 0x8200_0010); // EC 0x20
        assert_eq!(el0.far_el1, Some(PC));
        let el1 = inject_instr_abort(PC, 0x5, VBAR, SCTLR_PLAIN, PC);
        assert_eq!(el1.esr_el1, 0x8600_0010); // EC 0x21
    }

    #[test]
    fn pan_is_set_when_span_is_clear_and_kept_otherwise() {
        let set = inject_undefined(PC, 0x0, VBAR, 0);
        assert_eq!(set.pstate & pstate::PAN, pstate::PAN);
        let kept_clear = inject_undefined(PC, 0x0, VBAR, SCTLR_SPAN);
        assert_eq!(kept_clear.pstate & pstate::PAN, 0);
        let kept_set = inject_undefined(PC, pstate::PAN, VBAR, SCTLR_SPAN);
        assert_eq!(kept_set.pstate & pstate::PAN, pstate::PAN);
    }

    #[test]
    fn ssbs_comes_from_dssbs_not_the_old_pstate() {
        let on = inject_undefined(PC, 0x0, VBAR, SCTLR_SPAN | SCTLR_DSSBS);
        assert_eq!(on.pstate & pstate::SSBS, pstate::SSBS);
        let off = inject_undefined(PC, pstate::SSBS, VBAR, SCTLR_SPAN);
        assert_eq!(off.pstate & pstate::SSBS, 0);
    }

    #[test]
    fn entry_clears_ss_il_btype_uao_tco_and_keeps_dit_and_allint() {
        let old = pstate::SS
            | pstate::IL
            | pstate::BTYPE
            | pstate::UAO
            | pstate::TCO
            | pstate::DIT
            | pstate::ALLINT
            | pstate::M_EL1H;
        let inj = inject_undefined(PC, old, VBAR, SCTLR_PLAIN);
        assert_eq!(inj.pstate, BASE | pstate::DIT | pstate::ALLINT);
        assert_eq!(inj.spsr_el1, old);
    }

    #[test]
    fn vbar_low_bits_are_ignored() {
        let inj = inject_undefined(PC, 0x5, 0x4000_0000 | 0x7FF, SCTLR_PLAIN);
        assert_eq!(inj.pc, 0x4000_0200);
    }
}
