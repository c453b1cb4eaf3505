//! GICv3 access (spec IHI 0069) at the addresses of the `virt`-shaped machine
//! (ARCHITECTURE.md §4): enough for the timer wake-up and the interrupt tests.
//! A GICv2 (IHI 0048, what Aerie gives its guests on a GIC-400 host) is
//! driven through the same calls after [`use_v2`]: its CPU interface is
//! memory-mapped (GICC), its SGIs and PPIs are banked in the distributor,
//! SPIs are routed by CPU masks and SGIs sent through GICD_SGIR. The
//! testkit's interrupts are then Group 0 (signalled as IRQs: FIQEn is
//! clear), since a GICv2's IAR acknowledges Group 1 only with AckCtl.

mod cpu_interface;
pub mod distributor;
mod gicc;
mod mmio;
mod redistributor;

pub use cpu_interface::*;
pub use redistributor::{Redistributor, ALL_PRIVATE};

use crate::detail::Detail;
use core::sync::atomic::{AtomicBool, Ordering};

/// Whether the machine's GIC is a GICv2 (set once at boot from the DT).
static V2: AtomicBool = AtomicBool::new(false);

/// Drive a GICv2 from now on (the device tree describes one).
pub fn use_v2(on: bool) {
    V2.store(on, Ordering::SeqCst);
}

/// Whether the GIC is a GICv2.
#[inline(always)]
pub fn is_v2() -> bool {
    V2.load(Ordering::Relaxed)
}

/// The virtual timer's PPI (INTID 27 on `virt`, per its DT "timer" node).
pub const VTIMER_INTID: u32 = 27;

/// The priority of regular interrupts (ARCHITECTURE.md §6).
pub const PRIORITY_REGULAR: u8 = 0xa0;
/// A priority mask that lets every regular interrupt through.
pub const PMR_ALL: u8 = 0xf0;

/// Readies this CPU for group-1 interrupts: the distributor's affinity
/// routing and group 1 (shared, idempotent), this CPU's redistributor awake,
/// the system-register CPU interface with EOImode 0, priority mask `pmr`,
/// group 1 enabled. Returns this CPU's redistributor.
pub fn init_this_cpu(pmr: u8) -> Result<Redistributor, Detail> {
    distributor::enable()?;
    let rd = Redistributor::this_cpu()?;
    rd.wake()?;
    enable_system_registers();
    set_priority_mask(pmr);
    enable_group1(true);
    Ok(rd)
}

/// Enables group-1 delivery of a PPI to this CPU at the regular priority,
/// with every priority unmasked (PMR 0xff): used to make the PPI wake WFI.
pub fn enable_ppi(intid: u32) -> Result<(), Detail> {
    let rd = init_this_cpu(0xff)?;
    rd.configure(intid, PRIORITY_REGULAR);
    rd.enable(intid);
    Ok(())
}

/// Disables the PPI again and drops any pending state it left behind.
pub fn disable_ppi(intid: u32) {
    if let Ok(rd) = Redistributor::this_cpu() {
        rd.quiesce(1 << intid);
    }
}
