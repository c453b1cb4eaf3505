//! PSCI CPU_SUSPEND (DEN0022 PSCI 1.1 section 5.4) into the idle states the
//! device tree publishes under /cpus/idle-states, woken by the virtual
//! timer with PSTATE.I masked (as for WFI, the wake-up does not depend on
//! PSTATE's masks).
//!
//! `cpu_suspend_retention`: a standby state returns SUCCESS after waking.
//! `cpu_suspend_power_down`: a power-down state does not return; the vCPU
//! wakes at the entry point it gave, x0 = its context id, EL1h, DAIF all
//! masked, MMU and data cache off. An entry point outside RAM, a state
//! above the core level and an unpublished power-down state are refused.

use core::cell::UnsafeCell;

use super::TestResult;
use crate::counter::{self, Deadline};
use crate::detail::{detail, fail};
use crate::gic;
use crate::guard;
use crate::machine::Machine;
use crate::psci::{self, INVALID_PARAMETERS, SUCCESS};
use crate::sysreg::{isb, read_sysreg, write_sysreg};
use crate::vtimer;

/// PSCI INVALID_ADDRESS.
const INVALID_ADDRESS: i64 = -9;
/// power_state StateType: power-down.
const POWER_DOWN: u32 = 1 << 16;
/// power_state PowerLevel 1 (cluster).
const CLUSTER_LEVEL: u32 = 1 << 24;
const SCTLR_M: u64 = 1 << 0;
const SCTLR_C: u64 = 1 << 2;
/// DAIF with D, A, I and F set.
const DAIF_ALL: u64 = 0xf << 6;
/// CurrentEL (EL in \[3:2\]) | SPSel: EL1 on SP_EL1.
const EL1H: u64 = (1 << 2) | 1;
const BOUND_MS: u64 = 1000;
/// Far outside guest RAM (QEMU virt's and Aerie's start at 1 GiB).
const NOT_RAM: u64 = 0x1000;

/// What the power-down entry point records on waking: x0 (the context
/// id), DAIF, CurrentEL | SPSel, SCTLR_EL1. Offsets are the assembly's.
#[repr(C, align(16))]
struct WakeState(UnsafeCell<[u64; 4]>);

// SAFETY: written only by the entry point of the one vCPU running this
// test, and read by it after it has resumed.
unsafe impl Sync for WakeState {}

static WAKE: WakeState = WakeState(UnsafeCell::new([0; 4]));

/// The guard's resume code the entry point hands back (any non-zero code:
/// `with_resume_point` returns 0 when the call itself returned).
const WOKE: u64 = 1;

