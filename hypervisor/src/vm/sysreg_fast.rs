//! The synchronous-exit fast path for the commonest system-register traps:
//! reads of the ID registers (HCR_EL2.TID3), accesses to the debug
//! registers but the DCC (MDCR_EL2.TDA, TDOSA), and SGIs (ICC_SGI1R_EL1,
//! which the GIC cannot virtualise).
//!
//! Why: a Linux guest makes dozens of the first two each time a vCPU wakes
//! from a PSCI power-down state. Its resume path reads ID registers,
//! `hw_breakpoint_reset` rewrites every breakpoint and watchpoint
//! register, and `cpu_do_suspend` and `cpu_do_resume` save and restore
//! MDSCR_EL1, OSDLR_EL1 and the OS lock at every idle entry of that kind.
//! On the full path each one cost a whole exit, and while an interrupt
//! waited in a list register (the one that woke the vCPU, held until its
//! guest unmasks) a list-register sync and flush besides. SGIs are every
//! inter-processor interrupt of an SMP guest. The DCC registers are the
//! backdoor's transport and go the full path (GETVERSION has its own fast
//! path in the exit vector), as do UNDEFINED accesses, which inject.
//!
//! Like the PL011's fast path (`exit::aerie_exit_fast`), this runs with
//! only x0..x18, x29 and x30 in the register block, so an access naming
//! x19..x28 is declined. The ID and debug registers leave the list
//! registers alone: nothing there raises or takes an interrupt, and what
//! the guest did with them meanwhile reaches the vGIC at the next full
//! exit, as it would have had the guest not trapped. So does an SGI to
//! other vCPUs, which changes only their vGIC state. An SGI that names the
//! sender itself is news for its own list registers: it is served only
//! when the vGIC's view of this vCPU is whole (no list register in use, no
//! virtual timer forwarded), as the PL011's path requires, and the list
//! registers are then flushed as the full exit would. Everything else is
//! as the full path serves them (`exit::handle_sync`, `debug::access`),
//! through the same functions: the sanitised ID value; the guest's image
//! of the point and the hardware's copy of it; the vGIC's SGI and the
//! kicks it asks for.

use core::ptr::null_mut;

use super::exit::{locate, stepped, ICC_SGI1R_EL1};
use super::irq;
use crate::arch::aarch64::context::GuestRegs;
use crate::arch::aarch64::{debug_regs, id_regs};
use crate::irq::NmiWindow;
use crate::sched;
use aerie_trap::{DebugReg, SysRegAccess};

/// Serves the trapped access of syndrome `esr` (EC 0x18) for the vCPU
/// whose register block is `regs`; returns `regs` when done, null when the
/// full path must run.
#[inline(never)]
pub fn serve(regs: *mut GuestRegs, esr: u64) -> *mut GuestRegs {
    let access = SysRegAccess::from_iss(esr as u32 & 0x01ff_ffff);
    if (19..=28).contains(&access.rt) {
        return null_mut(); // not in the block yet
    }
    let reg = access.reg;
    if reg.op0 == 3 && access.is_read && reg.is_id_group3() {
        let value = id_regs::guest_value(reg);
        // SAFETY: `regs` is the running vCPU's block (vectors.S passes
        // TPIDR_EL2); only this pCPU writes it, and nothing else refers to
        // it while this exit runs.
        let owed_step = unsafe {
            (*regs).set(access.rt, value);
            (*regs).skip_instruction();
            (*regs).stepped
        };
        if owed_step {
            let (_, v, c) = locate(regs);
            let _window = NmiWindow::open();
            stepped(&mut sched::lock(), v, c);
        }
        return regs;
    }
    if reg == ICC_SGI1R_EL1 && !access.is_read {
        return sgi(regs, access.rt);
    }
    if reg.op0 != 2 {
        return null_mut();
    }
    let (brps, wrps) = debug_regs::counts();
    let Some(debug_reg) = DebugReg::decode(reg, brps, wrps)
        .filter(|&r| r != DebugReg::Dcc && !super::debug::is_undefined(r, &access))
    else {
        return null_mut(); // the DCC (the backdoor), UNDEFINED accesses: the full path
    };
    let (_, v, c) = locate(regs);
    let _window = NmiWindow::open();
    let mut guard = sched::lock();
    let m = &mut *guard;
    if super::debug::give(m, v, c, debug_reg) {
        return regs; // the hardware makes the access again, now the guest's
    }
    super::debug::emulate(m, v, c, debug_reg, &access);
    if m.vms[v].vcpus[c].regs.stepped {
        stepped(m, v, c);
    }
    regs
}

/// An SGI the vCPU at `regs` sends, the value in register `rt`.
fn sgi(regs: *mut GuestRegs, rt: u8) -> *mut GuestRegs {
    let (cpu, v, c) = locate(regs);
    let _window = NmiWindow::open();
    let mut guard = sched::lock();
    let m = &mut *guard;
    let lrs = m.list_registers;
    let vm = &mut m.vms[v];
    let vcpu = &mut vm.vcpus[c];
    let value = vcpu.regs.get(rt);
    // To itself, an SGI is news for its own list registers, which must be
    // flushed from a vGIC that knows what they hold.
    let to_itself = vm.vgic.sgi_targets(c, value).contains(c);
    if to_itself && (vcpu.lrs_used != 0 || vcpu.vtimer_forwarded) {
        return null_mut();
    }
    vcpu.regs.skip_instruction();
    let kick = vm.vgic.send_sgi(c, value);
    m.kick(cpu, v, kick);
    if m.vms[v].vcpus[c].regs.stepped {
        stepped(m, v, c);
    }
    if to_itself {
        irq::flush(&mut m.vms[v], c, lrs);
    }
    regs
}
