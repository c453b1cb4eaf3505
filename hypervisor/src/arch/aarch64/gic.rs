//! The GIC's CPU interface as EL2 uses it: the physical interface (ICC_*)
//! for Aerie's own interrupts, and the virtualisation controls (ICH_*)
//! through which guests get theirs. On a host with a GICv2 the same calls
//! go to its memory-mapped GICC and GICH frames instead (`gic_v2`); the
//! list registers keep the ICH_LR<n>_EL2 image either way.

use super::gic_v2 as v2;
use super::sysreg::{isb, read_sysreg, write_sysreg};

/// ICC_SRE_EL2: SRE (system registers), DFB/DIB, and Enable, which lets
/// EL1 use its own (virtual) system-register interface.
const ICC_SRE_EL2_VALUE: u64 = 0b1111;
/// ICC_CTLR_EL1.EOImode = 1: a write to ICC_EOIR1 only drops priority; the
/// interrupt stays active until ICC_DIR deactivates it.
const ICC_CTLR_EOIMODE: u64 = 1 << 1;
/// ICH_HCR_EL2 bits.
const ICH_HCR_EN: u64 = 1 << 0;

/// Enable this CPU's interface: system registers, all priorities unmasked,
/// EOImode 1, Group 1 on; and the virtual interface for guests.
pub fn init_cpu_interface() {
    if v2::active() {
        v2::init_cpu_interface();
        v2::set_hcr(ICH_HCR_EN as u32);
        return;
    }
    write_sysreg!(icc_sre_el2, ICC_SRE_EL2_VALUE);
    isb();
    write_sysreg!(icc_pmr_el1, 0xf0);
    write_sysreg!(icc_bpr1_el1, 0);
    write_sysreg!(icc_ctlr_el1, ICC_CTLR_EOIMODE);
    write_sysreg!(icc_igrpen1_el1, 1);
    write_sysreg!(ich_hcr_el2, ICH_HCR_EN);
    isb();
}

/// Acknowledge the highest-priority pending Group 1 interrupt: its
/// acknowledgement, which [`end_of_interrupt`] and [`deactivate`] take
/// back (a GICv2 adds an SGI's sender to the INTID: [`intid`]).
#[inline]
pub fn acknowledge() -> u32 {
    if v2::active() {
        return v2::acknowledge();
    }
    let intid = read_sysreg!(icc_iar1_el1) as u32 & 0xff_ffff;
    // The read must complete before the handler's side effects.
    super::sysreg::dsb_sy();
    intid
}

/// The INTID of an acknowledgement ([`acknowledge`]).
#[inline(always)]
pub const fn intid(ack: u32) -> u32 {
    if v2::active() {
        ack & 0x3ff
    } else {
        ack
    }
}

/// Priority drop (EOImode 1) of the interrupt `ack` acknowledged.
#[inline]
pub fn end_of_interrupt(ack: u32) {
    if v2::active() {
        return v2::end_of_interrupt(ack);
    }
    write_sysreg!(icc_eoir1_el1, ack as u64);
}

/// Deactivate (EOImode 1) the interrupt `ack` acknowledged (a PPI's INTID
/// is its acknowledgement).
#[inline]
pub fn deactivate(ack: u32) {
    if v2::active() {
        return v2::deactivate(ack);
    }
    write_sysreg!(icc_dir_el1, ack as u64);
}

/// Send SGI `intid` to the CPUs of `targets` (Aff0 bit list) in cluster
/// `aff1` (affinity routing; Aff2 = Aff3 = 0).
pub fn send_sgi(intid: u32, aff1: u64, targets: u16) {
    if v2::active() {
        return v2::send_sgi(intid, aff1, targets);
    }
    let value = ((intid as u64 & 0xf) << 24) | (aff1 << 16) | targets as u64;
    super::sysreg::dsb_sy();
    write_sysreg!(icc_sgi1r_el1, value);
    isb();
}

/// Number of list registers this CPU implements (ICH_VTR_EL2.ListRegs + 1).
pub fn list_register_count() -> usize {
    if v2::active() {
        // GICH_VTR.ListRegs is 6 bits, but GICv2 has at most 64 and the
        // vGIC uses 16 at most.
        return ((v2::vtr() & 0x3f) as usize + 1).min(16);
    }
    (read_sysreg!(ich_vtr_el2) & 0x1f) as usize + 1
}

/// ICH_HCR_EL2 (GICH_HCR) as it is, for code that turns the virtual
/// interface off for a while and back on.
pub fn virtual_interface_control() -> u64 {
    if v2::active() {
        return u64::from(v2::hcr());
    }
    read_sysreg!(ich_hcr_el2)
}

/// Set ICH_HCR_EL2 (GICH_HCR).
pub fn set_virtual_interface_control(value: u64) {
    if v2::active() {
        return v2::set_hcr(value as u32);
    }
    write_sysreg!(ich_hcr_el2, value);
}

/// The maintenance interrupts a vCPU asks for while it runs: ICH_HCR_EL2's
/// enable bits for them (one byte, so that the entry path compares it at
/// once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Maintenance(u8);

impl Maintenance {
    pub const NONE: Maintenance = Maintenance(0);
    /// ICH_HCR_EL2.UIE and .NPIE (bits 1 and 3).
    const UIE_SHIFT: u8 = 1;
    const NPIE_SHIFT: u8 = 3;

