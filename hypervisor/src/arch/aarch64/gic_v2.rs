//! The GICv2 CPU interface (GICC) and virtual interface control (GICH), for
//! hosts whose GIC is a GICv2 (GIC-400): memory-mapped frames where a
//! GICv3 has the ICC_* and ICH_* system registers. `gic` calls in here in
//! Aerie's GICv2 build ([`active`]: the `gicv2` feature); nothing else does.
//! The choice is made when Aerie is built, not at run time, because the
//! CPU interface is on every exit's and every interrupt's path: a test
//! there cost a GICv3 host 5 instructions an MMIO exit and 19 an interrupt.
//!
//! Both frames are banked per CPU at one address, so one base serves every
//! pCPU. Aerie's interrupts are Group 0 on a GIC with one security state
//! (Group 1 would need AckCtl to be acknowledged) and the firmware's
//! Non-secure Group 1 on a GIC with two; the bits Aerie sets in GICD_CTLR
//! and GICC_CTLR mean "enable, EOImode 1" in both views.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

const GICC_CTLR: usize = 0x000;
const GICC_PMR: usize = 0x004;
const GICC_BPR: usize = 0x008;
const GICC_IAR: usize = 0x00c;
const GICC_EOIR: usize = 0x010;
const GICC_RPR: usize = 0x014;
const GICC_DIR: usize = 0x1000;
/// GICC_CTLR: EnableGrp0 (EnableGrp1 in the Non-secure view) and EOImode
/// (EOImodeNS): a write to GICC_EOIR only drops priority, GICC_DIR
/// deactivates.
const GICC_CTLR_VALUE: u32 = 1 | 1 << 9;
/// GICC_IAR: the INTID (bits 9:0) and an SGI's sender (bits 12:10).
const IAR_MASK: u32 = 0x1fff;

const GICD_SGIR: usize = 0xf00;

const GICH_HCR: usize = 0x000;
const GICH_VTR: usize = 0x004;
const GICH_VMCR: usize = 0x008;
const GICH_APR: usize = 0x0f0;
const GICH_LR0: usize = 0x100;

/// Direct-map addresses of the host's GICC, GICD and GICH (set once at
/// boot by [`install`]).
static GICC: AtomicUsize = AtomicUsize::new(0);
static GICD: AtomicUsize = AtomicUsize::new(0);
static GICH: AtomicUsize = AtomicUsize::new(0);
/// Physical address of the GICV, which guests' stage 2 maps.
static GICV: AtomicU64 = AtomicU64::new(0);

/// The CPU interfaces: each CPU's MPIDR (affinity fields) plus one (0: a
/// free slot) and its CPU interface mask, what GICD_SGIR's target list and
/// GICD_ITARGETSR<n> name it by. A GICv2 has at most 8 CPU interfaces,
/// not always numbered as Aff0 (a board with two clusters has Aff1 too).
static INTERFACES: [(AtomicU64, AtomicU8); 8] =
    [const { (AtomicU64::new(0), AtomicU8::new(0)) }; 8];

/// Use a GICv2 from now on: the direct-map addresses of its frames, and
/// the physical address of its GICV.
///
/// # Safety
/// Each address must be the host GIC's frame of that kind, mapped as device
/// memory for good (GICC: 8 KiB, GICD: 4 KiB, GICH: 4 KiB); `gicv_pa` its
/// virtual CPU interface (8 KiB).
pub unsafe fn install(gicc: usize, gicd: usize, gich: usize, gicv_pa: u64) {
    GICV.store(gicv_pa, Ordering::Relaxed);
    GICD.store(gicd, Ordering::Relaxed);
    GICH.store(gich, Ordering::Relaxed);
    GICC.store(gicc, Ordering::Release);
}

/// Whether this is Aerie's GICv2 build (a constant, so the other build's
/// branches compile away).
#[inline(always)]
pub const fn active() -> bool {
    cfg!(feature = "gicv2")
}

/// The GICV's physical address, on a GICv2 host.
pub fn virtual_cpu_interface() -> Option<u64> {
    active().then(|| GICV.load(Ordering::Relaxed))
}

fn read(base: &AtomicUsize, offset: usize) -> u32 {
    let addr = base.load(Ordering::Relaxed) + offset;
    // SAFETY: `install` promised a mapped GIC frame of this kind; every
    // offset used here lies inside it.
    unsafe { read_volatile(addr as *const u32) }
}

