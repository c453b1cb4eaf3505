//! What a GICv2 and a GICv3 distributor have alike: the SPIs' per-INTID
//! registers (group, enables, priorities, configuration) at the same
//! offsets (IHI 0048B 4.1.2, IHI 0069 12.9), and GICD_TYPER's count of
//! them. Each driver adds what is its own: a GICv3's affinity routing and
//! RWP, a GICv2's CPU masks and banked private interrupts.

use super::PRIORITY_REGULAR;
use core::ptr::{read_volatile, write_volatile};

pub(super) const GICD_TYPER: usize = 0x004;
pub(super) const GICD_IGROUPR: usize = 0x080;
pub(super) const GICD_ISENABLER: usize = 0x100;
pub(super) const GICD_ICENABLER: usize = 0x180;
pub(super) const GICD_IPRIORITYR: usize = 0x400;
const GICD_ICFGR: usize = 0xc00;

/// A 32-bit register of a GIC frame.
pub(super) fn read32(addr: usize) -> u32 {
    // SAFETY: the GIC drivers pass addresses in the frames they were given,
    // mapped as device memory in the direct map for good.
    unsafe { read_volatile(addr as *const u32) }
}

pub(super) fn write32(addr: usize, value: u32) {
    // SAFETY: as for read32.
    unsafe { write_volatile(addr as *mut u32, value) }
}

/// Every SPI of the distributor at `dist` disabled, in Group 1 (`group1`)
/// or Group 0, at the regular priority. Its forwarding must be off.
pub(super) fn reset(dist: usize, group1: bool) {
    let lines = ((read32(dist + GICD_TYPER) & 0x1f) as usize + 1) * 32;
    let groups = if group1 { u32::MAX } else { 0 };
    for i in (32..lines).step_by(32) {
        write32(dist + GICD_ICENABLER + i / 8, u32::MAX);
        write32(dist + GICD_IGROUPR + i / 8, groups);
    }
    let prio = u32::from_ne_bytes([PRIORITY_REGULAR; 4]);
    for i in (32..lines).step_by(4) {
        write32(dist + GICD_IPRIORITYR + i, prio);
    }
}

/// Make SPI `intid` edge-triggered (GICD_ICFGR<n>, bit 1 of its pair), for
/// a device that pulses its line, whose pulse a level-sensitive SPI would
/// not keep. Before the SPI is enabled.
pub(super) fn set_edge_triggered(dist: usize, intid: u32) {
    let reg = dist + GICD_ICFGR + (intid as usize / 16) * 4;
    write32(reg, read32(reg) | 2 << (2 * (intid % 16)));
}

/// Enable SPI `intid` (routed already).
pub(super) fn enable(dist: usize, intid: u32) {
    write32(
        dist + GICD_ISENABLER + (intid as usize / 32) * 4,
        1 << (intid % 32),
    );
}
