//! SMCCC discovery and conduit behaviour (DEN0028 SMCCC 1.1).

use super::TestResult;
use crate::detail::{detail, fail, Detail};
use crate::exception;
use crate::machine::Machine;
use crate::psci::{self, NOT_SUPPORTED, SUCCESS, VERSION_1_1};

/// A fast call in the Trusted-OS range that the hypervisor never serves.
const UNKNOWN_FID: u32 = 0xbf00_ff00;

pub fn smccc_version(_: &Machine) -> TestResult {
    let version = psci::hvc(psci::SMCCC_VERSION, 0, 0, 0);
    if version as i64 == NOT_SUPPORTED || version < 0x1_0001 {
        fail!("expected SMCCC_VERSION >= 0x10001 (1.1), got {version:#x}");
    }
    // SMCCC 1.1 §7.3: ARCH_FEATURES of itself (or of SMCCC_VERSION) returns SUCCESS.
    let own = psci::call(
        psci::SMCCC_ARCH_FEATURES,
        u64::from(psci::SMCCC_ARCH_FEATURES),
        0,
        0,
    );
    if own != SUCCESS {
        fail!("SMCCC_ARCH_FEATURES(SMCCC_ARCH_FEATURES): expected 0, got {own}");
    }
    let unknown = psci::call(psci::SMCCC_ARCH_FEATURES, 0x8000_7777, 0, 0);
    if unknown != NOT_SUPPORTED {
        fail!("SMCCC_ARCH_FEATURES(0x80007777): expected -1, got {unknown}");
    }
    Ok(detail!("{}.{}", version >> 16, version & 0xffff))
}

/// Markers for x4..x17, which an SMCCC 1.1 callee must preserve.
const fn marker(reg: u64) -> u64 {
    0x5a5a_0000_0000_0000 | (reg << 32) | (reg * 0x0101)
}

pub fn hvc_unknown(_: &Machine) -> TestResult {
    let mut x = [0u64; 18];
    for (i, slot) in x.iter_mut().enumerate().skip(4) {
        *slot = marker(i as u64);
    }
    let mut x0 = u64::from(UNKNOWN_FID);
    // Only x0 is defined for an unknown function: x1..x3 are just scratch.
    // SAFETY: an SMCCC call through HVC; every register it may write (x0..x17)
    // is an output of this asm, so Rust sees any change the callee makes.
    unsafe {
        core::arch::asm!(
            "hvc #0",
            inout("x0") x0, inout("x1") 0x1111u64 => _, inout("x2") 0x2222u64 => _, inout("x3") 0x3333u64 => _,
            inout("x4") x[4], inout("x5") x[5], inout("x6") x[6], inout("x7") x[7],
            inout("x8") x[8], inout("x9") x[9], inout("x10") x[10], inout("x11") x[11],
            inout("x12") x[12], inout("x13") x[13], inout("x14") x[14], inout("x15") x[15],
            inout("x16") x[16], inout("x17") x[17],
            options(nostack),
        );
    }
    if x0 != u64::MAX {
        fail!("{UNKNOWN_FID:#x} via HVC: expected x0 = -1 (0xffffffffffffffff), got {x0:#x}");
    }
    for (i, &value) in x.iter().enumerate().skip(4) {
        let expected = marker(i as u64);
        if value != expected {
            fail!("x{i} not preserved across HVC: was {expected:#x}, now {value:#x}");
        }
    }
    Ok(Detail::empty())
}

pub fn smc_psci_version(_: &Machine) -> TestResult {
    let (version, fault) = exception::catch(|| psci::smc(psci::PSCI_VERSION, 0, 0, 0));
    if let Some(info) = fault {
        fail!("expected PSCI_VERSION via SMC = {VERSION_1_1:#x}, got {info}");
    }
    if version != VERSION_1_1 {
        fail!("expected PSCI_VERSION via SMC = {VERSION_1_1:#x}, got {version:#x}");
    }
    Ok(detail!("{}.{}", version >> 16, version & 0xffff))
}
