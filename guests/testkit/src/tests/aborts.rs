//! Faults the hypervisor must reflect into the guest as the hardware would:
//! an access to an IPA with nothing behind it, and an IMPLEMENTATION DEFINED
//! system register it does not emulate.

use super::TestResult;
use crate::detail::{detail, fail};
use crate::exception::{self, EC_DATA_ABORT_SAME_EL, EC_UNKNOWN, FSC_SYNC_EXTERNAL_ABORT};
use crate::machine::Machine;

/// Nothing lives here, neither in QEMU `virt` (between the virtio-mmio
/// transports ending at 0x0a00_4000 and the platform bus at 0x0c00_0000) nor in
/// Aerie's guest map. Checked under plain QEMU: a load gives a synchronous
/// external abort.
const UNMAPPED_ADDR: u64 = 0x0b00_0000;

pub fn unmapped_ipa_abort(_: &Machine) -> TestResult {
    let ((pc, value), fault) = exception::catch(|| {
        let pc: u64;
        let mut value: u32 = 0xdead_beef;
        // SAFETY: the load targets an address with no memory or device behind
        // it, so it can only fault; the armed `catch` skips it. No Rust memory
        // is accessed.
        unsafe {
            core::arch::asm!(
                "adr {pc}, 1f",
                "1: ldr {value:w}, [{addr}]",
                pc = out(reg) pc,
                value = inout(reg) value,
                addr = in(reg) UNMAPPED_ADDR,
                options(nostack),
            );
        }
        (pc, value)
    });
    let Some(info) = fault else {
        fail!("load from {UNMAPPED_ADDR:#x}: expected a data abort, but it read {value:#x}");
    };
    if info.ec() != EC_DATA_ABORT_SAME_EL || info.fsc() != FSC_SYNC_EXTERNAL_ABORT {
        fail!("load from {UNMAPPED_ADDR:#x}: expected EC=0x25 DFSC=0x10, got EC={:#04x} DFSC={:#04x} ({info})", info.ec(), info.fsc());
    }
    if info.far != UNMAPPED_ADDR {
        fail!(
            "load from {UNMAPPED_ADDR:#x}: expected FAR={UNMAPPED_ADDR:#x}, got {:#x}",
            info.far
        );
    }
    if info.elr != pc {
        fail!(
            "load from {UNMAPPED_ADDR:#x}: expected ELR={pc:#x} (the load), got {:#x}",
            info.elr
        );
    }
    Ok(detail!("ESR={:#x} FAR={:#x}", info.esr, info.far))
}

pub fn unknown_sysreg_undef(_: &Machine) -> TestResult {
    let (pc, fault) = exception::catch(|| {
        let pc: u64;
        // S3_0_C15_C5_0: op1 = 0 makes it EL1-accessible, CRn = 15 is the
        // IMPLEMENTATION DEFINED space; neither QEMU's cortex-a72/max nor Aerie
        // implement this encoding, so the MRS is UNDEFINED.
        // SAFETY: reading a system register has no memory effects; the armed
        // `catch` skips the MRS when it is UNDEFINED.
        unsafe {
            core::arch::asm!(
                "adr {pc}, 1f",
                "1: mrs {value}, s3_0_c15_c5_0",
                pc = out(reg) pc,
                value = out(reg) _,
                options(nostack),
            );
        }
        pc
    });
    let Some(info) = fault else {
        fail!("MRS S3_0_C15_C5_0: expected an UNDEFINED exception, but it read successfully");
    };
    if info.ec() != EC_UNKNOWN {
        fail!("MRS S3_0_C15_C5_0: expected EC=0x00, got {info}");
    }
    if info.elr != pc {
        fail!(
            "MRS S3_0_C15_C5_0: expected ELR={pc:#x} (the MRS), got {:#x}",
            info.elr
        );
    }
    Ok(detail!("ESR={:#x}", info.esr))
}
