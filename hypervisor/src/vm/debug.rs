//! The guest's self-hosted debug, virtualised.
//!
//! Every debug register access traps (MDCR_EL2.TDA, TDOSA, TDRA) and is
//! served from the vCPU's `VirtualDebug`: the guest reads back what it
//! wrote, and the hardware holds a sanitised image while the vCPU runs
//! (`arch::aarch64::debug_regs`). A VM with no backdoor owns the registers
//! TDA covers instead, from its first access to one until the vCPU leaves
//! its pCPU ([`give`]). The DCC registers are the backdoor's
//! first transport; everything else about them is architectural: an empty
//! channel, and UNDEFINED for an EL0 access while the guest's MDSCR_EL1.TDCC
//! is set (the hardware's TDCC stays clear so such accesses reach Aerie).
//!
//! With a BRK transport configured, MDCR_EL2.TDE routes every debug
//! exception here. A BRK with the VM's backdoor immediate is a request;
//! every other BRK, breakpoint, watchpoint and software step is re-injected
//! into the guest's EL1 as the hardware would have delivered it
//! (`aerie_trap::inject_debug`). With TDE the hardware also generates
//! breakpoint, watchpoint and step exceptions from EL1 that the guest
//! disabled (MDSCR_EL1.KDE = 0 or PSTATE.D = 1): those are absorbed. A
//! spurious step just lets one more instruction run (PSTATE.SS = 1); a
//! spurious breakpoint or watchpoint steps the guest over the instruction
//! with the hardware's points disabled, and the step exception that ends
//! the step restores them.

use super::exit::{inject, Outcome};
use super::guest_va::GuestVirtual;
use crate::arch::aarch64::{context::live_spsr_el1, debug_regs, el2::Syndrome};
use crate::sched::Machine;
use aerie_backdoor::GuestVa;
use aerie_trap::{ec, pstate, DebugReg, Esr, HwUpdate, SysRegAccess, VirtualDebug};

/// A trapped debug-register access (op0 = 2) of vCPU `c` of VM `v`; `esr`
/// is its syndrome.
pub fn access(m: &mut Machine, v: usize, c: usize, access: &SysRegAccess, esr: u64) -> Outcome {
    let (brps, wrps) = debug_regs::counts();
    let Some(reg) = DebugReg::decode(access.reg, brps, wrps) else {
        return undefined(m, v, c);
    };
    if reg == DebugReg::Dcc {
        return dcc(m, v, c, access, esr);
    }
    if is_undefined(reg, access) {
        return undefined(m, v, c);
    }
    if !give(m, v, c, reg) {
        emulate(m, v, c, reg, access);
    }
    Outcome::Resume
}

/// A VM with no backdoor owns the debug registers MDCR_EL2.TDA covers
/// while its vCPU is loaded: the first trapped access to one gives them
/// all to the guest (`debug_regs::give_to_guest`) and is then made again
/// by the hardware (the caller resumes the vCPU without stepping over
/// it); the vCPU's save takes them back. Linux rewrites every breakpoint
/// and watchpoint on each wake-up from a power-down idle state: one trap
/// instead of some twenty. A VM with a backdoor keeps them all trapped:
/// its DCC carries requests and its MDSCR_EL1.TDCC must not reach the
/// hardware, and with a BRK transport its debug target is EL2. True when
/// given. Inlined, it costs a VM with a backdoor two tests.
#[inline(always)]
pub(super) fn give(m: &mut Machine, v: usize, c: usize, reg: DebugReg) -> bool {
    let covered = matches!(
        reg,
        DebugReg::Bvr(_)
            | DebugReg::Bcr(_)
            | DebugReg::Wvr(_)
            | DebugReg::Wcr(_)
            | DebugReg::Mdscr
            | DebugReg::DbgClaimSet
            | DebugReg::DbgClaimClr
            | DebugReg::Storage(aerie_trap::debug_regs::MDCCINT_SLOT)
    );
    if !covered || m.vms[v].backdoor.is_some() {
        return false;
    }
    give_to_guest(m, v, c);
    true
}

#[cold]
#[inline(never)]
fn give_to_guest(m: &mut Machine, v: usize, c: usize) {
    let vcpu = &mut m.vms[v].vcpus[c];
    debug_regs::give_to_guest(&vcpu.debug);
    vcpu.debug_owned = true;
}

/// Whether the guest's access to `reg` is UNDEFINED (a read of a
/// write-only register, a write of a read-only one).
pub(super) fn is_undefined(reg: DebugReg, access: &SysRegAccess) -> bool {
    if access.is_read {
        VirtualDebug::read_undefined(reg)
    } else {
        VirtualDebug::write_undefined(reg)
    }
}

