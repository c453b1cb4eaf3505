//! WFI wakes up on the virtual timer (CNTV_*, Arm ARM D11.2) with PSTATE.I masked.

use super::TestResult;
use crate::counter::{self, Deadline};
use crate::detail::{detail, fail};
use crate::gic;
use crate::machine::Machine;
use crate::sysreg::{isb, read_sysreg, wfi, write_sysreg};

const CNTV_CTL_ENABLE: u64 = 1 << 0;
const CNTV_CTL_ISTATUS: u64 = 1 << 2;
const BOUND_MS: u64 = 1000;

fn timer_off() {
    write_sysreg!("cntv_ctl_el0", 0);
    isb();
}

pub fn wfi_wakeup(machine: &Machine) -> TestResult {
    // Route the timer PPI to this CPU when the machine has a GICv3: without a
    // pending interrupt at the CPU interface nothing wakes WFI (PSTATE.I stays
    // masked, so it is never taken). A machine without one must end WFI when
    // the timer condition is met by other means (a hypervisor does).
    if machine.gic_v3 {
        gic::enable_ppi(gic::VTIMER_INTID)?;
    }
    let deadline = counter::now() + counter::ticks_from_ms(1);
    write_sysreg!("cntv_cval_el0", deadline);
    write_sysreg!("cntv_ctl_el0", CNTV_CTL_ENABLE);
    isb();

    let bound = Deadline::after_ms(BOUND_MS);
    let mut wakeups = 0u64;
    let mut ctl = read_sysreg!("cntv_ctl_el0");
    while ctl & CNTV_CTL_ISTATUS == 0 && !bound.expired() {
        wfi();
        wakeups += 1;
        ctl = read_sysreg!("cntv_ctl_el0");
    }
    let woke_at = counter::now();
    timer_off();
    if machine.gic_v3 {
        gic::disable_ppi(gic::VTIMER_INTID);
    }

    if ctl & CNTV_CTL_ISTATUS == 0 {
        fail!("CNTV_CTL_EL0.ISTATUS still 0 after {BOUND_MS} ms of WFI ({wakeups} wake-ups, CTL={ctl:#x})");
    }
    if woke_at < deadline {
        fail!("ISTATUS set but CNTVCT {woke_at:#x} is before the deadline {deadline:#x}");
    }
    Ok(detail!(
        "{wakeups} wfi, woke {} ticks after the deadline",
        woke_at - deadline
    ))
}
