//! Host interrupts that made a guest exit, acknowledged before the exit
//! handler runs (PSTATE.I still set, the priority mask still open).

use super::{PPI_HYP_TIMER, PPI_MAINTENANCE, PPI_VIRTUAL_TIMER, SGI_KICK};
use crate::arch::aarch64::{cpu, gic};
use crate::sched::{this_cpu, CONSOLE_INTID};
use core::sync::atomic::Ordering;

/// What a round of host interrupts asked for.
#[derive(Default, Clone, Copy)]
pub struct HostEvents {
    /// The slice timer fired.
    pub tick: bool,
    /// The running vCPU's virtual timer fired (already acknowledged; the
    /// caller forwards it).
    pub vtimer: bool,
    /// Console input is waiting.
    pub input: bool,
    /// Frames wait at the uplink.
    pub uplink: bool,
    /// The host disk returned requests.
    pub disk: bool,
    /// The machine's power button was pressed.
    pub power_button: bool,
}

/// Acknowledge every pending host interrupt after a guest exit (PSTATE.I
/// still set, priority mask still open). Pseudo-NMIs are handled on the spot
/// (the guest's state is the interrupted context); regular ones become
/// events for the exit handler. The running vCPU's virtual timer interrupt
/// is forwarded to it and stays active until the guest completes it.
pub fn drain_host_interrupts(guest: crate::irq::pnmi::Interrupted) -> HostEvents {
    let mut events = HostEvents::default();
    loop {
        let ack = gic::acknowledge();
        let intid = gic::intid(ack);
        if intid >= 1020 {
            return events;
        }
        if aerie_irqplan::classify(intid, gic::running_priority())
            == aerie_irqplan::Class::PseudoNmi
        {
            crate::irq::pnmi::handle(intid, guest.same());
            gic::end_of_interrupt(ack);
            gic::deactivate(ack);
            continue;
        }
        crate::irq::watchdog::progress(this_cpu());
        gic::end_of_interrupt(ack);
        match intid {
            PPI_VIRTUAL_TIMER => {
                // Left active: the guest's EOI of the forwarded (HW) virtual
                // interrupt deactivates it.
                events.vtimer = true;
                continue;
            }
            PPI_HYP_TIMER => {
                cpu::disarm_hyp_timer();
                events.tick = true;
            }
            SGI_KICK => {}
            PPI_MAINTENANCE => {
                // A level that stays high while its condition holds (the
                // list registers as the guest left them): silenced here, or
                // it would be taken again at once. The exit path reads the
                // list registers back (vm::irq::sync, which forgets the
                // requests) and asks again for what the next entry needs.
                gic::set_maintenance(gic::Maintenance::NONE);
            }
            other if other == CONSOLE_INTID.load(Ordering::Relaxed) => {
                crate::console::receive();
                events.input = true;
            }
            other if other == crate::drivers::uplink::intid() => {
                crate::drivers::uplink::acknowledge();
                events.uplink = true;
            }
            other if other != 0 && other == crate::drivers::disk::intid() => {
                crate::drivers::disk::acknowledge();
                events.disk = true;
            }
            other if Some(other) == crate::drivers::power_button::intid() => {
                events.power_button |= crate::drivers::power_button::acknowledge();
            }
            other => log::warn!("unexpected host interrupt {other}"),
        }
        gic::deactivate(ack);
    }
}
