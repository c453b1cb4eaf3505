//! PSCI basics over HVC (DEN0022 PSCI 1.1).

use super::TestResult;
use crate::detail::{detail, fail, Detail};
use crate::machine::Machine;
use crate::psci::{self, AFFINITY_ON, NOT_SUPPORTED, SUCCESS, VERSION_1_1};
use crate::sysreg;

pub fn psci_version(_: &Machine) -> TestResult {
    let version = psci::hvc(psci::PSCI_VERSION, 0, 0, 0);
    if version != VERSION_1_1 {
        fail!("expected PSCI_VERSION {VERSION_1_1:#x} (1.1), got {version:#x}");
    }
    Ok(detail!("{}.{}", version >> 16, version & 0xffff))
}

pub fn psci_features(_: &Machine) -> TestResult {
    let cases = [
        (psci::PSCI_VERSION, SUCCESS),
        (psci::CPU_ON_64, SUCCESS),
        (psci::SYSTEM_OFF, SUCCESS),
        (0x8400_00ff, NOT_SUPPORTED),
    ];
    for (fid, expected) in cases {
        let got = psci::call(psci::PSCI_FEATURES, u64::from(fid), 0, 0);
        if got != expected {
            fail!("PSCI_FEATURES({fid:#x}): expected {expected}, got {got}");
        }
    }
    Ok(Detail::empty())
}

pub fn affinity_info(_: &Machine) -> TestResult {
    let me = sysreg::mpidr_affinity();
    let got = psci::affinity_info(me, 0);
    if got != AFFINITY_ON {
        fail!("AFFINITY_INFO({me:#x}, 0) for the calling CPU: expected 0 (ON), got {got}");
    }
    Ok(Detail::empty())
}
