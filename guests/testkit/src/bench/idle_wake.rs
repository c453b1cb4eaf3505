//! `wfi_wake` and `retention_wake`: counter ticks from the virtual timer's
//! deadline to the first instruction after the idle call that it ends (WFI,
//! or PSCI CPU_SUSPEND into the published retention state), with PSTATE.I
//! masked. Each round arms the timer a little ahead, so the vCPU has blocked
//! and its pCPU gone idle before the deadline: what is measured is the
//! wake-up, from the pCPU's timer interrupt to the vCPU running again. Under
//! `-icount shift=0` with the other pCPU idle, that is the instructions of
//! Aerie's wake-up path.

use crate::counter::{self, Deadline};
use crate::detail::{fail, Detail};
use crate::gic;
use crate::machine::Machine;
use crate::psci;
use crate::sysreg::wfi;
use crate::vtimer;

/// Each round waits for a deadline: fewer than the trap benchmarks.
pub const MAX_ITERS: u64 = 1000;
/// How far ahead each deadline is: long enough for the vCPU to block.
const AHEAD_US: u64 = 50;
const BOUND_MS: u64 = 100;

/// Arms the timer `AHEAD_US` ahead, idles with `idle` until it fires, and
/// returns the ticks from the deadline to the wake-up; the interrupt is then
/// acknowledged and ended so that the next round starts with nothing pending.
fn round(idle: &mut dyn FnMut(), i: u64) -> Result<u64, Detail> {
    let deadline = counter::now() + AHEAD_US * counter::frequency() / 1_000_000;
    vtimer::arm_at(deadline);
    let bound = Deadline::after_ms(BOUND_MS);
    let mut woke = 0;
    while !vtimer::fired() {
        if bound.expired() {
            fail!("round {i}: timer not fired within {BOUND_MS} ms");
        }
        idle();
        woke = counter::now();
    }
    vtimer::take_interrupt();
    // The timer had fired before the first idle call (the guest was slow):
    // no wake-up to measure, a failure of the set-up, not of Aerie.
    if woke == 0 {
        fail!("round {i}: the deadline passed before the vCPU idled");
    }
    Ok(woke.saturating_sub(deadline))
}

fn measure(machine: &Machine, iters: u64, idle: &mut dyn FnMut()) -> Result<(u64, u64), Detail> {
    if !machine.has_gic() {
        fail!("no GICv3 or GICv2 in the device tree");
    }
    let iters = iters.min(MAX_ITERS);
    gic::enable_ppi(gic::VTIMER_INTID)?;
    let mut ticks = 0;
    let mut result = Ok(());
    for i in 0..iters {
        match round(idle, i) {
            Ok(t) => ticks += t,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    gic::disable_ppi(gic::VTIMER_INTID);
    result.map(|()| (iters, ticks))
}

pub fn wfi_wake(machine: &Machine, iters: u64) -> Result<(u64, u64), Detail> {
    measure(machine, iters, &mut wfi)
}

pub fn retention_wake(machine: &Machine, iters: u64) -> Result<(u64, u64), Detail> {
    let Some(state) = machine.idle_state(false) else {
        fail!("no retention idle state in the device tree");
    };
    let mut suspend = || {
        psci::call(psci::CPU_SUSPEND_64, u64::from(state), 0, 0);
    };
    measure(machine, iters, &mut suspend)
}
