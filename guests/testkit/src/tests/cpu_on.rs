//! PSCI CPU_ON / CPU_OFF / AFFINITY_INFO with a real secondary vCPU.

use core::sync::atomic::Ordering;

use super::TestResult;
use crate::counter::Deadline;
use crate::detail::{detail, fail};
use crate::entry::secondary_entry_address;
use crate::machine::Machine;
use crate::psci::{self, AFFINITY_OFF, ALREADY_ON, INVALID_PARAMETERS, SUCCESS};
use crate::secondary::CONTEXT_SEEN;
use crate::sysreg;

const CONTEXT_MARKER: u64 = 0xc0de_0001_5eed_f00d;
/// An MPIDR no vCPU has.
const NO_SUCH_CPU: u64 = 0xff;
const TIMEOUT_MS: u64 = 2000;

pub fn cpu_on(machine: &Machine) -> TestResult {
    if machine.cpus < 2 {
        return Ok(detail!("skipped: 1 vCPU"));
    }
    let me = sysreg::mpidr_affinity();
    let target = machine.mpidrs[1];

    let already = psci::cpu_on(me, secondary_entry_address(), 0);
    if already != ALREADY_ON {
        fail!("CPU_ON of the calling CPU ({me:#x}): expected -4 (ALREADY_ON), got {already}");
    }
    let invalid = psci::cpu_on(NO_SUCH_CPU, secondary_entry_address(), 0);
    if invalid != INVALID_PARAMETERS {
        fail!("CPU_ON of MPIDR {NO_SUCH_CPU:#x}: expected -2 (INVALID_PARAMETERS), got {invalid}");
    }

    CONTEXT_SEEN.store(0, Ordering::SeqCst);
    sysreg::dsb_sy();
    let started = psci::cpu_on(target, secondary_entry_address(), CONTEXT_MARKER);
    if started != SUCCESS {
        fail!("CPU_ON({target:#x}): expected 0, got {started}");
    }
    let deadline = Deadline::after_ms(TIMEOUT_MS);
    let mut seen = CONTEXT_SEEN.load(Ordering::SeqCst);
    while seen != CONTEXT_MARKER && !deadline.expired() {
        sysreg::wfe();
        seen = CONTEXT_SEEN.load(Ordering::SeqCst);
    }
    if seen != CONTEXT_MARKER {
        fail!("secondary {target:#x} did not report context_id {CONTEXT_MARKER:#x} within {TIMEOUT_MS} ms (saw {seen:#x})");
    }

    // The secondary calls CPU_OFF right after publishing: wait for it to be OFF.
    let deadline = Deadline::after_ms(TIMEOUT_MS);
    let mut state = psci::affinity_info(target, 0);
    while state != AFFINITY_OFF && !deadline.expired() {
        sysreg::wfe();
        state = psci::affinity_info(target, 0);
    }
    if state != AFFINITY_OFF {
        fail!("AFFINITY_INFO({target:#x}, 0) after CPU_OFF: expected 1 (OFF) within {TIMEOUT_MS} ms, got {state}");
    }
    Ok(detail!(
        "cpu {target:#x} started, reported context id, powered off"
    ))
}
