//! Just enough GICv3 to let the virtual timer's PPI reach this CPU (so a pending
//! timer interrupt wakes WFI even with PSTATE.I masked). Addresses are those of
//! the `virt`-shaped machine (ARCHITECTURE.md §4). Registers: GICv3 spec (IHI 0069).

use crate::detail::{fail, Detail};
use crate::sysreg::{isb, read_sysreg, write_sysreg};

const GICD_BASE: usize = 0x0800_0000;
const GICR_BASE: usize = 0x080a_0000;
/// RD_base + SGI_base frames of one redistributor (no VLPI frames in GICv3 `virt`).
const GICR_STRIDE: usize = 0x2_0000;
const GICR_MAX_FRAMES: usize = 64;

const GICD_CTLR: usize = 0x0000;
const GICD_CTLR_ENABLE_GRP1: u32 = 1 << 1;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICD_CTLR_RWP: u32 = 1 << 31;

const GICR_WAKER: usize = 0x0014;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const GICR_TYPER: usize = 0x0008;
const GICR_TYPER_LAST: u64 = 1 << 4;
const SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = SGI_BASE + 0x0080;
const GICR_ISENABLER0: usize = SGI_BASE + 0x0100;
const GICR_ICENABLER0: usize = SGI_BASE + 0x0180;
const GICR_ICPENDR0: usize = SGI_BASE + 0x0280;
const GICR_IPRIORITYR: usize = SGI_BASE + 0x0400;

/// The virtual timer's PPI (INTID 27 on `virt`, per its DT "timer" node).
pub const VTIMER_INTID: u32 = 27;

fn read32(addr: usize) -> u32 {
    // SAFETY: callers pass 4-aligned GIC register addresses inside the
    // distributor/redistributor windows, which are MMIO in this machine.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write32(addr: usize, value: u32) {
    // SAFETY: as for read32; these writes only configure the GIC.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn read64(addr: usize) -> u64 {
    // SAFETY: as for read32 (8-aligned 64-bit GICR register).
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    (0..1_000_000).any(|_| done())
}

/// The redistributor whose GICR_TYPER.Affinity_Value matches this CPU.
fn this_redistributor() -> Result<usize, Detail> {
    let mpidr = read_sysreg!("mpidr_el1");
    let affinity = ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0xff_ffff);
    for i in 0..GICR_MAX_FRAMES {
        let rd = GICR_BASE + i * GICR_STRIDE;
        let typer = read64(rd + GICR_TYPER);
        if typer >> 32 == affinity {
            return Ok(rd);
        }
        if typer & GICR_TYPER_LAST != 0 {
            break;
        }
    }
    fail!("no GICv3 redistributor for affinity {affinity:#x} at {GICR_BASE:#x}")
}

/// Enables group-1 delivery of a PPI to this CPU at the lowest usable priority.
pub fn enable_ppi(intid: u32) -> Result<(), Detail> {
    let ctlr = read32(GICD_BASE + GICD_CTLR);
    write32(
        GICD_BASE + GICD_CTLR,
        ctlr | GICD_CTLR_ARE | GICD_CTLR_ENABLE_GRP1,
    );
    if !wait_until(|| read32(GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP == 0) {
        fail!("GICD_CTLR.RWP stuck");
    }
    let rd = this_redistributor()?;
    let waker = read32(rd + GICR_WAKER);
    write32(rd + GICR_WAKER, waker & !GICR_WAKER_PROCESSOR_SLEEP);
    if !wait_until(|| read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP == 0) {
        fail!("GICR_WAKER.ChildrenAsleep stuck");
    }
    let bit = 1u32 << intid;
    write32(rd + GICR_IGROUPR0, read32(rd + GICR_IGROUPR0) | bit);
    let prio_reg = rd + GICR_IPRIORITYR + (intid as usize & !3);
    let shift = (intid % 4) * 8;
    write32(
        prio_reg,
        (read32(prio_reg) & !(0xff << shift)) | (0xa0 << shift),
    );
    write32(rd + GICR_ISENABLER0, bit);

    // CPU interface: system registers, all priorities, group 1 on.
    write_sysreg!("s3_0_c12_c12_5", read_sysreg!("s3_0_c12_c12_5") | 1); // ICC_SRE_EL1.SRE
    isb();
    write_sysreg!("s3_0_c4_c6_0", 0xff); // ICC_PMR_EL1
    write_sysreg!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    isb();
    Ok(())
}

/// Disables the PPI again and drops any pending state it left behind.
pub fn disable_ppi(intid: u32) {
    if let Ok(rd) = this_redistributor() {
        write32(rd + GICR_ICENABLER0, 1 << intid);
        write32(rd + GICR_ICPENDR0, 1 << intid);
    }
}