fn write(base: &AtomicUsize, offset: usize, value: u32) {
    let addr = base.load(Ordering::Relaxed) + offset;
    // SAFETY: as for `read`.
    unsafe { write_volatile(addr as *mut u32, value) }
}

/// Record that the CPU with `mpidr` is CPU interface `mask` (a single bit,
/// as its GICD_ITARGETSR0 reads). Each CPU records itself as it starts.
pub fn set_interface(mpidr: u64, mask: u8) {
    let key = mpidr + 1;
    for (slot, interface) in &INTERFACES {
        let taken = slot.load(Ordering::Acquire);
        let claimed = taken == key
            || (taken == 0
                && slot
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok());
        if claimed {
            interface.store(mask, Ordering::Release);
            return;
        }
    }
}

/// The CPU interface mask of the CPU with `mpidr` (0 before it recorded
/// it).
pub fn interface(mpidr: u64) -> u8 {
    INTERFACES
        .iter()
        .find(|(slot, _)| slot.load(Ordering::Acquire) == mpidr + 1)
        .map_or(0, |(_, mask)| mask.load(Ordering::Acquire))
}

pub fn init_cpu_interface() {
    write(&GICC, GICC_PMR, 0xf0);
    write(&GICC, GICC_BPR, 0);
    write(&GICC, GICC_CTLR, GICC_CTLR_VALUE);
}

/// GICC_IAR: the INTID, and for an SGI the CPU that sent it in bits 12:10,
/// which GICC_EOIR and GICC_DIR must be given back (`gic::intid` takes the
/// INTID out).
pub fn acknowledge() -> u32 {
    let iar = read(&GICC, GICC_IAR) & IAR_MASK;
    super::sysreg::dsb_sy();
    iar
}

pub fn end_of_interrupt(ack: u32) {
    write(&GICC, GICC_EOIR, ack);
}

pub fn deactivate(ack: u32) {
    write(&GICC, GICC_DIR, ack);
}

/// SGI `intid` to the CPUs of cluster `aff1` with Aff0 in `targets` (a
/// bit list), by their CPU interfaces.
pub fn send_sgi(intid: u32, aff1: u64, targets: u16) {
    let mut list = 0u32;
    let mut rest = targets;
    while rest != 0 {
        let aff0 = u64::from(rest.trailing_zeros());
        rest &= rest - 1;
        list |= u32::from(interface(aff1 << 8 | aff0));
    }
    super::sysreg::dsb_sy();
    write(&GICD, GICD_SGIR, list << 16 | (intid & 0xf));
}

pub fn set_priority_mask(pmr: u8) {
    write(&GICC, GICC_PMR, u32::from(pmr));
}

pub fn priority_mask() -> u8 {
    read(&GICC, GICC_PMR) as u8
}

pub fn running_priority() -> u8 {
    read(&GICC, GICC_RPR) as u8
}

/// GICH_VTR: ListRegs in bits 5:0 (one less than the count), PREbits in
/// 28:26 as in ICH_VTR_EL2.
pub fn vtr() -> u32 {
    read(&GICH, GICH_VTR)
}

/// GICH_HCR: its low bits (En, UIE, LRENPIE, NPIE) are ICH_HCR_EL2's.
pub fn hcr() -> u32 {
    read(&GICH, GICH_HCR)
}

pub fn set_hcr(value: u32) {
    write(&GICH, GICH_HCR, value);
}

/// GICH_VMCR: the same fields at the same places as ICH_VMCR_EL2, with a
/// 5-bit priority mask in 31:27 (the top of ICH_VMCR_EL2's VPMR).
pub fn vmcr() -> u32 {
    read(&GICH, GICH_VMCR)
}

pub fn set_vmcr(value: u32) {
    write(&GICH, GICH_VMCR, value);
}

/// GICH_APR: the active priorities (one register for both groups).
pub fn apr() -> u32 {
    read(&GICH, GICH_APR)
}

pub fn set_apr(value: u32) {
    write(&GICH, GICH_APR, value);
}

/// List register `n` as the ICH_LR<n>_EL2 image the vGIC works in.
pub fn read_lr(n: usize) -> u64 {
    aerie_vgic::ListRegister::from_gich_lr(read(&GICH, GICH_LR0 + 4 * n)).0
}

/// Write the ICH_LR<n>_EL2 image `value` into list register `n`.
pub fn write_lr(n: usize, value: u64) {
    write(
        &GICH,
        GICH_LR0 + 4 * n,
        aerie_vgic::ListRegister(value).to_gich_lr(),
    );
}