/// The access to `reg` (defined for it, not the DCC) by the loaded vCPU
/// `c` of VM `v`, done and stepped over: a read from its image into Rt; a
/// write into the image and from there into the hardware. For the full
/// path and `sysreg_fast` alike (the caller deals with a pending step).
pub(super) fn emulate(m: &mut Machine, v: usize, c: usize, reg: DebugReg, access: &SysRegAccess) {
    let vcpu = &mut m.vms[v].vcpus[c];
    vcpu.regs.skip_instruction();
    if access.is_read {
        vcpu.regs.set(access.rt, vcpu.debug.read(reg));
        return;
    }
    let update = vcpu.debug.write(reg, vcpu.regs.get(access.rt));
    debug_regs::load(&vcpu.debug, update);
    if update == HwUpdate::Mdscr {
        // Single-stepping decides whether the backdoor's fast path runs.
        super::backdoor::refresh_running_fast_path(m, v, c);
    }
}

/// MDCCSR_EL0, DBGDTR_EL0, DBGDTRRX/TX_EL0.
fn dcc(m: &mut Machine, v: usize, c: usize, access: &SysRegAccess, esr: u64) -> Outcome {
    if access.reg == aerie_trap::SysReg::MDCCSR_EL0
        && access.is_read
        && super::backdoor::serve(m, v, c)
    {
        m.vms[v].vcpus[c].regs.skip_instruction();
        return Outcome::Resume;
    }
    let vcpu = &mut m.vms[v].vcpus[c];
    let from_el0 = vcpu.regs.pstate & pstate::M_MASK == pstate::M_EL0T;
    if from_el0 && vcpu.debug.mdscr & aerie_trap::debug_regs::MDSCR_TDCC != 0 {
        // What the hardware would have done with the guest's MDSCR_EL1:
        // the access traps to EL1 with the same syndrome (EC 0x18; Arm ARM,
        // MDCCSR_EL0 pseudocode: AArch64.SystemAccessTrap(EL1, 0x18)).
        return inject(m, v, c, |pc, pstate, vbar, sctlr| {
            aerie_trap::inject_sync(pc, pstate, vbar, sctlr, esr, None)
        });
    }
    // An empty channel: nothing to read (MDCCSR_EL0.RXfull and TXfull
    // clear), room to write.
    if access.is_read {
        vcpu.regs.set(access.rt, 0);
    }
    vcpu.regs.skip_instruction();
    Outcome::Resume
}

/// BRK #imm (EC 0x3C), routed here by MDCR_EL2.TDE.
pub fn brk(m: &mut Machine, v: usize, c: usize, imm: u16, syndrome: &Syndrome) -> Outcome {
    let ours = m.vms[v]
        .backdoor
        .as_ref()
        .is_some_and(|b| b.policy.brk_imm == Some(imm));
    if ours && super::backdoor::serve(m, v, c) {
        // ELR_EL2 points at the BRK itself.
        m.vms[v].vcpus[c].regs.skip_instruction();
        return Outcome::Resume;
    }
    reinject(m, v, c, syndrome)
}

/// A breakpoint, software step or watchpoint exception (EC 0x30/0x32/0x34),
/// routed here by MDCR_EL2.TDE.
pub fn exception(m: &mut Machine, v: usize, c: usize, syndrome: &Syndrome) -> Outcome {
    let class = Esr(syndrome.esr).ec();
    let vcpu = &mut m.vms[v].vcpus[c];
    let d = &mut vcpu.debug;
    if d.stepping_over && class == ec::SOFTSTP_LOW {
        // The instruction under a disabled point has run (or the guest
        // took an exception at it): points and MDSCR_EL1 back as the guest
        // set them.
        set_stepping_over(m, v, c, false);
        return Outcome::Resume;
    }
    if let Some(from) = d.continued_from.take() {
        if class == ec::SOFTSTP_LOW
            && d.generated_natively(vcpu.regs.pstate)
            && was_eret_restoring_ss(m, v, from)
        {
            // Aerie let an ERET run (its EL had debug disabled). With the
            // debug target at EL1 that ERET would have set PSTATE.SS from
            // SPSR_EL1.SS (Arm ARM, DebugExceptionReturnSS: stepping was
            // disabled at the source and is enabled at the destination),
            // so the instruction it returns to runs before the step
            // exception. With TDE the source had stepping enabled, the
            // hardware cleared PSTATE.SS instead and stopped right there.
            m.vms[v].vcpus[c].regs.pstate |= pstate::SS;
            return Outcome::Resume;
        }
    }
    let vcpu = &mut m.vms[v].vcpus[c];
    let d = &mut vcpu.debug;
    if !d.generated_natively(vcpu.regs.pstate) {
        if class == ec::SOFTSTP_LOW {
            // The guest's MDSCR_EL1.SS stays armed while its EL1 has debug
            // disabled: let one more instruction run.
            d.continued_from = Some(vcpu.regs.pc);
            vcpu.regs.pstate |= pstate::SS;
        } else {
            vcpu.regs.pstate |= pstate::SS;
            set_stepping_over(m, v, c, true);
        }
        return Outcome::Resume;
    }
    reinject(m, v, c, syndrome)
}