    /// `underflow`: the list registers ran (nearly) empty, refill them
    /// (UIE); `no_pending`: no list register holds a pending interrupt any
    /// more, stop signalling through HCR_EL2.VI (NPIE; see
    /// `vm::irq::SIGNAL_BY_HCR`).
    #[inline(always)]
    pub fn new(underflow: bool, no_pending: bool) -> Self {
        Maintenance(
            ((underflow as u8) << Self::UIE_SHIFT) | ((no_pending as u8) << Self::NPIE_SHIFT),
        )
    }

    /// Whether NPIE is asked for (so HCR_EL2.VI is set).
    pub fn no_pending(self) -> bool {
        self.0 & (1 << Self::NPIE_SHIFT) != 0
    }
}

/// Request exactly the maintenance interrupts of `m`.
pub fn set_maintenance(m: Maintenance) {
    set_virtual_interface_control(ICH_HCR_EN | u64::from(m.0));
}

macro_rules! lr_access {
    ($($n:literal => $reg:ident),*) => {
        /// Read list register `n`.
        pub fn read_lr(n: usize) -> u64 {
            if v2::active() {
                return v2::read_lr(n);
            }
            match n {
                $($n => read_sysreg!($reg),)*
                _ => 0,
            }
        }
        /// Write list register `n`.
        pub fn write_lr(n: usize, value: u64) {
            if v2::active() {
                return v2::write_lr(n, value);
            }
            match n {
                $($n => write_sysreg!($reg, value),)*
                _ => {}
            }
        }
    };
}

lr_access!(0 => ich_lr0_el2, 1 => ich_lr1_el2, 2 => ich_lr2_el2, 3 => ich_lr3_el2,
    4 => ich_lr4_el2, 5 => ich_lr5_el2, 6 => ich_lr6_el2, 7 => ich_lr7_el2,
    8 => ich_lr8_el2, 9 => ich_lr9_el2, 10 => ich_lr10_el2, 11 => ich_lr11_el2,
    12 => ich_lr12_el2, 13 => ich_lr13_el2, 14 => ich_lr14_el2, 15 => ich_lr15_el2);

/// The virtual CPU interface state a vCPU carries between pCPUs.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualInterface {
    /// ICH_VMCR_EL2: the guest's PMR, BPR and group enables.
    pub vmcr: u64,
    /// ICH_AP0R0_EL2 / ICH_AP1R0_EL2: active priorities (5 priority bits
    /// need only register 0).
    pub ap0r0: u64,
    pub ap1r0: u64,
}

impl VirtualInterface {
    pub fn save(&mut self) {
        if v2::active() {
            // GICH_VMCR's fields sit where ICH_VMCR_EL2's do; GICH_APR is
            // the one active-priorities register.
            self.vmcr = u64::from(v2::vmcr());
            self.ap0r0 = 0;
            self.ap1r0 = u64::from(v2::apr());
            return;
        }
        self.vmcr = read_sysreg!(ich_vmcr_el2);
        self.ap0r0 = read_sysreg!(ich_ap0r0_el2);
        self.ap1r0 = read_sysreg!(ich_ap1r0_el2);
    }

    pub fn load(&self) {
        if v2::active() {
            v2::set_vmcr(self.vmcr as u32);
            v2::set_apr((self.ap0r0 | self.ap1r0) as u32);
            return;
        }
        write_sysreg!(ich_vmcr_el2, self.vmcr);
        write_sysreg!(ich_ap0r0_el2, self.ap0r0);
        write_sysreg!(ich_ap1r0_el2, self.ap1r0);
    }
}

/// The live guest priority mask of the loaded vCPU.
pub fn live_pmr() -> u8 {
    (live_vmcr() >> 24) as u8
}

/// The running priority of the loaded vCPU's virtual interface: the
/// lowest active priority in ICH_AP0R0/ICH_AP1R0_EL2 (bit n stands for
/// priority n << (8 - PREbits)), 0x100 when nothing is active.
pub fn live_running_priority() -> u64 {
    let (active, vtr) = if v2::active() {
        (u64::from(v2::apr()), u64::from(v2::vtr()))
    } else {
        (
            (read_sysreg!(ich_ap0r0_el2) | read_sysreg!(ich_ap1r0_el2)) & 0xffff_ffff,
            read_sysreg!(ich_vtr_el2),
        )
    };
    if active == 0 {
        return 0x100;
    }
    let pre_bits = ((vtr >> 26) & 7) + 1;
    (active.trailing_zeros() as u64) << (8 - pre_bits)
}

/// The live ICH_VMCR_EL2 of the loaded vCPU: its PMR (bits 31:24) and
/// group enables (VENG0, bit 0; VENG1, bit 1).
pub fn live_vmcr() -> u64 {
    if v2::active() {
        return u64::from(v2::vmcr());
    }
    read_sysreg!(ich_vmcr_el2)
}

/// ICC_PMR_EL1: the priority mask. Aerie's "interrupts off" for regular code
/// is a write of PMR_REGULAR_MASKED here, never PSTATE.I (see `irq::mask`).
#[inline(always)]
pub fn set_priority_mask(pmr: u8) {
    if v2::active() {
        return v2::set_priority_mask(pmr);
    }
    write_sysreg!(icc_pmr_el1, pmr as u64);
}

#[inline(always)]
pub fn priority_mask() -> u8 {
    if v2::active() {
        return v2::priority_mask();
    }
    read_sysreg!(icc_pmr_el1) as u8
}

/// ICC_RPR_EL1: the running priority (that of the interrupt being handled;
/// 0xFF when none).
#[inline(always)]
pub fn running_priority() -> u8 {
    if v2::active() {
        return v2::running_priority();
    }
    read_sysreg!(icc_rpr_el1) as u8
}
