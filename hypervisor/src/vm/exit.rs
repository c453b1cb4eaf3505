//! Exit dispatch: why the guest stopped (ESR_EL2.EC) and what to do about it.

use super::{mmio, psci, VcpuState, Vm};
use crate::arch::aarch64::context::{
    live_vbar_sctlr, live_vtimer, write_exception_registers, GuestRegs,
};
use crate::arch::aarch64::el2::Syndrome;
use crate::arch::aarch64::id_regs;
use crate::sched::machine;
use aerie_trap::{Exit, Injection, WfxKind};

/// Exit kinds as vectors.S passes them.
const KIND_SYNC: u64 = 0;
const KIND_IRQ: u64 = 1;
const KIND_FIQ: u64 = 2;
const KIND_SERROR: u64 = 3;

/// What the handler wants next.
pub enum Outcome {
    /// Re-enter the same vCPU.
    Resume,
    /// Let the scheduler choose (the vCPU yielded, blocked or stopped).
    Reschedule,
}

/// Called by vectors.S for every exit that left the assembly fast path.
/// Returns the register block of the vCPU to enter.
///
/// Emulated MMIO is the commonest exit of a running guest, so it is tried
/// first with as little around it as possible; everything else goes to
/// [`exit_slow`], kept out of line so its register pressure and stack frame
/// are not paid by the MMIO path.
#[no_mangle]
pub extern "C" fn aerie_exit(regs: *mut GuestRegs, kind: u64) -> *mut GuestRegs {
    if kind == KIND_SYNC {
        let syndrome = Syndrome::read();
        if (syndrome.esr >> 26) as u8 == aerie_trap::ec::DABT_LOW {
            // SAFETY: the only Aerie code running; exceptions are masked at EL2.
            let m = unsafe { machine() };
            let (v, c) = m.current;
            if mmio::emulate(&mut m.vms[v], c, &syndrome) {
                return regs;
            }
        }
    }
    exit_slow(regs, kind)
}

#[inline(never)]
fn exit_slow(regs: *mut GuestRegs, kind: u64) -> *mut GuestRegs {
    // SAFETY: the only Aerie code running; exceptions are masked at EL2.
    let m = unsafe { machine() };
    let (v, c) = m.current;
    let outcome = handle(&mut m.vms[v], c, kind);
    match outcome {
        Outcome::Resume => regs,
        Outcome::Reschedule => {
            // A stopped or freshly reset VM: its old CPU state is void.
            if !m.vms[v].running() || m.vms[v].flush_tlb {
                m.unload_vm(v);
            }
            m.schedule()
        }
    }
}

fn handle(vm: &mut Vm, c: usize, kind: u64) -> Outcome {
    match kind {
        KIND_SYNC => handle_sync(vm, c, Syndrome::read()),
        KIND_IRQ | KIND_FIQ => {
            // Nothing routes physical interrupts here yet (the GIC is not
            // enabled); a stray one is harmless.
            log::debug!("vm {}: stray physical interrupt exit", vm.name);
            Outcome::Resume
        }
        KIND_SERROR => {
            log::error!(
                "vm {}: SError from the guest (ESR {:#x})",
                vm.name,
                Syndrome::read().esr
            );
            vm.stop("stopped after an SError");
            Outcome::Reschedule
        }
        _ => {
            log::error!(
                "vm {}: exception from AArch32 state, which Aerie does not run",
                vm.name
            );
            vm.stop("stopped: AArch32 is not supported");
            Outcome::Reschedule
        }
    }
}

fn handle_sync(vm: &mut Vm, c: usize, syndrome: Syndrome) -> Outcome {
    match aerie_trap::decode(syndrome.esr) {
        // Emulation was tried (and refused) on the fast path.
        Exit::DataAbort(abort) => mmio::unhandled(vm, c, &syndrome, &abort),
        Exit::Hvc { .. } => psci::call(vm, c),
        Exit::Smc { .. } => {
            // A trapped SMC returns to the SMC itself: step over it.
            vm.vcpus[c].regs.pc += 4;
            psci::call(vm, c)
        }
        Exit::SysReg(access) => {
            let vcpu = &mut vm.vcpus[c];
            let reg = access.reg;
            if access.is_read && reg.is_id_group3() {
                let value = aerie_trap::sanitize_id_register(reg, id_regs::read(reg.crm, reg.op2));
                vcpu.regs.set(access.rt, value);
                vcpu.regs.pc += 4;
                return Outcome::Resume;
            }
            log::debug!(
                "vm {} vcpu {c}: {} of {reg}: UNDEFINED",
                vm.name,
                if access.is_read { "read" } else { "write" }
            );
            inject(vm, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
            })
        }
        Exit::Wfx(kind) => wait(vm, c, kind),
        Exit::InstrAbort { .. } => {
            let far = syndrome.far;
            log::warn!("vm {} vcpu {c}: instruction fetch from unmapped IPA {:#x}: external abort injected", vm.name, syndrome.fault_ipa());
            inject(vm, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_instr_abort(pc, pstate, vbar, sctlr, far)
            })
        }
        other => {
            log::warn!(
                "vm {} vcpu {c}: unexpected exit {other:?} at pc {:#x}: UNDEFINED injected",
                vm.name,
                vm.vcpus[c].regs.pc
            );
            inject(vm, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
            })
        }
    }
}

/// WFI / WFE: give the pCPU up. WFI with the virtual timer armed blocks until
/// its deadline (or completes at once if the timer has fired: a pending
/// interrupt ends WFI even when PSTATE masks it). WFI with nothing that could
/// wake it and WFE are yields: the architecture allows them to complete
/// spuriously, and the vCPU runs again on its next turn.
fn wait(vm: &mut Vm, c: usize, kind: WfxKind) -> Outcome {
    let vcpu = &mut vm.vcpus[c];
    vcpu.regs.pc += 4;
    if matches!(kind, WfxKind::Wfi | WfxKind::Wfit(_)) {
        let (ctl, cval) = live_vtimer();
        let armed = ctl & 0b11 == 0b01; // ENABLE and not IMASK
        if armed {
            if ctl & 0b100 != 0 {
                return Outcome::Resume; // ISTATUS: already fired
            }
            vcpu.state = VcpuState::Blocked { until: cval };
        }
    }
    Outcome::Reschedule
}

/// Inject a synchronous exception built by `make(pc, pstate, vbar, sctlr)`.
pub(super) fn inject(
    vm: &mut Vm,
    c: usize,
    make: impl FnOnce(u64, u64, u64, u64) -> Injection,
) -> Outcome {
    let regs = &mut vm.vcpus[c].regs;
    let (vbar, sctlr) = live_vbar_sctlr();
    let i = make(regs.pc, regs.pstate, vbar, sctlr);
    write_exception_registers(i.esr_el1, i.far_el1, i.elr_el1, i.spsr_el1);
    regs.pc = i.pc;
    regs.pstate = i.pstate;
    Outcome::Resume
}
