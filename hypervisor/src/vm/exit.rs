//! Exit dispatch: why the guest stopped (ESR_EL2.EC) and what to do about it.

use super::virtio::{VirtioSlot, VmRam, VIRTIO_FIRST_INTID};
use super::{irq, mmio, psci, VcpuState, UART_INTID};
use crate::arch::aarch64::context::{
    live_vbar_sctlr, live_vtimer, write_exception_registers, GuestRegs,
};
use crate::arch::aarch64::el2::Syndrome;
use crate::arch::aarch64::{cpu, gic, id_regs};
use crate::irq::pnmi::Interrupted;
use crate::irq::NmiWindow;
use crate::sched::{self, drain_host_interrupts, this_cpu, HostEvents, Machine};
use aerie_firmware::IdleKind;
use aerie_trap::{Exit, Injection, SysReg, WfxKind};

/// Exit kinds as vectors.S passes them.
const KIND_SYNC: u64 = 0;
const KIND_IRQ: u64 = 1;
const KIND_FIQ: u64 = 2;
const KIND_SERROR: u64 = 3;

/// ICC_SGI1R_EL1: a guest's SGI, which the GIC cannot virtualise.
pub(super) const ICC_SGI1R_EL1: SysReg = SysReg {
    op0: 3,
    op1: 0,
    crn: 12,
    crm: 11,
    op2: 5,
};

/// What the handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Re-enter the same vCPU.
    Resume,
    /// Let the scheduler choose (the vCPU yielded, blocked or stopped).
    Reschedule,
    /// This pCPU claimed a disk's waiting requests (`Pcpu::disk_work`):
    /// serve them first (`vm::block::serve`), then resume the vCPU, or let
    /// the scheduler choose if `reschedule` or the disk used up the turn.
    ServeDisk { reschedule: bool },
}

/// The pCPU running the vCPU whose register block is `regs`.
///
/// The register block is the start of the running vCPU, whose state says
/// which pCPU it runs on; only this pCPU writes the state of a vCPU running
/// on it, so the unlocked read is stable.
#[inline(always)]
pub(super) fn locate(regs: *mut GuestRegs) -> (usize, usize, usize) {
    let vcpu = regs as *const super::Vcpu;
    // SAFETY: TPIDR_EL2 (hence `regs`) points at a live, boxed Vcpu whose
    // first field is its GuestRegs (repr(C)); `vm` and `index` never
    // change after creation, `state` only on this pCPU.
    let (state, v, c) = unsafe { ((*vcpu).state, (*vcpu).vm, (*vcpu).index) };
    let cpu = match state {
        VcpuState::Running(p) => p,
        _ => this_cpu(),
    };
    (cpu, v, c)
}

/// The synchronous-exit fast path (vectors.S `lower_sync_exit`): an
/// emulated PL011 access, the commonest exit of a running guest, a GIC
/// register access that concerns no interrupt ([`quiet_gic_access`]), or
/// a system-register trap that concerns the vCPU alone (`sysreg_fast`).
/// Only x0..x18, x29, x30, PC and PSTATE are in `regs`; x19..x28 are live
/// in the CPU, so any access naming one of them is declined, as is
/// anything needing more (a UART access with interrupts in flight, another
/// device).
/// Returns `regs` when handled, null when the full path must run.
#[no_mangle]
pub extern "C" fn aerie_exit_fast(regs: *mut GuestRegs) -> *mut GuestRegs {
    let syndrome = Syndrome::read();
    if (syndrome.esr >> 26) as u8 == aerie_trap::ec::SYSREG {
        return super::sysreg_fast::serve(regs, syndrome.esr);
    }
    if (syndrome.esr >> 26) as u8 != aerie_trap::ec::DABT_LOW
        || (19..=28).contains(&((syndrome.esr >> 16) & 0x1f))
    {
        return core::ptr::null_mut();
    }
    if syndrome.fault_ipa_page() != super::UART_BASE >> 12 {
        // A GICv2 build's guests send SGIs by distributor writes: not even
        // the call for them.
        if crate::arch::aarch64::gic_v2::active() {
            return core::ptr::null_mut();
        }
        return quiet_gic_access(regs);
    }
    let (cpu, v, c) = locate(regs);
    let _window = NmiWindow::open();
    let mut guard = sched::lock();
    let m = &mut *guard;
    let lrs = m.list_registers;
    let vm = &mut m.vms[v];
    let vcpu = &vm.vcpus[c];
    if vcpu.lrs_used != 0 || vcpu.vtimer_forwarded {
        return core::ptr::null_mut();
    }
    match mmio::emulate_uart(vm, c, &syndrome) {
        Some(false) => {}
        Some(true) => uart_interrupt_work(m, cpu, v, c, lrs),
        None => return core::ptr::null_mut(),
    }
    // SAFETY: `regs` is this vCPU's block (see `locate`); only this pCPU
    // writes it, and no reference to it is live here.
    if unsafe { (*regs).stepped } {
        stepped(m, v, c);
    }
    regs
}

