//! `timer-left=leave` and `timer-left=stay`: two VMs on one pCPU, for a VM
//! that powers off with its virtual timer armed. The stayer arms its timer
//! 300 ms ahead and waits for it in WFI, so its vCPU is blocked; the leaver
//! spins meanwhile (the stayer gets its turn and blocks), then arms its own
//! timer 20 ms ahead, interrupt unmasked, and powers off at once. Aerie
//! must turn the leaver's timer off with its state: left armed in the
//! pCPU, it fires there while nothing is loaded, and the stayer must still
//! wake at its deadline and power off.

use crate::console::println;
use crate::counter;
use crate::gic;
use crate::machine::Machine;
use crate::psci;
use crate::vtimer;

/// How long the leaver spins first: many of Aerie's 4 ms slices.
const SPIN_MS: u64 = 50;
/// How far ahead the leaver arms its timer, and the stayer its own.
const LEAVER_AHEAD_MS: u64 = 20;
const STAYER_AHEAD_MS: u64 = 300;
/// The stayer gives up after this (Aerie then failed it another way).
const STAYER_BOUND_MS: u64 = 5_000;

pub fn leave() -> ! {
    counter::spin_ms(SPIN_MS);
    vtimer::arm_at(counter::now() + counter::ticks_from_ms(LEAVER_AHEAD_MS));
    println!("timer-left: leaving with the virtual timer armed {LEAVER_AHEAD_MS} ms ahead");
    psci::system_off()
}

pub fn stay(machine: &Machine) {
    if !machine.has_gic() {
        println!("timer-left: FAIL: no GIC in the device tree");
        return;
    }
    if let Err(e) = gic::enable_ppi(gic::VTIMER_INTID) {
        println!("timer-left: FAIL: {e}");
        return;
    }
    let deadline = counter::now() + counter::ticks_from_ms(STAYER_AHEAD_MS);
    let (ctl, _) = vtimer::wfi_until_fired(deadline, STAYER_BOUND_MS);
    if ctl & vtimer::CNTV_CTL_ISTATUS == 0 {
        println!("timer-left: FAIL: the timer did not fire within {STAYER_BOUND_MS} ms");
        return;
    }
    let late_ms = (counter::now() - deadline) * 1000 / counter::frequency();
    vtimer::take_interrupt();
    gic::disable_ppi(gic::VTIMER_INTID);
    println!("timer-left: PASS: the stayer woke {late_ms} ms after its deadline");
}
