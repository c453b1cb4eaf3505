//! The GICv3 CPU interface through its system registers (ICC_*_EL1, IHI 0069
//! §12.2). Under a hypervisor with GICv3 virtualization the same encodings
//! reach the virtual interface (ICV_*), except ICC_SGI1R_EL1 which traps.
//! On a GICv2 each call goes to the memory-mapped interface (`gicc`).

use super::{gicc, is_v2};
use crate::sysreg::{isb, read_sysreg, write_sysreg};

/// The INTID bits of an acknowledgement the testkit looks at.
const INTID_BITS: u32 = 0x3ff;

/// INTIDs 1020-1023 are special: nothing to acknowledge (1023 = spurious).
pub const FIRST_SPECIAL_INTID: u32 = 1020;

/// ICC_SRE_EL1.SRE: use the system-register interface (not GICC MMIO).
const ICC_SRE_SRE: u64 = 1 << 0;
/// ICC_CTLR_EL1.EOImode: 0 = an EOIR write both drops the running priority
/// and deactivates; 1 = deactivation needs a separate ICC_DIR_EL1 write.
const ICC_CTLR_EOIMODE: u64 = 1 << 1;
/// ICC_IAR1_EL1.INTID, bits [23:0].
const ICC_IAR_INTID_MASK: u64 = 0xff_ffff;

/// Switches to the system-register interface and clears EOImode, so an EOI
/// alone completes an interrupt.
pub fn enable_system_registers() {
    if is_v2() {
        return gicc::clear_eoimode();
    }
    write_sysreg!(
        "s3_0_c12_c12_5",
        read_sysreg!("s3_0_c12_c12_5") | ICC_SRE_SRE
    ); // ICC_SRE_EL1
    isb();
    write_sysreg!(
        "s3_0_c12_c12_4", // ICC_CTLR_EL1
        read_sysreg!("s3_0_c12_c12_4") & !ICC_CTLR_EOIMODE
    );
    isb();
}

/// ICC_IGRPEN1_EL1.Enable: group-1 interrupts reach this CPU.
pub fn enable_group1(on: bool) {
    if is_v2() {
        return gicc::enable_group0(on);
    }
    write_sysreg!("s3_0_c12_c12_7", u64::from(on));
    isb();
}

/// ICC_PMR_EL1: only interrupts with a priority value strictly below the
/// mask are signalled.
#[inline(always)]
pub fn set_priority_mask(pmr: u8) {
    if is_v2() {
        return gicc::set_priority_mask(pmr);
    }
    write_sysreg!("s3_0_c4_c6_0", u64::from(pmr));
    isb();
}

#[inline(always)]
pub fn priority_mask() -> u8 {
    if is_v2() {
        return gicc::priority_mask();
    }
    read_sysreg!("s3_0_c4_c6_0") as u8
}

/// ICC_BPR1_EL1: how many low priority bits are subpriority (no preemption
/// between interrupts that differ only there). Values below the minimum the
/// GIC supports are raised to it: read it back.
pub fn set_binary_point1(bpr: u8) {
    if is_v2() {
        return gicc::set_binary_point(bpr);
    }
    write_sysreg!("s3_0_c12_c12_3", u64::from(bpr));
    isb();
}

pub fn binary_point1() -> u8 {
    if is_v2() {
        return gicc::binary_point();
    }
    read_sysreg!("s3_0_c12_c12_3") as u8 & 7
}

/// ICC_RPR_EL1: the group priority of the highest-priority active interrupt
/// (0xff when none is active).
#[inline(always)]
pub fn running_priority() -> u8 {
    if is_v2() {
        return gicc::running_priority();
    }
    read_sysreg!("s3_0_c12_c11_3") as u8
}

/// Acknowledges the highest-priority pending group-1 interrupt
/// (ICC_IAR1_EL1; GICC_IAR on a GICv2): it becomes active and its
/// acknowledgement is returned, which [`end_of_interrupt`] takes back: the
/// INTID, and on a GICv2 an SGI's sender above it ([`intid_of`]).
#[inline(always)]
pub fn acknowledge() -> u32 {
    if is_v2() {
        return gicc::acknowledge();
    }
    let iar: u64;
    // SAFETY: reading ICC_IAR1_EL1 changes only GIC state (the interrupt
    // becomes active). Not `nomem`: it must not move across the memory
    // accesses that record what the handler saw.
    unsafe { core::arch::asm!("mrs {}, s3_0_c12_c12_0", out(reg) iar, options(nostack)) };
    (iar & ICC_IAR_INTID_MASK) as u32
}

/// The INTID of an [`acknowledge`] value: its low 10 bits on both GICs
/// (a GICv2 puts an SGI's sender above them; the testkit's INTIDs, the
/// special ones included, are all below 1024), so no test of the version.
#[inline(always)]
pub fn intid_of(ack: u32) -> u32 {
    ack & INTID_BITS
}

/// ICC_EOIR1_EL1 (GICC_EOIR), EOImode 0: drops the running priority and
/// deactivates the interrupt `ack` ([`acknowledge`]'s value) names.
#[inline(always)]
pub fn end_of_interrupt(ack: u32) {
    if is_v2() {
        return gicc::end_of_interrupt(ack);
    }
    let intid = ack;
    write_sysreg!("s3_0_c12_c12_1", u64::from(intid));
    isb();
}

/// The ICC_SGI1R_EL1 value sending SGI `intid` to the one CPU with MPIDR
/// affinity `affinity` (Aff3 in [39:32], Aff2..Aff0 in [23:0]): Aff3 [55:48],
/// RS [47:44] (which block of 16 Aff0 values TargetList covers), Aff2 [39:32],
/// INTID [27:24], Aff1 [23:16], TargetList [15:0]; IRM = 0.
pub fn sgi1r_value(intid: u32, affinity: u64) -> u64 {
    let aff0 = affinity & 0xff;
    let aff1 = (affinity >> 8) & 0xff;
    let aff2 = (affinity >> 16) & 0xff;
    let aff3 = (affinity >> 32) & 0xff;
    (aff3 << 48)
        | ((aff0 >> 4) << 44)
        | (aff2 << 32)
        | ((u64::from(intid) & 0xf) << 24)
        | (aff1 << 16)
        | (1 << (aff0 & 0xf))
}

/// Generates group-1 SGI `intid` for the CPU with affinity `affinity` (on
/// a GICv2, through GICD_SGIR, to the CPU interface numbered as its Aff0:
/// Aerie's vCPUs).
#[inline(always)]
pub fn send_sgi(intid: u32, affinity: u64) {
    if is_v2() {
        return gicc::send_sgi(intid, affinity);
    }
    write_sysreg!("s3_0_c12_c11_5", sgi1r_value(intid, affinity)); // ICC_SGI1R_EL1
    isb();
}
