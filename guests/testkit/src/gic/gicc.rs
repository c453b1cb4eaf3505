//! A GICv2's memory-mapped CPU interface (GICC, IHI 0048 §4.4), at the
//! address the `virt` shape gives it: under Aerie on a GIC-400 host, the
//! hardware's virtual CPU interface. `cpu_interface` calls in here when
//! the GIC is a GICv2, out of line, so that the GICv3's paths (which the
//! interrupt benchmarks run through) stay as short as they were. The
//! testkit's interrupts are Group 0 there.

use super::mmio::{read32, write32};

const GICC_BASE: usize = 0x0801_0000;
const GICC_CTLR: usize = 0x000;
const GICC_PMR: usize = 0x004;
const GICC_BPR: usize = 0x008;
const GICC_IAR: usize = 0x00c;
const GICC_EOIR: usize = 0x010;
const GICC_RPR: usize = 0x014;
/// GICC_CTLR: EnableGrp0 (the testkit's group on a GICv2) and EOImode.
const GICC_CTLR_ENABLE_GRP0: u32 = 1 << 0;
const GICC_CTLR_EOIMODE: u32 = 1 << 9;
/// GICC_IAR: the INTID in [9:0], an SGI's sender in [12:10]; EOIR takes
/// both back.
const GICC_IAR_MASK: u32 = 0x1fff;
/// The GICv2 distributor's GICD_SGIR: CPUTargetList [23:16], SGIINTID
/// [3:0], TargetListFilter 0 (the list).
const GICD_SGIR: usize = 0x0800_0000 + 0xf00;

fn reg(offset: usize) -> usize {
    GICC_BASE + offset
}

/// EOImode 0: an EOIR write both drops priority and deactivates.
#[cold]
#[inline(never)]
pub fn clear_eoimode() {
    write32(reg(GICC_CTLR), read32(reg(GICC_CTLR)) & !GICC_CTLR_EOIMODE);
}

/// GICC_CTLR.EnableGrp0: Group 0 interrupts reach this CPU (as IRQs, FIQEn
/// being clear).
#[cold]
#[inline(never)]
pub fn enable_group0(on: bool) {
    let ctlr = read32(reg(GICC_CTLR)) & !GICC_CTLR_ENABLE_GRP0;
    write32(
        reg(GICC_CTLR),
        ctlr | if on { GICC_CTLR_ENABLE_GRP0 } else { 0 },
    );
}

#[cold]
#[inline(never)]
pub fn set_priority_mask(pmr: u8) {
    write32(reg(GICC_PMR), u32::from(pmr));
}

#[cold]
#[inline(never)]
pub fn priority_mask() -> u8 {
    read32(reg(GICC_PMR)) as u8
}

#[cold]
#[inline(never)]
pub fn set_binary_point(bpr: u8) {
    write32(reg(GICC_BPR), u32::from(bpr));
}

#[cold]
#[inline(never)]
pub fn binary_point() -> u8 {
    read32(reg(GICC_BPR)) as u8 & 7
}

#[cold]
#[inline(never)]
pub fn running_priority() -> u8 {
    read32(reg(GICC_RPR)) as u8
}

/// GICC_IAR: the INTID, with an SGI's sender above it.
#[cold]
#[inline(never)]
pub fn acknowledge() -> u32 {
    read32(reg(GICC_IAR)) & GICC_IAR_MASK
}

/// GICC_EOIR with what GICC_IAR returned.
#[cold]
#[inline(never)]
pub fn end_of_interrupt(ack: u32) {
    write32(reg(GICC_EOIR), ack);
}

/// SGI `intid` to the CPU interface numbered as `affinity`'s Aff0 (Aerie's
/// vCPUs, and QEMU's CPUs, are numbered so).
#[cold]
#[inline(never)]
pub fn send_sgi(intid: u32, affinity: u64) {
    let target = 1u32 << (affinity & 7);
    write32(GICD_SGIR, target << 16 | (intid & 0xf));
}
