//! Stage-2 data aborts: emulated device registers, or an external abort for
//! an address with nothing behind it.

use super::exit::{inject, Outcome};
use super::{Vm, UART_BASE, UART_SIZE};
use crate::arch::aarch64::el2::Syndrome;
use aerie_trap::DataAbort;

#[inline(always)]
pub fn data_abort(vm: &mut Vm, c: usize, syndrome: &Syndrome, abort: &DataAbort) -> Outcome {
    let ipa = syndrome.fault_ipa();
    let offset = ipa.wrapping_sub(UART_BASE);
    // ISV = 0 (e.g. a load pair, or writeback) gives no register to emulate
    // into; such an access to a device is refused like an unmapped one.
    if let (true, Some(access)) = (offset < UART_SIZE, abort.access()) {
        let vcpu = &mut vm.vcpus[c];
        let size = access.size;
        let result = if access.write {
            let value = vcpu.regs.get(access.srt) as u32;
            vm.uart.write(offset, size, value, &mut vm.output)
        } else {
            vm.uart.read(offset, size).map(|value| {
                let value = extend(value as u64, size, access.sign_extend, access.sf);
                vcpu.regs.set(access.srt, value);
            })
        };
        if result.is_ok() {
            vcpu.regs.pc += 4;
            return Outcome::Resume;
        }
    }
    let far = syndrome.far;
    let write = abort.write();
    log::warn!(
        "vm {} vcpu {c}: {} at unmapped IPA {ipa:#x} (pc {:#x}): external abort injected",
        vm.name,
        if write { "write" } else { "read" },
        vm.vcpus[c].regs.pc
    );
    inject(vm, c, |pc, pstate, vbar, sctlr| {
        aerie_trap::inject_data_abort(pc, pstate, vbar, sctlr, far, write)
    })
}

/// A loaded value as the register receives it: sign-extended when the load
/// was signed (SSE), then cut to 32 bits for a W register (SF = 0).
#[inline(always)]
fn extend(value: u64, size: u8, sse: bool, sf: bool) -> u64 {
    let bits = size as u32 * 8;
    let mut v = value;
    if sse && bits < 64 {
        let shift = 64 - bits;
        v = (((v << shift) as i64) >> shift) as u64;
    }
    if !sf {
        v &= 0xffff_ffff;
    }
    v
}
