//! A vCPU's virtual interrupts between the vGIC model and the hardware list
//! registers.
//!
//! On every exit the list registers used by the last entry are read back
//! into the model and cleared (so the hardware holds no vCPU's interrupts
//! while Aerie runs); before every entry the model fills them again with the
//! highest-priority interrupts the vCPU has. Both steps cost nothing when no
//! interrupt is in flight.

use super::Vm;
use crate::arch::aarch64::gic;
use crate::irq::private::PrivateBank;
use crate::irq::PPI_VIRTUAL_TIMER;
use aerie_vgic::Kick;
use core::sync::atomic::{AtomicBool, Ordering};

/// The architectural maximum of list registers.
pub const MAX_LRS: usize = 16;

/// `aerie.virq=hcr`: the GIC's virtual IRQ output is not wired to the CPUs
/// (QEMU's `imx8mp-evk` model connects only the physical IRQ and FIQ), so
/// the list registers alone never interrupt the guest. Aerie then signals
/// a virtual IRQ itself, through HCR_EL2.VI, while a list register holds an
/// interrupt the vCPU's interface would signal ([`deliverable`]), and asks
/// for the "no pending" maintenance interrupt so that it stops once the
/// guest has acknowledged them all. The guest's own interface (acknowledge, EOI,
/// priorities) still runs on the hardware's list registers.
/// Costs an exit per acknowledged burst; an interrupt held back by the
/// guest's PMR or running priority when Aerie looked is signalled at the
/// vCPU's next exit, not the moment the guest lets it through.
pub static SIGNAL_BY_HCR: AtomicBool = AtomicBool::new(false);

/// List register bits: State (63:62) pending, Group (60), Priority (55:48).
const LR_PENDING: u64 = 1 << 62;
const LR_GROUP1: u64 = 1 << 60;
/// ICH_VMCR_EL2 group enables.
const VMCR_VENG0: u64 = 1 << 0;
const VMCR_VENG1: u64 = 1 << 1;

/// Whether one of `lrs` is an interrupt the loaded vCPU's interface would
/// signal now: pending, its group enabled, above the priority mask and
/// above the running priority (that of the interrupts the guest has
/// acknowledged and not yet completed). Group priorities are compared at
/// the interface's full preemption resolution: a guest with a coarser
/// binary point may be signalled an interrupt it then reads as spurious,
/// until its next exit.
fn deliverable(lrs: &[u64]) -> bool {
    let vmcr = gic::live_vmcr();
    let pmr = (vmcr >> 24) & 0xff;
    let running = gic::live_running_priority();
    lrs.iter().any(|&lr| {
        let enabled = if lr & LR_GROUP1 != 0 {
            vmcr & VMCR_VENG1 != 0
        } else {
            vmcr & VMCR_VENG0 != 0
        };
        let priority = (lr >> 48) & 0xff;
        lr & LR_PENDING != 0 && enabled && priority < pmr && priority < running
    })
}

/// Stop signalling a virtual IRQ through HCR_EL2.VI (a no-op unless
/// [`SIGNAL_BY_HCR`]): the loaded vCPU's state is dropped, list registers
/// and all.
pub fn stop_signal() {
    if SIGNAL_BY_HCR.load(Ordering::Relaxed) {
        crate::arch::aarch64::el2::set_virtual_irq(false);
    }
}

/// Read back and clear the list registers of vCPU `c`'s last entry.
/// Returns the vCPUs to kick (a level line resampled high, for one).
#[inline(always)]
pub fn sync(vm: &mut Vm, c: usize) -> Kick {
    let vcpu = &vm.vcpus[c];
    if vcpu.lrs_used == 0 && !vcpu.vtimer_forwarded {
        return Kick::NONE; // nothing in flight: the common case
    }
    sync_lrs(vm, c)
}

