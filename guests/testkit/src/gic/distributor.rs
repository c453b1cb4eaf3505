//! The distributor (GICD, GICv3 spec IHI 0069 §12.9): global enables and the
//! configuration of SPIs. With affinity routing (ARE) on, SGIs and PPIs are
//! configured in each CPU's redistributor instead.

use super::is_v2;
use super::mmio::{bit_position, read32, set_priority_byte, wait_until, write32, write64};
use crate::detail::{fail, Detail};

const GICD_BASE: usize = 0x0800_0000;

const GICD_CTLR: usize = 0x0000;
const GICD_TYPER: usize = 0x0004;
const GICD_IIDR: usize = 0x0008;
const GICD_IGROUPR: usize = 0x0080;
const GICD_ISENABLER: usize = 0x0100;
const GICD_ICENABLER: usize = 0x0180;
const GICD_ISPENDR: usize = 0x0200;
const GICD_ICPENDR: usize = 0x0280;
const GICD_ICACTIVER: usize = 0x0380;
const GICD_IPRIORITYR: usize = 0x0400;
const GICD_ICFGR: usize = 0x0c00;
const GICD_IROUTER: usize = 0x6000;
/// GICv2: one CPU-mask byte per INTID.
const GICD_ITARGETSR: usize = 0x0800;

/// EnableGrp1 (EnableGrp1NS in the Non-secure view of a GIC with two
/// security states; the same bit).
const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICv2 (no Security Extensions): EnableGrp0, the testkit's group there.
const GICD_CTLR_ENABLE_GRP0: u32 = 1 << 0;
/// ARE (ARE_NS in the Non-secure view): affinity routing.
const GICD_CTLR_ARE: u32 = 1 << 4;
/// Register Write Pending: an earlier GICD_CTLR or GICD_ICENABLER write is
/// still taking effect.
const GICD_CTLR_RWP: u32 = 1 << 31;

fn wait_for_rwp() -> Result<(), Detail> {
    if !wait_until(|| read32(GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP == 0) {
        fail!("GICD_CTLR.RWP stuck at 1");
    }
    Ok(())
}

/// GICD_TYPER and GICD_IIDR: what the distributor is (read-only, constant
/// for the machine's life).
pub fn identity() -> (u32, u32) {
    (
        read32(GICD_BASE + GICD_TYPER),
        read32(GICD_BASE + GICD_IIDR),
    )
}

/// Turns on affinity routing and group 1 (idempotent); on a GICv2, which
/// has no affinity routing, both groups.
pub fn enable() -> Result<(), Detail> {
    let ctlr = read32(GICD_BASE + GICD_CTLR);
    if is_v2() {
        write32(
            GICD_BASE + GICD_CTLR,
            ctlr | GICD_CTLR_ENABLE_GRP0 | GICD_CTLR_ENABLE_GRP1,
        );
        return Ok(());
    }
    write32(
        GICD_BASE + GICD_CTLR,
        ctlr | GICD_CTLR_ARE | GICD_CTLR_ENABLE_GRP1,
    );
    wait_for_rwp()
}

/// Makes SPI `intid` a level-sensitive group-1 interrupt of `priority`,
/// delivered to the CPU whose MPIDR affinity is `affinity` (Aff3 in [39:32],
/// Aff2..Aff0 in [23:0]: GICD_IROUTER's layout, with IRM = 0). On a GICv2:
/// Group 0, to the CPU interface numbered as its Aff0 (GICD_ITARGETSR).
pub fn configure_level_spi(intid: u32, priority: u8, affinity: u64) {
    let (offset, bit) = bit_position(intid);
    let group = GICD_BASE + GICD_IGROUPR + offset;
    if is_v2() {
        write32(group, read32(group) & !bit);
    } else {
        write32(group, read32(group) | bit);
    }
    set_priority_byte(GICD_BASE + GICD_IPRIORITYR, intid, priority);
    // Two bits per INTID; Int_config[1] (the upper one) = 0 selects level.
    let cfg = GICD_BASE + GICD_ICFGR + (intid as usize / 16) * 4;
    let edge = 2 << ((intid % 16) * 2);
    write32(cfg, read32(cfg) & !edge);
    if is_v2() {
        set_priority_byte(GICD_BASE + GICD_ITARGETSR, intid, 1 << (affinity & 7));
    } else {
        write64(
            GICD_BASE + GICD_IROUTER + intid as usize * 8,
            affinity & 0xff_00ff_ffff,
        );
    }
}

pub fn enable_spi(intid: u32) {
    let (offset, bit) = bit_position(intid);
    write32(GICD_BASE + GICD_ISENABLER + offset, bit);
}

/// Disables SPI `intid` and waits until the distributor has stopped
/// forwarding it (RWP), then drops any pending or active state it left.
pub fn disable_spi(intid: u32) -> Result<(), Detail> {
    let (offset, bit) = bit_position(intid);
    write32(GICD_BASE + GICD_ICENABLER + offset, bit);
    let settled = wait_for_rwp();
    write32(GICD_BASE + GICD_ICPENDR + offset, bit);
    write32(GICD_BASE + GICD_ICACTIVER + offset, bit);
    settled
}

pub fn is_spi_pending(intid: u32) -> bool {
    let (offset, bit) = bit_position(intid);
    read32(GICD_BASE + GICD_ISPENDR + offset) & bit != 0
}
