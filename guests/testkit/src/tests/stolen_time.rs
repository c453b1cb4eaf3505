//! Stolen time (Arm DEN0057A) as a guest finds and reads it: the SMCCC
//! discovery Linux makes, the calling vCPU's record (revision 0, attributes
//! 0, a stolen-time count that never goes back), and the record read-only:
//! a store to it is a data abort and changes nothing.

use super::TestResult;
use crate::detail::{detail, fail};
use crate::exception::{self, EC_DATA_ABORT_SAME_EL, FSC_SYNC_EXTERNAL_ABORT};
use crate::machine::Machine;
use crate::psci::{self, SUCCESS};

const PV_TIME_FEATURES: u32 = 0xC500_0020;
const PV_TIME_ST: u32 = 0xC500_0021;
/// Where Aerie (like QEMU's `virt` under KVM) puts the records.
const PVTIME_BASE: u64 = 0x090a_0000;

fn load(addr: u64) -> u64 {
    // SAFETY: `addr` is an 8-byte aligned word of the record page Aerie
    // maps read-only for this VM; loading it has no other effect.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

pub fn stolen_time(_: &Machine) -> TestResult {
    let arch = psci::call(psci::SMCCC_ARCH_FEATURES, u64::from(PV_TIME_FEATURES), 0, 0);
    let st = psci::call(PV_TIME_FEATURES, u64::from(PV_TIME_ST), 0, 0);
    if arch != SUCCESS || st != SUCCESS {
        fail!("SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) = {arch}, PV_TIME_FEATURES(PV_TIME_ST) = {st}: expected 0 and 0");
    }
    let ipa = psci::hvc(PV_TIME_ST, 0, 0, 0);
    if !ipa.is_multiple_of(64) || !(PVTIME_BASE..PVTIME_BASE + 0x1000).contains(&ipa) {
        fail!("PV_TIME_ST: expected a 64-byte record at {PVTIME_BASE:#x}.., got {ipa:#x}");
    }
    let header = load(ipa);
    if header != 0 {
        fail!("record at {ipa:#x}: expected revision 0 and attributes 0, got {header:#x}");
    }
    let before = load(ipa + 8);
    let (_, fault) = exception::catch(|| {
        // SAFETY: a store to the read-only record: it can only fault (the
        // armed `catch` skips it) or, were the page writable, change a
        // count Aerie rewrites at the vCPU's next switch.
        unsafe { core::ptr::write_volatile((ipa + 8) as *mut u64, u64::MAX) };
    });
    let Some(info) = fault else {
        fail!("store to the record at {ipa:#x}: expected a data abort, it was taken");
    };
    if info.ec() != EC_DATA_ABORT_SAME_EL
        || info.fsc() != FSC_SYNC_EXTERNAL_ABORT
        || info.far != ipa + 8
    {
        fail!(
            "store to the record: expected EC=0x25 DFSC=0x10 FAR={:#x}, got {info}",
            ipa + 8
        );
    }
    let after = load(ipa + 8);
    if after < before || after == u64::MAX {
        fail!("the record's stolen time went from {before} to {after} ns");
    }
    Ok(detail!("record {ipa:#x}, {after} ns stolen"))
}