#[inline(never)]
fn sync_lrs(vm: &mut Vm, c: usize) -> Kick {
    let used = vm.vcpus[c].lrs_used;
    if used == 0 {
        release_dropped_vtimer(vm, c);
        return Kick::NONE;
    }
    // What the guest did with them is news for the next entry.
    vm.vcpus[c].vgic_dirty = true;
    let vcpu = &mut *vm.vcpus[c];
    for n in 0..used {
        vcpu.lr_scratch[n] = gic::read_lr(n);
        gic::write_lr(n, 0);
    }
    vcpu.lrs_used = 0;
    if vcpu.maintenance != gic::Maintenance::NONE {
        // The list registers are empty now: no maintenance interrupt (its
        // level would stay high while Aerie runs, or idles) and no virtual
        // IRQ is wanted until the next entry decides again.
        if vcpu.maintenance.no_pending() {
            crate::arch::aarch64::el2::set_virtual_irq(false);
        }
        vcpu.maintenance = gic::Maintenance::NONE;
        gic::set_maintenance(vcpu.maintenance);
    }
    let kick = vm.vgic.sync(c, &vcpu.lr_scratch[..used]);
    release_dropped_vtimer(vm, c);
    kick
}

/// The guest may drop a forwarded virtual-timer interrupt without
/// completing it (clear its pending state, reset its GIC): the physical one
/// is then still active and would never fire again, so Aerie completes it.
#[inline]
pub fn release_dropped_vtimer(vm: &mut Vm, c: usize) {
    if vm.vcpus[c].vtimer_forwarded && !vm.vgic.private_in_flight(c, PPI_VIRTUAL_TIMER) {
        gic::deactivate(PPI_VIRTUAL_TIMER);
        vm.vcpus[c].vtimer_forwarded = false;
    }
}

/// vCPU `c`, just put on this pCPU (its state loaded or unparked), whose
/// virtual timer has fired while it waited: deliver that interrupt now,
/// exactly as the exit path does when the hardware raises it (the physical
/// PPI active, the virtual one pending and forwarded, so the guest's
/// completion deactivates the physical one). Otherwise the hardware would
/// raise it the moment the vCPU is entered, costing a whole exit on every
/// timer wake-up.
pub fn forward_fired_vtimer(vm: &mut Vm, c: usize, banked: Option<PrivateBank>) {
    const ENABLE_ISTATUS: u64 = 0b101;
    let Some(rd) = banked else { return };
    if vm.vcpus[c].vtimer_forwarded {
        return;
    }
    // Enabled, not masked, condition met.
    let (ctl, _) = crate::arch::aarch64::context::live_vtimer();
    if ctl & 0b111 != ENABLE_ISTATUS || rd.is_active(PPI_VIRTUAL_TIMER) {
        return;
    }
    rd.set_active(PPI_VIRTUAL_TIMER, true);
    forward_vtimer(vm, c);
}

/// The physical virtual-timer interrupt of vCPU `c` is active (taken, or
/// made active): make the virtual one pending, forwarded, so the guest's
/// completion of it deactivates the physical one.
pub fn forward_vtimer(vm: &mut Vm, c: usize) {
    let _ = vm.vgic.set_ppi_pending(c, PPI_VIRTUAL_TIMER);
    vm.vcpus[c].vtimer_forwarded = true;
    vm.vcpus[c].vgic_dirty = true;
}

/// Fill the list registers for vCPU `c`'s next entry, asking for an
/// underflow maintenance interrupt when more is pending than fits.
#[inline(always)]
pub fn flush(vm: &mut Vm, c: usize, list_registers: usize) {
    if vm.vcpus[c].vgic_dirty {
        flush_dirty(vm, c, list_registers);
    }
}

/// The vGIC may have something for vCPU `c`: ask it once (a flush that
/// finds nothing costs what asking whether there is anything would, and
/// asking first would make every real flush look twice).
#[inline(never)]
fn flush_dirty(vm: &mut Vm, c: usize, list_registers: usize) {
    let n = list_registers.min(MAX_LRS);
    let vcpu = &mut *vm.vcpus[c];
    let result = vm.vgic.flush(c, &mut vcpu.lr_scratch[..n]);
    if result.used == 0 {
        // Nothing in flight: the list registers can stay empty until the
        // vGIC has news for this vCPU.
        vcpu.vgic_dirty = false;
    }
    for (i, &lr) in vcpu.lr_scratch.iter().enumerate().take(result.used) {
        gic::write_lr(i, lr);
    }
    vcpu.lrs_used = result.used;
    let mut signal = false;
    if SIGNAL_BY_HCR.load(Ordering::Relaxed) {
        signal = deliverable(&vcpu.lr_scratch[..result.used]);
        crate::arch::aarch64::el2::set_virtual_irq(signal);
    }
    let want = gic::Maintenance::new(result.underflow, signal);
    if want != vcpu.maintenance {
        gic::set_maintenance(want);
        vcpu.maintenance = want;
    }
}