core::arch::global_asm!(
    r#"
    .section .text, "ax"
    // The power-down entry point: x0 = context id = a guard resume point.
    // MMU off: the symbol's address is its physical address.
    .global testkit_power_down_entry
testkit_power_down_entry:
    adrp    x1, {wake}
    add     x1, x1, :lo12:{wake}
    mrs     x2, daif
    stp     x0, x2, [x1, #0]
    mrs     x2, CurrentEL
    mrs     x3, SPSel
    orr     x2, x2, x3
    mrs     x3, sctlr_el1
    stp     x2, x3, [x1, #16]
    mov     x1, #{woke}
    b       testkit_guard_resume
"#,
    wake = sym WAKE,
    woke = const WOKE,
);

unsafe extern "C" {
    fn testkit_power_down_entry();
}

/// Arms the virtual timer `ms` ahead (its PPI enabled when there is a
/// GIC, so that it wakes the vCPU); returns the deadline.
fn arm_timer(machine: &Machine, ms: u64) -> Result<u64, crate::detail::Detail> {
    if machine.has_gic() {
        gic::enable_ppi(gic::VTIMER_INTID)?;
    }
    let deadline = counter::now() + counter::ticks_from_ms(ms);
    vtimer::arm_at(deadline);
    Ok(deadline)
}

fn timer_off(machine: &Machine) {
    vtimer::off();
    if machine.has_gic() {
        gic::disable_ppi(gic::VTIMER_INTID);
    }
}

pub fn cpu_suspend_retention(machine: &Machine) -> TestResult {
    // Without a published standby state, StateID 0 is the plain standby
    // every implementation accepts.
    let param = machine.idle_state(false).unwrap_or(0);
    let deadline = arm_timer(machine, 1)?;
    // A standby may end early on any wake-up event: call until the timer's.
    let bound = Deadline::after_ms(BOUND_MS);
    let mut calls = 0u64;
    let mut result = SUCCESS;
    while !vtimer::fired() && !bound.expired() && result == SUCCESS {
        result = psci::call(psci::CPU_SUSPEND_64, u64::from(param), 0, 0);
        calls += 1;
    }
    let woke_at = counter::now();
    let fired = vtimer::fired();
    timer_off(machine);
    if result != SUCCESS {
        fail!("CPU_SUSPEND({param:#x}) (standby): expected 0, got {result}");
    }
    if !fired {
        fail!("timer not fired after {BOUND_MS} ms of CPU_SUSPEND({param:#x}) ({calls} calls)");
    }
    if woke_at < deadline {
        fail!("woke at {woke_at:#x}, before the timer's deadline {deadline:#x}");
    }
    Ok(detail!(
        "state {param:#x}: {calls} call(s), woke {} ticks after the deadline",
        woke_at - deadline
    ))
}

pub fn cpu_suspend_power_down(machine: &Machine) -> TestResult {
    let Some(param) = machine.idle_state(true) else {
        return Ok(detail!("skipped: no power-down idle state published"));
    };
    let cs = |state: u32, entry: u64| psci::call(psci::CPU_SUSPEND_64, u64::from(state), entry, 0);
    let refusals = [
        (
            param,
            NOT_RAM,
            INVALID_ADDRESS,
            "an entry point outside RAM",
        ),
        (
            param | CLUSTER_LEVEL,
            0,
            INVALID_PARAMETERS,
            "the cluster level",
        ),
        (
            POWER_DOWN | 0x7fff,
            0,
            INVALID_PARAMETERS,
            "an unpublished power-down state",
        ),
    ];
    for (state, entry, want, what) in refusals {
        let got = cs(state, entry);
        if got != want {
            fail!(
                "CPU_SUSPEND({state:#x}, entry {entry:#x}) with {what}: expected {want}, got {got}"
            );
        }
    }

    let sctlr = read_sysreg!("sctlr_el1");
    let daif = read_sysreg!("daif");
    // A data cache that is on must be off at the entry point.
    write_sysreg!("sctlr_el1", sctlr | SCTLR_C);
    isb();
    let deadline = arm_timer(machine, 1)?;
    let entry = testkit_power_down_entry as *const () as u64;
    // The resume point is the context id: the entry point resumes it.
    let (mut point, mut got) = (0, SUCCESS);
    let code = guard::with_resume_point(&mut |p| {
        point = p;
        got = psci::call(psci::CPU_SUSPEND_64, u64::from(param), entry, p);
    });
    let woke_at = counter::now();
    let fired = vtimer::fired();
    write_sysreg!("sctlr_el1", sctlr);
    write_sysreg!("daif", daif);
    isb();
    timer_off(machine);

    match (code, got) {
        (WOKE, _) => {}
        (_, SUCCESS) => fail!(
            "CPU_SUSPEND({param:#x}) (power-down) returned SUCCESS instead of waking at its entry point"
        ),
        (_, e) => fail!("CPU_SUSPEND({param:#x}) (power-down): error {e}"),
    }
    if !fired || woke_at < deadline {
        fail!("woke at {woke_at:#x} before the timer's deadline {deadline:#x} (ISTATUS {fired})");
    }
    // SAFETY: the entry point wrote WAKE with the MMU off (device memory,
    // uncached) before it resumed us: read it back as it was written.
    let [x0, daif_seen, el, sctlr_seen] = unsafe { core::ptr::read_volatile(WAKE.0.get()) };
    if x0 != point {
        fail!("entry point's x0 = {x0:#x}, expected the context id {point:#x}");
    }
    if daif_seen != DAIF_ALL {
        fail!("DAIF at the entry point = {daif_seen:#x}, expected {DAIF_ALL:#x} (all masked)");
    }
    if el != EL1H {
        fail!("CurrentEL|SPSel at the entry point = {el:#x}, expected {EL1H:#x} (EL1h)");
    }
    if sctlr_seen & (SCTLR_M | SCTLR_C) != 0 {
        fail!("SCTLR_EL1 at the entry point = {sctlr_seen:#x}: MMU or data cache still on");
    }
    Ok(detail!(
        "state {param:#x}: woke at the entry point {} ticks after the deadline, EL1h, DAIF masked, SCTLR_EL1 {sctlr_seen:#x}",
        woke_at - deadline
    ))
}
