//! Stage-2 data aborts: emulated device registers, or an external abort for
//! an address with nothing behind it.

use super::exit::{inject, Outcome};
use super::{Vm, UART_BASE, UART_SIZE};
use crate::arch::aarch64::el2::Syndrome;
use aerie_trap::DataAbort;

/// Emulate the stage-2 data abort being handled if it hits an emulated
/// device with a valid syndrome (ISV = 1): load or store the register, step
/// past the instruction. Returns false when it is anything else.
#[inline(always)]
pub fn emulate(vm: &mut Vm, c: usize, syndrome: &Syndrome) -> bool {
    let offset = syndrome.fault_ipa().wrapping_sub(UART_BASE);
    // ISV = 0 (e.g. a load pair, or writeback) gives no register to emulate
    // into; such an access is refused like an unmapped one.
    let Some(access) = DataAbort((syndrome.esr & 0x1ff_ffff) as u32).access() else {
        return false;
    };
    if offset >= UART_SIZE {
        return false;
    }
    let regs = &mut vm.vcpus[c].regs;
    let size = access.size;
    let result = if access.write {
        let value = regs.get(access.srt) as u32;
        vm.uart.write(offset, size, value, &mut vm.output)
    } else {
        vm.uart.read(offset, size).map(|value| {
            regs.set(
                access.srt,
                extend(value as u64, size, access.sign_extend, access.sf),
            );
        })
    };
    if result.is_err() {
        return false;
    }
    regs.pc += 4;
    true
}

/// A data abort that no device emulates: inject a synchronous external abort.
pub fn unhandled(vm: &mut Vm, c: usize, syndrome: &Syndrome, abort: &DataAbort) -> Outcome {
    let (ipa, far, write) = (syndrome.fault_ipa(), syndrome.far, abort.write());
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
