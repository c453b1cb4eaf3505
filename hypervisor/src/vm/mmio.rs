//! Stage-2 data aborts: emulated device registers, or an external abort for
//! an address with nothing behind it.

use super::exit::{inject, update_uart_irq, Outcome};
use super::virtio::{VirtioSlot, VmRam, VIRTIO_BASE, VIRTIO_STRIDE};
use super::{VcpuState, Vm};
use super::{
    GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE, GPIO_BASE, GPIO_SIZE, RTC_BASE, RTC_SIZE,
    UART_BASE, UART_SIZE,
};
use crate::arch::aarch64::el2::Syndrome;
use crate::arch::aarch64::gic_v2;
use crate::sched::Machine;
use aerie_trap::{DataAbort, MmioAccess};

/// Which emulated device an IPA belongs to.
enum Device {
    Uart(u64),
    Rtc(u64),
    Gpio(u64),
    Distributor(u64),
    Redistributors(u64),
    /// virtio-mmio transport n, offset.
    Virtio(usize, u64),
}

#[inline(always)]
fn device_at(ipa: u64, redistributors: usize, transports: usize) -> Option<Device> {
    if let Some(off) = ipa.checked_sub(UART_BASE).filter(|&o| o < UART_SIZE) {
        return Some(Device::Uart(off));
    }
    if let Some(off) = ipa.checked_sub(GICD_BASE).filter(|&o| o < GICD_SIZE) {
        return Some(Device::Distributor(off));
    }
    if let Some(off) = ipa
        .checked_sub(GICR_BASE)
        .filter(|&o| o < GICR_STRIDE * redistributors as u64)
    {
        return Some(Device::Redistributors(off));
    }
    if let Some(off) = ipa
        .checked_sub(VIRTIO_BASE)
        .filter(|&o| o < VIRTIO_STRIDE * transports as u64)
    {
        return Some(Device::Virtio(
            (off / VIRTIO_STRIDE) as usize,
            off % VIRTIO_STRIDE,
        ));
    }
    // Last: a guest reads its clock rarely, its GIC and transports often.
    if let Some(off) = ipa.checked_sub(RTC_BASE).filter(|&o| o < RTC_SIZE) {
        return Some(Device::Rtc(off));
    }
    if let Some(off) = ipa.checked_sub(GPIO_BASE).filter(|&o| o < GPIO_SIZE) {
        return Some(Device::Gpio(off));
    }
    None
}

/// Whether the data abort is an access to the VM's GICv3 that reads or
/// changes no interrupt's state (`aerie_vgic::dist_access_is_quiet`,
/// `redist_access_is_quiet`): [`emulate`] serves it with no list-register
/// work around it.
pub fn is_quiet_gic_access(vm: &Vm, syndrome: &Syndrome) -> bool {
    if gic_v2::active() {
        return false;
    }
    let Some(access) = DataAbort((syndrome.esr & 0x1ff_ffff) as u32).access() else {
        return false;
    };
    match device_at(syndrome.fault_ipa(), vm.vcpus.len(), vm.virtio.len()) {
        Some(Device::Distributor(off)) => aerie_vgic::dist_access_is_quiet(off, access.write),
        Some(Device::Redistributors(off)) => aerie_vgic::redist_access_is_quiet(off),
        _ => false,
    }
}

/// Whether `ipa` may be in a GICv3's distributor or redistributors (of up
/// to `MAX_VCPUS` vCPUs): a test without the machine lock, before
/// [`is_quiet_gic_access`] with it.
#[inline(always)]
pub fn may_be_gic(ipa: u64) -> bool {
    ipa.checked_sub(GICD_BASE).is_some_and(|o| o < GICD_SIZE)
        || ipa
            .checked_sub(GICR_BASE)
            .is_some_and(|o| o < GICR_STRIDE * u64::from(super::loader::MAX_VCPUS))
}

