//! ID registers (trapped by HCR_EL2.TID3 under the hypervisor, then emulated).

use super::TestResult;
use crate::detail::{detail, fail};
use crate::exception;
use crate::machine::Machine;
use crate::sysreg::read_sysreg;

pub fn id_registers(_: &Machine) -> TestResult {
    let ((pfr0, isar1), fault) = exception::catch(|| {
        (
            read_sysreg!("id_aa64pfr0_el1"),
            read_sysreg!("id_aa64isar1_el1"),
        )
    });
    if let Some(info) = fault {
        fail!("reading ID_AA64PFR0_EL1/ID_AA64ISAR1_EL1: expected no exception, got {info}");
    }
    // ID_AA64PFR0_EL1.EL1 [7:4] and .EL0 [3:0]: 0b0001 AArch64 only, 0b0010 also AArch32.
    let el1 = (pfr0 >> 4) & 0xf;
    let el0 = pfr0 & 0xf;
    if el1 == 0 || el0 == 0 {
        fail!("ID_AA64PFR0_EL1={pfr0:#x}: expected EL1 and EL0 fields != 0 (AArch64 supported), got EL1={el1} EL0={el0}");
    }
    // Aerie serves a read into x0..x18 on its fast path and one into
    // x19..x28 on its full exit path: both must give the same value.
    let (low, high): (u64, u64);
    // SAFETY: two reads of an ID register, which the hypervisor emulates
    // (no memory, no side effects); x20 and x5 are outputs.
    unsafe {
        core::arch::asm!(
            "mrs x5, id_aa64pfr0_el1",
            "mrs x20, id_aa64pfr0_el1",
            out("x5") low,
            out("x20") high,
            options(nomem, nostack, preserves_flags),
        );
    }
    if (low, high) != (pfr0, pfr0) {
        fail!("ID_AA64PFR0_EL1 read into x5 {low:#x} and into x20 {high:#x}, earlier {pfr0:#x}");
    }
    Ok(detail!("PFR0={pfr0:#x} ISAR1={isar1:#x}"))
}
