//! Running a user world at EL0 (C6): the EL1&0 regime's set-up, the entry
//! and the exits (el0.S), and what an exit left in the EL1 syndrome
//! registers.
//!
//! While a world runs, this pCPU's EL1 system registers belong to it (the
//! caller makes sure no vCPU's state is live here). The world's exceptions
//! go to EL1, where the shim forwards them with an HVC; Aerie then reads
//! ESR_EL1, FAR_EL1 and ELR_EL1 and resumes the world directly at EL0.

use super::cpu::CpuInfo;
use super::sysreg::{isb, read_sysreg, write_sysreg};
use aerie_pagetable::MAIR_EL2_VALUE;

/// A world's general-purpose state, as el0.S stores and loads it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct UserRegs {
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
}

// el0.S's offsets (UREGS_SP, UREGS_PSTATE; x0..x30 as in GuestRegs).
const _: () = assert!(core::mem::offset_of!(UserRegs, sp) == 248);
const _: () = assert!(core::mem::offset_of!(UserRegs, pc) == 256);
const _: () = assert!(core::mem::offset_of!(UserRegs, pstate) == 264);

/// Why `run` came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A synchronous exception: from the shim (an EL0 exception it
    /// forwarded, see [`ForwardedException`]) or taken to EL2 directly (a
    /// debug exception with MDCR_EL2.TDE set).
    Sync,
    /// A physical interrupt is pending for Aerie.
    Irq,
    /// An SError, or an exception from AArch32 (which a world cannot be).
    Error(u64),
}

extern "C" {
    static aerie_el1_shim: u8;
    fn aerie_user_run(regs: *mut UserRegs) -> u64;
}

/// The kernel virtual address of the EL1 shim page.
pub fn shim_page() -> u64 {
    &raw const aerie_el1_shim as u64
}

/// The vector index of "synchronous exception from a lower EL, AArch64"
/// in the shim: the HVC immediate of an EL0 exception.
pub const SHIM_LOWER_SYNC: u64 = 8;

// HCR_EL2 while a world runs: EL1 is AArch64 (RW); physical interrupts,
// FIQs and SErrors to EL2 (IMO, FMO, AMO). TGE and VM are clear: EL0 runs in
// the EL1&0 regime with its own stage 1 and no stage 2.
const HCR_USER: u64 = (1 << 31) | (1 << 3) | (1 << 4) | (1 << 5);

/// SCTLR_EL1 of a world: MMU, caches, SP alignment checks at EL1 and EL0.
/// EL0 may not wait (nTWI, nTWE clear), use DC ZVA (DZE), cache
/// maintenance (UCI), read CTR_EL0 (UCT) or touch DAIF (UMA): all trap to
/// EL1 and end the world. The RES1 bits of ARMv8.0 (11, 20, 22, 23, 28, 29).
const SCTLR_USER: u64 = 1 | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 12) | 0x30d0_0800;

/// CNTKCTL_EL1.EL0VCTEN: EL0 may read the virtual counter (its clock).
const CNTKCTL_USER: u64 = 1 << 1;

/// What a pCPU's EL1 regime and guest controls held before a world ran.
pub struct SavedEl1 {
    hcr: u64,
    vttbr: u64,
    ich_hcr: u64,
    cntvoff: u64,
}