/// The fast path for the commonest exit of all, a guest driver polling or
/// feeding its PL011: no device lookup, no interrupt work unless the line
/// changes or the vCPU's list registers need filling. Returns None for
/// anything else (the caller then goes through [`emulate`]), else whether
/// that interrupt work is needed.
#[inline(always)]
pub fn emulate_uart(vm: &mut Vm, c: usize, syndrome: &Syndrome) -> Option<bool> {
    // The PL011 is one page: compare page numbers, take the offset from FAR.
    if syndrome.fault_ipa_page() != UART_BASE >> 12 {
        return None;
    }
    let offset = syndrome.far & 0xfff;
    let access = DataAbort((syndrome.esr & 0x1ff_ffff) as u32).access()?;
    let Vm {
        vcpus,
        uart,
        output,
        input,
        uart_irq,
        ..
    } = vm;
    let vcpu = &mut **vcpus.get_mut(c)?;
    if access.write {
        let value = vcpu.regs.get(access.srt) as u32;
        uart.write(offset, access.size, value, output).ok()?;
    } else {
        let value = uart.read(offset, access.size).ok()?;
        vcpu.regs.set(access.srt, extend(value as u64, &access));
    }
    vcpu.regs.skip_instruction();
    // Whether the interrupt line or waiting input needs attention, or the
    // vGIC has news for this vCPU's list registers.
    Some(!input.is_empty() || uart.irq_level() != *uart_irq || vcpu.vgic_dirty)
}

/// Emulate the stage-2 data abort being handled if it hits an emulated
/// device with a valid syndrome (ISV = 1): load or store the register, step
/// past the instruction. Returns what the vCPU does next, or None when it is
/// anything else.
#[inline(never)]
pub fn emulate(
    m: &mut Machine,
    cpu: usize,
    v: usize,
    c: usize,
    syndrome: &Syndrome,
) -> Option<Outcome> {
    // ISV = 0 (e.g. a load pair, or writeback) gives no register to emulate
    // into; such an access is refused like an unmapped one.
    let access = DataAbort((syndrome.esr & 0x1ff_ffff) as u32).access()?;
    let vm = &mut m.vms[v];
    // A guest's GICv2 (Aerie's GICv2 build gives every VM one) has no
    // redistributors: its private interrupts are banked in the distributor.
    let redistributors = if gic_v2::active() { 0 } else { vm.vcpus.len() };
    let device = device_at(syndrome.fault_ipa(), redistributors, vm.virtio.len())?;
    let value = vm.vcpus[c].regs.get(access.srt);
    let size = access.size;
    let mut outcome = Outcome::Resume;
    let loaded = match device {
        Device::Uart(off) => {
            let r = if access.write {
                vm.uart
                    .write(off, size, value as u32, &mut vm.output)
                    .map(|_| None)
            } else {
                vm.uart.read(off, size).map(|v| Some(v as u64))
            };
            let Ok(r) = r else { return None };
            update_uart_irq(m, cpu, v);
            r
        }
        Device::Distributor(off) => {
            if access.write {
                let kick = if gic_v2::active() {
                    vm.vgic.dist_v2_write(c, off, size, value)
                } else {
                    vm.vgic.dist_write(off, size, value)
                };
                let Ok(kick) = kick else { return None };
                m.kick(cpu, v, kick);
                None
            } else {
                let r = if gic_v2::active() {
                    vm.vgic.dist_v2_read(c, off, size)
                } else {
                    vm.vgic.dist_read(off, size)
                };
                let Ok(r) = r else { return None };
                Some(r)
            }
        }
        Device::Rtc(off) => {
            let (now, _) = crate::wall_clock::now();
            let r = if access.write {
                vm.rtc.write(off, size, value as u32, now).map(|_| None)
            } else {
                vm.rtc.read(off, size, now).map(|v| Some(u64::from(v)))
            };
            let Ok(r) = r else { return None };
            super::rtc::update(m, cpu, v);
            r
        }
        Device::Gpio(off) => {
            let r = if access.write {
                vm.gpio.write(off, size, value as u32).map(|_| None)
            } else {
                vm.gpio.read(off, size).map(|v| Some(u64::from(v)))
            };
            let Ok(r) = r else { return None };
            super::power_button::update_irq(m, cpu, v);
            r
        }
        Device::Virtio(n, off) => {
            if access.write {
                let ram = vm.memory.as_ref()?;
                if let VirtioSlot::Block(disk) = &mut vm.virtio[n] {
                    if disk.must_wait(off, value as u32) {
                        // Not while data moves (vm::block): the vCPU blocks
                        // until the transfer is over, then makes the same
                        // access again.
                        disk.wait(c);
                        vm.vcpus[c].state = VcpuState::Blocked { until: None };
                        return Some(Outcome::Reschedule);
                    }
                }
                let Ok(notify) = vm.virtio[n].write(off, size, value as u32, &mut VmRam(ram))
                else {
                    return None;
                };
                if let VirtioSlot::Block(disk) = &mut vm.virtio[n] {
                    if disk.claim() {
                        m.pcpus[cpu].disk_work = super::block::work(v, n);
                        outcome = Outcome::ServeDisk { reschedule: false };
                    }
                }
                super::virtio::act_on(m, cpu, v, n, notify);
                // A network card's QueueNotify may have sent frames.
                super::net::carry(m, cpu, v, n);
                None
            } else {
                let Ok(r) = vm.virtio[n].read(off, size) else {
                    return None;
                };
                Some(r as u64)
            }
        }
        Device::Redistributors(off) => {
            if access.write {
                let Ok(kick) = vm.vgic.redist_write(off, size, value) else {
                    return None;
                };
                m.kick(cpu, v, kick);
                None
            } else {
                let Ok(r) = vm.vgic.redist_read(off, size) else {
                    return None;
                };
                Some(r)
            }
        }
    };
    let regs = &mut m.vms[v].vcpus[c].regs;
    if let Some(value) = loaded {
        // Cut to the access size whatever the device returned.
        let value = if access.size < 8 {
            value & ((1 << (access.size * 8)) - 1)
        } else {
            value
        };
        regs.set(access.srt, extend(value, &access));
    }
    regs.skip_instruction();
    Some(outcome)
}