/// A GIC register access that reads or changes no interrupt's state
/// (`mmio::is_quiet_gic_access`): the ID registers, GICD_CTLR reads and
/// GICR_WAKER, which Linux's GICv3 driver writes and polls at every
/// power-down idle entry and exit of every vCPU (with GICD_CTLR.DS = 1, as
/// a virtual GIC has it). Served by `mmio::emulate`, as the full path
/// would, but without its list-register sync and flush: nothing here
/// concerns them, whatever they hold.
///
/// Out of line, reading the syndrome again: the other fast paths then keep
/// theirs in registers and need no stack frame.
#[inline(never)]
fn quiet_gic_access(regs: *mut GuestRegs) -> *mut GuestRegs {
    let syndrome = &Syndrome::read();
    if !mmio::may_be_gic(syndrome.fault_ipa()) {
        return core::ptr::null_mut();
    }
    let (cpu, v, c) = locate(regs);
    let _window = NmiWindow::open();
    let mut guard = sched::lock();
    let m = &mut *guard;
    if !mmio::is_quiet_gic_access(&m.vms[v], syndrome) {
        return core::ptr::null_mut();
    }
    // A refused access (a wrong width) changed nothing: the full path
    // refuses it again and injects the abort. A quiet one has no other
    // outcome than Resume.
    let Some(Outcome::Resume) = mmio::emulate(m, cpu, v, c, syndrome) else {
        return core::ptr::null_mut();
    };
    if m.vms[v].vcpus[c].regs.stepped {
        stepped(m, v, c);
    }
    regs
}

/// The PL011's line or input changed on the fast path: the vGIC and the
/// list registers need updating (kept out of line: rare, and it would cost
/// the fast path registers).
#[cold]
#[inline(never)]
fn uart_interrupt_work(m: &mut Machine, cpu: usize, v: usize, c: usize, lrs: usize) {
    update_uart_irq(m, cpu, v);
    irq::flush(&mut m.vms[v], c, lrs);
}

/// Called by vectors.S for every exit the fast paths did not take, with the
/// guest's registers all in `regs`. Returns the register block of the vCPU
/// to enter (it may be another vCPU's).
#[no_mangle]
pub extern "C" fn aerie_exit(regs: *mut GuestRegs, kind: u64) -> *mut GuestRegs {
    let (cpu, v, c) = locate(regs);
    // Host interrupts are taken while PSTATE.I is still set and the priority
    // mask still open (they are what made the guest exit): pseudo-NMIs are
    // handled right there, with the guest as the interrupted context.
    let events = if kind == KIND_IRQ || kind == KIND_FIQ {
        // SAFETY: `regs` is the running vCPU's register block (see locate).
        let pc = unsafe { (*regs).pc };
        drain_host_interrupts(Interrupted::Guest { vm: v, vcpu: c, pc })
    } else {
        HostEvents::default()
    };
    // The rest runs with regular interrupts masked by the priority mask and
    // PSTATE.I clear; the window closes (I set, mask open) on return.
    let _window = NmiWindow::open();
    let mut guard = sched::lock();
    let m = &mut *guard;
    let kick = irq::sync(&mut m.vms[v], c);
    if !kick.is_empty() {
        m.kick(cpu, v, kick);
    }
    exit_slow(guard, cpu, regs, kind, events)
}

#[inline(never)]
fn exit_slow(
    mut guard: sched::MachineGuard,
    cpu: usize,
    regs: *mut GuestRegs,
    kind: u64,
    events: HostEvents,
) -> *mut GuestRegs {
    let m = &mut *guard;
    let (v, c) = m.current(cpu);
    m.pcpus[cpu].exits += 1;
    let mut outcome = handle(m, cpu, v, c, kind, events);
    if let Outcome::ServeDisk { reschedule } = outcome {
        let (g, turn_over) = super::block::serve(guard, cpu);
        guard = g;
        outcome = if reschedule || turn_over {
            Outcome::Reschedule
        } else {
            Outcome::Resume
        };
    }
    let m = &mut *guard;
    // SAFETY: `regs` is this vCPU's block (see `locate`); only this pCPU
    // writes it, and no reference to it is live here.
    if unsafe { (*regs).stepped } {
        stepped(m, v, c);
    }
    if !m.vms[v].running() {
        // Stopping or resetting: this vCPU leaves its pCPU now.
        m.vms[v].vcpus[c].state = VcpuState::Off;
        outcome = Outcome::Reschedule;
    }
    let regs = match outcome {
        Outcome::Resume | Outcome::ServeDisk { .. } => regs,
        Outcome::Reschedule => {
            let (g, regs) = Machine::schedule(guard, cpu);
            guard = g;
            regs
        }
    };
    let m = &mut *guard;
    let (v, c) = m.current(cpu);
    let lrs = m.list_registers;
    irq::flush(&mut m.vms[v], c, lrs);
    regs
}

