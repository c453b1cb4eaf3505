//! A VM's real-time clock alarm: the PL031's interrupt line (SPI 2, as on
//! QEMU virt) given to the vGIC, and the moment Aerie must look again.
//!
//! The device ([`aerie_vdev::Pl031`]) holds no timer. After every guest
//! access this records when its line will rise by itself; the machine keeps
//! the earliest such moment of all VMs (`Machine::set_rtc_alarm`) among the
//! deadlines an idle pCPU sleeps until, and when a pCPU's timer fires (idle
//! or at a time slice's end) [`fire_due`] raises the lines that are due. An
//! alarm therefore wakes a guest that sleeps with no timer of its own
//! (`rtcwake`).

use super::{VmState, RTC_INTID};
use crate::sched::Machine;
use crate::wall_clock;

/// Gives VM `v`'s RTC line to the vGIC if it moved, and re-reckons the
/// machine's next alarm. After each guest access to the RTC.
pub fn update(m: &mut Machine, cpu: usize, v: usize) {
    let (now, _) = wall_clock::now();
    give_line(m, cpu, v, now);
    reckon(m, now);
}

/// Gives VM `v`'s RTC line, as it stands at host second `now`, to the vGIC
/// if it moved (a kick makes the vCPU it is for look).
fn give_line(m: &mut Machine, cpu: usize, v: usize, now: u64) {
    let vm = &mut m.vms[v];
    let level = vm.rtc.irq_level(now);
    if level != vm.rtc_irq {
        vm.rtc_irq = level;
        let kick = vm.vgic.set_spi_level(RTC_INTID, level);
        m.kick(cpu, v, kick);
    }
}

/// Sets the machine's next alarm: the earliest moment (counter) after
/// `now` a running VM's RTC line rises by itself.
fn reckon(m: &mut Machine, now: u64) {
    let next = m
        .vms
        .iter()
        .filter(|vm| vm.state == VmState::Running)
        .filter_map(|vm| vm.rtc.alarm(now))
        .min()
        .map(wall_clock::counter_at);
    m.set_rtc_alarm(next);
}

/// The machine's next alarm is due: raise the lines of the running VMs
/// whose alarm has come (a VM stopped meanwhile is passed over), then
/// reckon the next one once.
#[cold]
pub fn fire_due(m: &mut Machine, cpu: usize) {
    let (now, _) = wall_clock::now();
    for v in 0..m.vms.len() {
        if m.vms[v].state == VmState::Running {
            give_line(m, cpu, v, now);
        }
    }
    reckon(m, now);
}