/// A data abort that no device emulates: inject a synchronous external abort.
pub fn unhandled(
    m: &mut Machine,
    v: usize,
    c: usize,
    syndrome: &Syndrome,
    abort: &DataAbort,
) -> Outcome {
    let (ipa, far, write) = (syndrome.fault_ipa(), syndrome.far, abort.write());
    let vm = &mut m.vms[v];
    if vm.abort_reports < MAX_ABORT_REPORTS {
        vm.abort_reports += 1;
        log::warn!(
            "vm {} vcpu {c}: {} at IPA {ipa:#x} (pc {:#x}) with no device to serve it: external abort injected{}",
            vm.name,
            if write { "write" } else { "read" },
            vm.vcpus[c].regs.pc,
            if vm.abort_reports == MAX_ABORT_REPORTS { " (further reports suppressed)" } else { "" }
        );
    }
    inject(m, v, c, |pc, pstate, vbar, sctlr| {
        aerie_trap::inject_data_abort(pc, pstate, vbar, sctlr, far, write)
    })
}

/// A misbehaving guest is reported a few times, not flooded into the log.
const MAX_ABORT_REPORTS: u32 = 8;

/// A loaded value as the register receives it: sign-extended when the load
/// was signed (SSE), then cut to 32 bits for a W register (SF = 0).
#[inline(always)]
fn extend(value: u64, access: &MmioAccess) -> u64 {
    // Devices return values already cut to the access size, so an unsigned
    // load needs nothing more (the common case).
    if !access.sign_extend {
        return value;
    }
    let bits = access.size as u32 * 8;
    let mut v = value;
    if bits < 64 {
        let shift = 64 - bits;
        v = (((v << shift) as i64) >> shift) as u64;
    }
    if !access.sf {
        v &= 0xffff_ffff;
    }
    v
}
