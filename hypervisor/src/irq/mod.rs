//! Aerie's own interrupts: the host GIC (v3, or v2), the priority plan, and
//! dispatch.
//!
//! Priority plan (`aerie_irqplan`, ARCHITECTURE.md "Interrupts"):
//!
//! | priority / PMR | meaning |
//! |---|---|
//! | 0x20 | pseudo-NMIs: watchdog, stop/dump SGI, profiler |
//! | 0xA0 | regular interrupts: slice timer, kicks, virtual timer, console |
//! | PMR 0xF0 | everything enabled (a guest runs, a pCPU idles) |
//! | PMR 0xA0 | "interrupts off" for Aerie's code: only pseudo-NMIs get in |
//!
//! The values hold whether the CPU interface shows priorities as written or
//! as a GIC with two security states stores them (`aerie_irqplan::plan`).
//!
//! Aerie's Rust code runs with PSTATE.I clear and PMR at 0xA0 (see
//! [`NmiWindow`]), so a pseudo-NMI can interrupt it anywhere, even with the
//! machine lock held. Regular interrupts reach Aerie as guest exits (they
//! are let through while a guest runs) or, on an idle pCPU, as EL2
//! interrupts ([`el2_irq`]).

pub mod bench;
pub mod drain;
pub mod gicv2;
pub mod gicv3;
pub mod host_gic;
pub mod pnmi;
pub mod private;
pub mod profiler;
mod spi_regs;
pub mod stop;
pub mod watchdog;

use crate::arch::aarch64::{daif, gic};
use crate::panic::ExceptionFrame;
use aerie_irqplan::{classify, on_irq, Class};
pub use aerie_irqplan::{
    PMR_ALL, PMR_REGULAR_MASKED, PPI_HYP_TIMER, PPI_MAINTENANCE, PPI_PMU, PPI_VIRTUAL_TIMER,
    PPI_WATCHDOG, PRIORITY_REGULAR, SGI_KICK, SGI_STOP,
};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Aerie's code between an exit's entry and the return to the guest: PMR at
/// the regular-masked level and PSTATE.I clear, so pseudo-NMIs get in.
/// Dropping it sets PSTATE.I and opens the PMR for the guest again: from
/// there to the ERET the CPU must not take an interrupt at EL2.
pub struct NmiWindow(());

impl NmiWindow {
    #[inline(always)]
    pub fn open() -> Self {
        gic::set_priority_mask(PMR_REGULAR_MASKED);
        daif::unmask_irq();
        NmiWindow(())
    }
}

impl Drop for NmiWindow {
    #[inline(always)]
    fn drop(&mut self) {
        daif::mask_irq();
        gic::set_priority_mask(PMR_ALL);
    }
}

/// Events regular interrupts leave for the code they interrupted (an idle
/// pCPU), per pCPU.
pub mod event {
    pub const TICK: u32 = 1 << 0;
    pub const INPUT: u32 = 1 << 1;
    pub const KICK: u32 = 1 << 2;
    /// Frames wait at the uplink (the host's network card).
    pub const UPLINK: u32 = 1 << 3;
    /// The machine's power button was pressed.
    pub const POWER_BUTTON: u32 = 1 << 4;
    /// The host disk returned requests.
    pub const DISK: u32 = 1 << 5;
}

static EVENTS: [AtomicU32; crate::sched::MAX_PCPUS] =
    [const { AtomicU32::new(0) }; crate::sched::MAX_PCPUS];

/// Take this pCPU's pending events.
pub fn take_events(cpu: usize) -> u32 {
    EVENTS[cpu].swap(0, Ordering::AcqRel)
}

/// This pCPU's pending events, left in place.
pub fn peek_events(cpu: usize) -> u32 {
    EVENTS[cpu].load(Ordering::Acquire)
}

/// Called by vectors.S for an interrupt taken at EL2 (PSTATE.I set by the
/// exception). Acknowledges it and runs it by its class: a pseudo-NMI with
/// PSTATE.I still set; a regular interrupt with the priority mask raised and
/// PSTATE.I clear, so only pseudo-NMIs preempt it. EOImode = 1: priority drop
/// (EOIR) then deactivation (DIR), and the interrupted PMR is restored.
#[no_mangle]
pub extern "C" fn el2_irq(frame: &ExceptionFrame) {
    let ack = gic::acknowledge();
    let intid = gic::intid(ack);
    let class = classify(intid, gic::running_priority());
    let entry = on_irq(class, gic::priority_mask());
    match class {
        Class::Spurious => {}
        Class::PseudoNmi => {
            pnmi::handle(intid, pnmi::Interrupted::Aerie(frame));
            gic::end_of_interrupt(ack);
            gic::deactivate(ack);
        }
        Class::Regular => {
            gic::set_priority_mask(entry.new_pmr);
            if entry.unmask {
                daif::unmask_irq();
            }
            regular(intid);
            daif::mask_irq();
            gic::end_of_interrupt(ack);
            gic::deactivate(ack);
            gic::set_priority_mask(entry.saved_pmr);
        }
    }
}

/// `aerie.test=spin-in-irq`: the next kick this pCPU takes at EL2 never
/// finishes its handler (regular interrupts masked by the priority mask).
/// Only the watchdog's pseudo-NMI can notice.
pub static SPIN_IN_HANDLER: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn spin_in_handler() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A regular interrupt at EL2 (an idle pCPU): note it for the idle loop.
fn regular(intid: u32) {
    let cpu = crate::sched::this_cpu();
    if intid == SGI_KICK && bench::in_regular_handler() {
        return;
    }
    if intid == SGI_KICK && SPIN_IN_HANDLER.load(Ordering::SeqCst) {
        spin_in_handler();
    }
    let bit = match intid {
        PPI_HYP_TIMER => {
            crate::arch::aarch64::cpu::disarm_hyp_timer();
            event::TICK
        }
        SGI_KICK | PPI_MAINTENANCE | PPI_VIRTUAL_TIMER => event::KICK,
        other if other == crate::sched::CONSOLE_INTID.load(Ordering::Relaxed) => {
            crate::console::receive();
            event::INPUT
        }
        other if other == crate::drivers::uplink::intid() => {
            crate::drivers::uplink::acknowledge();
            event::UPLINK
        }
        other if other != 0 && other == crate::drivers::disk::intid() => {
            crate::drivers::disk::acknowledge();
            event::DISK
        }
        other if Some(other) == crate::drivers::power_button::intid() => {
            if crate::drivers::power_button::acknowledge() {
                event::POWER_BUTTON
            } else {
                0
            }
        }
        _ => event::KICK,
    };
    watchdog::progress(cpu);
    EVENTS[cpu].fetch_or(bit, Ordering::AcqRel);
}