/// Aerie completed (emulated) an instruction the vCPU executed with
/// PSTATE.SS = 1. If Aerie was stepping it over a disabled point, the step
/// is over. If the guest itself is stepping, with step exceptions enabled
/// where it now is, the hardware would have taken a Software Step
/// exception right after the instruction, with ISV = 1 and EX = 0 (it was
/// not a load-exclusive): deliver that, rather than let the hardware take
/// one on return with ISV = 0 ("no instruction was stepped").
pub fn emulated_instruction_stepped(m: &mut Machine, v: usize, c: usize) {
    let d = &mut m.vms[v].vcpus[c].debug;
    d.continued_from = None;
    if d.stepping_over {
        set_stepping_over(m, v, c, false);
    }
    let vcpu = &mut m.vms[v].vcpus[c];
    if vcpu.debug_owned {
        // The guest's MDSCR_EL1 is in the hardware.
        vcpu.debug.mdscr = debug_regs::live_mdscr();
    }
    let d = &vcpu.debug;
    if d.mdscr & aerie_trap::debug_regs::MDSCR_SS == 0 || !d.generated_natively(vcpu.regs.pstate) {
        return;
    }
    /// ISS of a Software Step exception: ISV, EX = 0, IFSC = debug.
    const STEP_ISS: u32 = (1 << 24) | 0x22;
    let class = aerie_trap::inject::class_for(vcpu.regs.pstate, ec::SOFTSTP_LOW, ec::SOFTSTP_CUR);
    let esr = Esr::new(class, true, STEP_ISS).0;
    let _ = inject(m, v, c, |pc, pstate, vbar, sctlr| {
        aerie_trap::inject_sync(pc, pstate, vbar, sctlr, esr, None)
    });
}

/// Starts or ends stepping vCPU `c` over one instruction with the
/// hardware's breakpoints and watchpoints off and MDSCR_EL1.SS on (the
/// caller sets PSTATE.SS when starting); the backdoor fast path is off
/// meanwhile.
fn set_stepping_over(m: &mut Machine, v: usize, c: usize, on: bool) {
    let d = &mut m.vms[v].vcpus[c].debug;
    d.stepping_over = on;
    debug_regs::load_points(d);
    debug_regs::load_mdscr(d);
    super::backdoor::refresh_running_fast_path(m, v, c);
}

/// Whether the instruction at guest EL1 address `pc` is an exception return
/// (ERET, ERETAA, ERETAB) and the guest's SPSR_EL1 (which an ERET leaves
/// unchanged) has SS set. The vCPU of VM `v` that trapped is the loaded
/// one: its EL1 state is live.
fn was_eret_restoring_ss(m: &Machine, v: usize, pc: u64) -> bool {
    const ERET: u32 = 0xD69F_03E0;
    const ERETAA: u32 = 0xD69F_0BFF;
    const ERETAB: u32 = 0xD69F_0FFF;
    let Some(mem) = m.vms[v].memory.as_ref() else {
        return false;
    };
    let mut word = [0u8; 4];
    if GuestVirtual::new(mem, false).read(pc, &mut word).is_err() {
        return false;
    }
    let insn = u32::from_le_bytes(word);
    [ERET, ERETAA, ERETAB].contains(&insn) && live_spsr_el1() & pstate::SS != 0
}

/// Deliver the debug exception to the guest's EL1 as the hardware would
/// have with MDCR_EL2.TDE = 0.
fn reinject(m: &mut Machine, v: usize, c: usize, syndrome: &Syndrome) -> Outcome {
    let (esr, far) = (syndrome.esr, syndrome.far);
    inject(m, v, c, |pc, pstate, vbar, sctlr| {
        aerie_trap::inject_debug(esr, far, pc, pstate, vbar, sctlr)
    })
}

fn undefined(m: &mut Machine, v: usize, c: usize) -> Outcome {
    inject(m, v, c, |pc, pstate, vbar, sctlr| {
        aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
    })
}
