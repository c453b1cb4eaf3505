//! The EL1 virtual timer (CNTV_CTL_EL0 / CNTV_CVAL_EL0, Arm ARM D11.2): its
//! interrupt is PPI 27, level-sensitive, asserted while ENABLE = 1,
//! IMASK = 0 and CNTVCT >= CVAL (then CNTV_CTL_EL0.ISTATUS reads 1).

use crate::counter::Deadline;
use crate::gic;
use crate::sysreg::{isb, read_sysreg, wfi, write_sysreg};

pub const CNTV_CTL_ENABLE: u64 = 1 << 0;
pub const CNTV_CTL_IMASK: u64 = 1 << 1;
pub const CNTV_CTL_ISTATUS: u64 = 1 << 2;

/// Fires when CNTVCT_EL0 reaches `cval`, interrupt unmasked.
pub fn arm_at(cval: u64) {
    write_sysreg!("cntv_cval_el0", cval);
    write_sysreg!("cntv_ctl_el0", CNTV_CTL_ENABLE);
    isb();
}

/// Fires `ticks` from now (CNTV_TVAL_EL0: CVAL = CNTVCT + TVAL); returns the
/// resulting CVAL.
pub fn arm_after(ticks: u64) -> u64 {
    write_sysreg!("cntv_tval_el0", ticks);
    write_sysreg!("cntv_ctl_el0", CNTV_CTL_ENABLE);
    isb();
    read_sysreg!("cntv_cval_el0")
}

/// Keeps the timer running but deasserts its interrupt (IMASK), as a handler
/// must before EOI of a level-sensitive interrupt.
pub fn mask_interrupt() {
    write_sysreg!("cntv_ctl_el0", CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
    isb();
}

pub fn control() -> u64 {
    read_sysreg!("cntv_ctl_el0")
}

/// Its condition is met (ISTATUS): CNTVCT has reached CVAL.
pub fn fired() -> bool {
    control() & CNTV_CTL_ISTATUS != 0
}

pub fn off() {
    write_sysreg!("cntv_ctl_el0", 0);
    isb();
}

/// Arms the timer for `deadline` and executes WFI, PSTATE.I as it is, until
/// its condition is met (ISTATUS) or `bound_ms` pass; returns the last
/// CNTV_CTL_EL0 and how many WFIs ran. The timer stays armed.
pub fn wfi_until_fired(deadline: u64, bound_ms: u64) -> (u64, u64) {
    arm_at(deadline);
    let bound = Deadline::after_ms(bound_ms);
    let mut wfis = 0u64;
    let mut ctl = control();
    while ctl & CNTV_CTL_ISTATUS == 0 && !bound.expired() {
        wfi();
        wfis += 1;
        ctl = control();
    }
    (ctl, wfis)
}

/// Takes its interrupt, pending at the GIC, as a handler would: acknowledge
/// it, turn the timer off, end it; so the next WFI has nothing pending.
pub fn take_interrupt() {
    let intid = gic::acknowledge();
    off();
    if intid == gic::VTIMER_INTID {
        gic::end_of_interrupt(intid);
    }
}