fn handle(
    m: &mut Machine,
    cpu: usize,
    v: usize,
    c: usize,
    kind: u64,
    events: HostEvents,
) -> Outcome {
    match kind {
        KIND_SYNC => handle_sync(m, cpu, v, c, Syndrome::read()),
        KIND_IRQ | KIND_FIQ => {
            if events.vtimer {
                // Only this vCPU is concerned, and it is about to re-enter.
                irq::forward_vtimer(&mut m.vms[v], c);
            }
            if events.input {
                m.console_input(cpu);
            }
            if events.uplink {
                crate::vm::net::receive_uplink(m, cpu);
            }
            if events.disk {
                super::block::host_completions(m, cpu);
            }
            if events.power_button {
                m.shut_down(cpu, "the machine's power button");
            }
            let reschedule = events.tick && m.tick(cpu);
            if events.tick && m.vms[v].disk_waiting && super::block::claim_waiting(m, cpu, v) {
                Outcome::ServeDisk { reschedule }
            } else if reschedule {
                Outcome::Reschedule
            } else {
                Outcome::Resume
            }
        }
        KIND_SERROR => {
            let vm = &mut m.vms[v];
            log::error!(
                "vm {}: SError from the guest (ESR {:#x})",
                vm.name,
                Syndrome::read().esr
            );
            vm.stop("stopped after an SError");
            Outcome::Reschedule
        }
        _ => {
            let vm = &mut m.vms[v];
            log::error!(
                "vm {}: exception from AArch32 state, which Aerie does not run",
                vm.name
            );
            vm.stop("stopped: AArch32 is not supported");
            Outcome::Reschedule
        }
    }
}

/// Aerie completed (emulated) an instruction the guest was single-stepping
/// (`GuestRegs::skip_instruction`): the step exception it owes is taken now.
#[cold]
#[inline(never)]
pub(super) fn stepped(m: &mut Machine, v: usize, c: usize) {
    m.vms[v].vcpus[c].regs.stepped = false;
    super::debug::emulated_instruction_stepped(m, v, c);
}

fn handle_sync(m: &mut Machine, cpu: usize, v: usize, c: usize, syndrome: Syndrome) -> Outcome {
    match aerie_trap::decode(syndrome.esr) {
        Exit::DataAbort(abort) => mmio::emulate(m, cpu, v, c, &syndrome)
            .unwrap_or_else(|| mmio::unhandled(m, v, c, &syndrome, &abort)),
        Exit::Hvc { .. } => psci::call(m, cpu, v, c),
        Exit::Smc { .. } => {
            // A trapped SMC returns to the SMC itself: step over it.
            m.vms[v].vcpus[c].regs.skip_instruction();
            psci::call(m, cpu, v, c)
        }
        Exit::SysReg(access) if access.reg.op0 == 2 => {
            super::debug::access(m, v, c, &access, syndrome.esr)
        }
        Exit::Brk { imm } => super::debug::brk(m, v, c, imm, &syndrome),
        Exit::Debug { .. } => super::debug::exception(m, v, c, &syndrome),
        Exit::SysReg(access) => {
            let reg = access.reg;
            let vm = &mut m.vms[v];
            let vcpu = &mut vm.vcpus[c];
            if access.is_read && reg.is_id_group3() {
                let value = id_regs::guest_value(reg);
                vcpu.regs.set(access.rt, value);
                vcpu.regs.skip_instruction();
                return Outcome::Resume;
            }
            if !access.is_read && reg == ICC_SGI1R_EL1 {
                let value = vcpu.regs.get(access.rt);
                vcpu.regs.skip_instruction();
                let kick = vm.vgic.send_sgi(c, value);
                m.kick(cpu, v, kick);
                return Outcome::Resume;
            }
            log::debug!(
                "vm {} vcpu {c}: {} of {reg}: UNDEFINED",
                vm.name,
                if access.is_read { "read" } else { "write" }
            );
            inject(m, v, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
            })
        }
        Exit::Wfx(kind) => wait(m, v, c, kind),
        Exit::InstrAbort { .. } => {
            let far = syndrome.far;
            let vm = &m.vms[v];
            log::warn!("vm {} vcpu {c}: instruction fetch from unmapped IPA {:#x}: external abort injected", vm.name, syndrome.fault_ipa());
            inject(m, v, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_instr_abort(pc, pstate, vbar, sctlr, far)
            })
        }
        other => {
            let vm = &m.vms[v];
            log::warn!(
                "vm {} vcpu {c}: unexpected exit {other:?} at pc {:#x}: UNDEFINED injected",
                vm.name,
                vm.vcpus[c].regs.pc
            );
            inject(m, v, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
            })
        }
    }
}

