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

use super::TestResult;
use crate::counter::{self, Deadline};
use crate::detail::{detail, fail};
use crate::gic;
use crate::machine::Machine;
use crate::psci::{self, INVALID_PARAMETERS, SUCCESS};
use crate::sysreg::{isb, read_sysreg, write_sysreg};

/// PSCI INVALID_ADDRESS.
const INVALID_ADDRESS: i64 = -9;
/// power_state StateType: power-down.
const POWER_DOWN: u32 = 1 << 16;
/// power_state PowerLevel 1 (cluster).
const CLUSTER_LEVEL: u32 = 1 << 24;
const CNTV_CTL_ENABLE: u64 = 1 << 0;
const CNTV_CTL_ISTATUS: u64 = 1 << 2;
const SCTLR_M: u64 = 1 << 0;
const SCTLR_C: u64 = 1 << 2;
/// DAIF with D, A, I and F set.
const DAIF_ALL: u64 = 0xf << 6;
/// CurrentEL (EL in \[3:2\]) | SPSel: EL1 on SP_EL1.
const EL1H: u64 = (1 << 2) | 1;
const BOUND_MS: u64 = 1000;
/// Far outside guest RAM (QEMU virt's and Aerie's start at 1 GiB).
const NOT_RAM: u64 = 0x1000;

/// What `testkit_power_down` saves before the call, and what its entry
/// point records on waking. Offsets are the assembly's.
#[repr(C, align(16))]
#[derive(Default)]
struct PowerDownContext {
    /// x19..x30, sp.
    saved: [u64; 13],
    /// At the entry point: x0, DAIF, CurrentEL | SPSel, SCTLR_EL1.
    woke_x0: u64,
    woke_daif: u64,
    woke_el: u64,
    woke_sctlr: u64,
}

core::arch::global_asm!(
    r#"
    .section .text, "ax"
    // x0 = power_state, x1 = the PowerDownContext (also the context id).
    // Returns 1 after waking at the entry point, or CPU_SUSPEND's own
    // result if the call returned (SMCCC preserves x19..x30 and sp).
    .global testkit_power_down
testkit_power_down:
    stp     x19, x20, [x1, #0]
    stp     x21, x22, [x1, #16]
    stp     x23, x24, [x1, #32]
    stp     x25, x26, [x1, #48]
    stp     x27, x28, [x1, #64]
    stp     x29, x30, [x1, #80]
    mov     x2, sp
    str     x2, [x1, #96]
    mov     x3, x1
    mov     x1, x0
    adr     x2, testkit_power_down_entry
    movz    x0, #0xc400, lsl #16
    movk    x0, #0x0001
    hvc     #0
    ret

    // The power-down entry point: x0 = context id. MMU off, so the
    // context's address is the one saved above.
testkit_power_down_entry:
    str     x0, [x0, #104]
    mrs     x1, daif
    mrs     x2, CurrentEL
    mrs     x3, SPSel
    orr     x2, x2, x3
    stp     x1, x2, [x0, #112]
    mrs     x1, sctlr_el1
    str     x1, [x0, #128]
    ldp     x19, x20, [x0, #0]
    ldp     x21, x22, [x0, #16]
    ldp     x23, x24, [x0, #32]
    ldp     x25, x26, [x0, #48]
    ldp     x27, x28, [x0, #64]
    ldp     x29, x30, [x0, #80]
    ldr     x1, [x0, #96]
    mov     sp, x1
    mov     x0, #1
    ret
"#
);

unsafe extern "C" {
    fn testkit_power_down(power_state: u64, context: *mut PowerDownContext) -> i64;
}

/// Arms the virtual timer `ms` ahead (its PPI enabled when there is a
/// GIC, so that it wakes the vCPU); returns the deadline.
fn arm_timer(machine: &Machine, ms: u64) -> Result<u64, crate::detail::Detail> {
    if machine.gic_v3 {
        gic::enable_ppi(gic::VTIMER_INTID)?;
    }
    let deadline = counter::now() + counter::ticks_from_ms(ms);
    write_sysreg!("cntv_cval_el0", deadline);
    write_sysreg!("cntv_ctl_el0", CNTV_CTL_ENABLE);
    isb();
    Ok(deadline)
}

fn timer_off(machine: &Machine) {
    write_sysreg!("cntv_ctl_el0", 0);
    isb();
    if machine.gic_v3 {
        gic::disable_ppi(gic::VTIMER_INTID);
    }
}

fn timer_fired() -> bool {
    read_sysreg!("cntv_ctl_el0") & CNTV_CTL_ISTATUS != 0
}

pub fn cpu_suspend_retention(machine: &Machine) -> TestResult {
    // Without a published standby state, StateID 0 is the plain standby
    // every implementation accepts.
    let param = machine
        .idle_states()
        .iter()
        .copied()
        .find(|p| p & POWER_DOWN == 0)
        .unwrap_or(0);
    let deadline = arm_timer(machine, 1)?;
    // A standby may end early on any wake-up event: call until the timer's.
    let bound = Deadline::after_ms(BOUND_MS);
    let mut calls = 0u64;
    let mut result = SUCCESS;
    while !timer_fired() && !bound.expired() && result == SUCCESS {
        result = psci::call(psci::CPU_SUSPEND_64, u64::from(param), 0, 0);
        calls += 1;
    }
    let woke_at = counter::now();
    let fired = timer_fired();
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
    let Some(param) = machine
        .idle_states()
        .iter()
        .copied()
        .find(|p| p & POWER_DOWN != 0)
    else {
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
    let mut ctx = PowerDownContext::default();
    let ctx_addr = &raw mut ctx;
    let deadline = arm_timer(machine, 1)?;
    // SAFETY: the call saves x19..x30 and sp in `ctx` and either returns
    // normally or, after the power-down, comes back through its entry point,
    // which restores exactly those registers and returns 1 to this caller:
    // for Rust it is an ordinary call that may clobber the caller-saved
    // registers. `ctx` outlives the call.
    let got = unsafe { testkit_power_down(u64::from(param), ctx_addr) };
    let woke_at = counter::now();
    let fired = timer_fired();
    write_sysreg!("sctlr_el1", sctlr);
    write_sysreg!("daif", daif);
    isb();
    timer_off(machine);

    match got {
        1 => {}
        SUCCESS => fail!(
            "CPU_SUSPEND({param:#x}) (power-down) returned SUCCESS instead of waking at its entry point"
        ),
        e => fail!("CPU_SUSPEND({param:#x}) (power-down): error {e}"),
    }
    if !fired || woke_at < deadline {
        fail!("woke at {woke_at:#x} before the timer's deadline {deadline:#x} (ISTATUS {fired})");
    }
    // SAFETY: the entry point wrote these fields with the MMU off (device
    // memory, uncached): read them back as it wrote them.
    let (x0, daif_seen, el, sctlr_seen) = unsafe {
        (
            core::ptr::read_volatile(&raw const ctx.woke_x0),
            core::ptr::read_volatile(&raw const ctx.woke_daif),
            core::ptr::read_volatile(&raw const ctx.woke_el),
            core::ptr::read_volatile(&raw const ctx.woke_sctlr),
        )
    };
    if x0 != ctx_addr as u64 {
        fail!(
            "entry point's x0 = {x0:#x}, expected the context id {:#x}",
            ctx_addr as u64
        );
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