/// Make this pCPU's EL1&0 regime the worlds': translation through the
/// level-1 table `root` (39-bit, 4 KiB granule, TTBR1 walks off), the shim
/// at `vbar`, no FP/SIMD (CPACR_EL1.FPEN = 0: it traps to the shim). The
/// TLB entries of the EL1&0 regime for VMID 0, which only worlds use, are
/// dropped: the previous world's mappings were global.
pub fn enter_regime(cpu: &CpuInfo, root: u64, vbar: u64) -> SavedEl1 {
    let saved = SavedEl1 {
        hcr: read_sysreg!(hcr_el2),
        vttbr: read_sysreg!(vttbr_el2),
        ich_hcr: super::gic::virtual_interface_control(),
        cntvoff: read_sysreg!(cntvoff_el2),
    };
    let ips = cpu.pa_range.min(5);
    // T0SZ 25, IRGN0/ORGN0 write-back, SH0 inner, TG0 4K, T1SZ 25, EPD1.
    let tcr = 25 | (1 << 8) | (1 << 10) | (0b11 << 12) | (25 << 16) | (1 << 23) | (ips << 32);
    write_sysreg!(hcr_el2, HCR_USER);
    write_sysreg!(vttbr_el2, 0);
    // No virtual interrupts: the list registers may hold a guest's.
    super::gic::set_virtual_interface_control(0);
    write_sysreg!(mair_el1, MAIR_EL2_VALUE);
    write_sysreg!(tcr_el1, tcr);
    write_sysreg!(ttbr0_el1, root);
    write_sysreg!(vbar_el1, vbar);
    write_sysreg!(cpacr_el1, 0);
    write_sysreg!(cntkctl_el1, CNTKCTL_USER);
    // The world's virtual counter is the physical one, the same on every
    // pCPU (a guest's offset may be in place here).
    write_sysreg!(cntvoff_el2, 0);
    write_sysreg!(mdscr_el1, 0);
    // Nothing of the previous world (or guest) to read.
    write_sysreg!(tpidr_el0, 0);
    write_sysreg!(tpidrro_el0, 0);
    isb();
    write_sysreg!(sctlr_el1, SCTLR_USER);
    isb();
    // SAFETY: TLB maintenance for the EL1&0 regime of VMID 0 only.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
    saved
}

/// Give the EL1 regime back: the guest controls as they were, the MMU of
/// EL1&0 off. A vCPU loaded later sets every EL1 register it uses.
pub fn leave_regime(saved: SavedEl1) {
    write_sysreg!(sctlr_el1, 0x30d0_0800);
    write_sysreg!(ttbr0_el1, 0);
    super::gic::set_virtual_interface_control(saved.ich_hcr);
    write_sysreg!(vttbr_el2, saved.vttbr);
    write_sysreg!(cntvoff_el2, saved.cntvoff);
    write_sysreg!(hcr_el2, saved.hcr);
    isb();
}

/// Run the world until its next exception. Interrupts must be masked
/// (PSTATE.I) and the priority mask open, as for a guest.
///
/// # Safety
/// `regs.pc` and `regs.sp` must be the world's own addresses and
/// `regs.pstate` EL0t; the EL1 regime must be the world's
/// ([`enter_regime`]) and its tables installed for the EL2 regime too.
pub unsafe fn run(regs: &mut UserRegs) -> Exit {
    // SAFETY: per this function's contract; el0.S keeps Aerie's
    // callee-saved registers and VBAR_EL2 and restores them on return.
    match unsafe { aerie_user_run(regs) } {
        0 => Exit::Sync,
        1 | 2 => Exit::Irq,
        kind => Exit::Error(kind),
    }
}

/// An EL0 exception as EL1 recorded it before the shim forwarded it.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedException {
    pub esr: u64,
    pub far: u64,
    pub elr: u64,
    pub spsr: u64,
}

impl ForwardedException {
    pub fn read() -> Self {
        ForwardedException {
            esr: read_sysreg!(esr_el1),
            far: read_sysreg!(far_el1),
            elr: read_sysreg!(elr_el1),
            spsr: read_sysreg!(spsr_el1),
        }
    }
}

/// Make the instructions just written at `[va, va + len)` (through the
/// direct map) visible to instruction fetch on this pCPU.
pub fn sync_icache(va: u64, len: u64) {
    super::sysreg::clean_dcache_range(va, len);
    // SAFETY: invalidates this pCPU's instruction cache; no memory effects.
    unsafe { core::arch::asm!("ic iallu", "dsb ish", "isb", options(nostack)) };
}