/// WFI / WFE. WFI idles (below); WFE is a yield: the architecture lets it
/// complete spuriously, and the vCPU runs again on its next turn.
fn wait(m: &mut Machine, v: usize, c: usize, kind: WfxKind) -> Outcome {
    m.vms[v].vcpus[c].regs.skip_instruction();
    if kind.is_wfe() {
        return Outcome::Reschedule;
    }
    idle(m, v, c, IdleKind::Wfi)
}

/// The vCPU idles in `kind` (a WFI, or a PSCI CPU_SUSPEND whose return
/// state is already in place). It goes on at once when an interrupt is
/// pending for it (even one PSTATE masks, as for WFI) or its virtual timer
/// has fired; otherwise it blocks until its timer's deadline or a kick.
pub(super) fn idle(m: &mut Machine, v: usize, c: usize, kind: IdleKind) -> Outcome {
    let vm = &mut m.vms[v];
    vm.vcpus[c].idle.entered(kind);
    if vm.vgic.pending_irq(c, gic::live_pmr()) {
        return Outcome::Resume;
    }
    let (ctl, cval) = live_vtimer();
    let armed = ctl & 0b11 == 0b01; // ENABLE and not IMASK
    if armed && ctl & 0b100 != 0 {
        return Outcome::Resume; // ISTATUS: it fires as soon as we return
    }
    let until = armed.then(|| cval.saturating_add(vm.cntvoff));
    vm.vcpus[c].state = VcpuState::Blocked { until };
    vm.vcpus[c].idle.block(kind, cpu::counter());
    Outcome::Reschedule
}

/// Inject a synchronous exception built by `make(pc, pstate, vbar, sctlr)`.
pub(super) fn inject(
    m: &mut Machine,
    v: usize,
    c: usize,
    make: impl FnOnce(u64, u64, u64, u64) -> Injection,
) -> Outcome {
    let regs = &mut m.vms[v].vcpus[c].regs;
    let (vbar, sctlr) = live_vbar_sctlr();
    let i = make(regs.pc, regs.pstate, vbar, sctlr);
    write_exception_registers(i.esr_el1, i.far_el1, i.elr_el1, i.spsr_el1);
    regs.pc = i.pc;
    regs.pstate = i.pstate;
    Outcome::Resume
}

/// After an emulated access to the PL011 or new console input: move waiting
/// input into its receive FIFO and give its interrupt line's new level to
/// the vGIC.
#[inline(always)]
pub fn update_uart_irq(m: &mut Machine, cpu: usize, v: usize) {
    let vm = &m.vms[v];
    if vm.input.is_empty() && vm.uart.irq_level() == vm.uart_irq {
        return; // the common case: a register read that changed nothing
    }
    update_uart_irq_slow(m, cpu, v);
}

#[inline(never)]
fn update_uart_irq_slow(m: &mut Machine, cpu: usize, v: usize) {
    let vm = &mut m.vms[v];
    while vm.uart.can_accept_input() {
        let Some(b) = vm.input.pop_front() else { break };
        vm.uart.push_input(b);
    }
    let level = vm.uart.irq_level();
    if level != vm.uart_irq {
        vm.uart_irq = level;
        let kick = vm.vgic.set_spi_level(UART_INTID, level);
        m.kick(cpu, v, kick);
    }
}

/// Console input for the VM's virtio console too (the guest may use either).
pub fn console_input(m: &mut Machine, cpu: usize, v: usize, bytes: &[u8]) {
    let vm = &mut m.vms[v];
    let (Some(ram), Some(VirtioSlot::Console(console))) =
        (vm.memory.as_ref(), vm.virtio.first_mut())
    else {
        return;
    };
    if console.push_input(bytes, &mut VmRam(ram)).raise_irq {
        let kick = vm.vgic.pulse_spi(VIRTIO_FIRST_INTID);
        m.kick(cpu, v, kick);
    }
}
