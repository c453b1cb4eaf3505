//! EL2 configuration for running guests, and the exit syndrome registers.

use super::context::GuestRegs;
use super::cpu::CpuInfo;
use super::sysreg::{dsb_sy, isb, read_sysreg, write_sysreg};

/// SMCCC owners (bits 29:24 of a function id) that Rust serves. The HVC fast
/// path in vectors.S answers NOT_SUPPORTED for every other owner without
/// leaving assembly. Written once at boot, before any guest runs.
#[no_mangle]
pub static mut SERVED_OWNERS: u64 = u64::MAX;

/// Publish the owners Rust serves (see [`SERVED_OWNERS`]).
pub fn set_served_owners(mask: u64) {
    // SAFETY: written once on the boot CPU before any guest runs; afterwards
    // only read, by the vector code.
    unsafe { core::ptr::write_volatile(&raw mut SERVED_OWNERS, mask) }
}

// HCR_EL2 bits.
const HCR_VM: u64 = 1 << 0;
const HCR_SWIO: u64 = 1 << 1;
const HCR_FMO: u64 = 1 << 3;
const HCR_IMO: u64 = 1 << 4;
const HCR_AMO: u64 = 1 << 5;
const HCR_FB: u64 = 1 << 9;
const HCR_BSU_IS: u64 = 1 << 10;
const HCR_TWI: u64 = 1 << 13;
const HCR_TWE: u64 = 1 << 14;
const HCR_TSC: u64 = 1 << 19;
const HCR_TID3: u64 = 1 << 18;
const HCR_TIDCP: u64 = 1 << 20;
const HCR_RW: u64 = 1 << 31;

/// HCR_EL2 while a guest runs: stage 2 on; physical interrupts and SErrors
/// to EL2; broadcast TLB and cache maintenance inner-shareable; WFI, WFE and
/// SMC trapped (scheduling, PSCI); ID group 3 trapped so Aerie can hide what
/// it does not virtualise (SVE, SME, MTE, PMU, pointer auth...); IMPDEF
/// registers trapped (they become UNDEFINED); EL1 is AArch64.
/// Pointer authentication stays trapped (API/APK = 0): it is hidden in the
/// ID registers, so a guest never enables it.
pub const HCR_GUEST: u64 = HCR_VM
    | HCR_SWIO
    | HCR_FMO
    | HCR_IMO
    | HCR_AMO
    | HCR_FB
    | HCR_BSU_IS
    | HCR_TWI
    | HCR_TWE
    | HCR_TSC
    | HCR_TID3
    | HCR_TIDCP
    | HCR_RW;

/// MDCR_EL2.TDA: guest debug register accesses trap.
const MDCR_TDA: u64 = 1 << 9;
/// MDCR_EL2.TDCC (FEAT_FGT): guest DCC register accesses trap. TDA already
/// traps them; TDCC says so again where it exists, as the design asks.
const MDCR_TDCC: u64 = 1 << 27;
/// MDCR_EL2.TDE: guest debug exceptions (BRK, breakpoints, watchpoints,
/// software step) are taken to EL2.
const MDCR_TDE: u64 = 1 << 8;

/// Trap the loaded guest's accesses to the debug registers MDCR_EL2.TDA
/// covers (the default), or let it reach them (`debug_regs::give_to_guest`).
pub fn set_debug_register_traps(on: bool) {
    set_mdcr_bits(MDCR_TDA, on);
}

/// Route the loaded guest's debug exceptions to EL2 (a VM with a BRK
/// backdoor transport) or to its own EL1.
pub fn set_debug_routing(to_el2: bool) {
    set_mdcr_bits(MDCR_TDE, to_el2);
}

/// Set or clear `bits` of MDCR_EL2, writing it only when that changes it
/// (a vCPU switch asks every time; the answer rarely changes).
#[inline(always)]
fn set_mdcr_bits(bits: u64, on: bool) {
    let mdcr = read_sysreg!(mdcr_el2);
    let want = if on { mdcr | bits } else { mdcr & !bits };
    if want != mdcr {
        write_sysreg!(mdcr_el2, want);
    }
}

/// HCR_EL2.VI: a virtual IRQ is pending for EL1 (see
/// `vm::irq::SIGNAL_BY_HCR`).
const HCR_VI: u64 = 1 << 7;

/// Signal (or stop signalling) a virtual IRQ to the guest through HCR_EL2.VI
/// rather than the GIC's virtual IRQ line.
pub fn set_virtual_irq(pending: bool) {
    write_sysreg!(hcr_el2, HCR_GUEST | if pending { HCR_VI } else { 0 });
}

/// One-time EL2 set-up on this pCPU for running guests.
pub fn init_guest_controls(cpu: &CpuInfo) {
    write_sysreg!(hcr_el2, HCR_GUEST);
    // CPTR_EL2 (E2H = 0): RES1 bits [9:0] except TZ..., bits 12-13; TZ (8)
    // traps SVE, TSM (12) SME, TTA (20) trace, TAM (30) activity monitors.
    // TFP (10) stays clear: the guest owns FP/SIMD.
    write_sysreg!(cptr_el2, 0x33ff | (1 << 20) | (1 << 30));
    // MDCR_EL2: PMU access trapped (TPM, TPMCR; it is hidden, so it becomes
    // UNDEFINED), SPE trapped (TPMS); HPMN = all counters.
    let pmcr_n = (read_sysreg!(pmcr_el0) >> 11) & 0x1f;
    // TDA (9), TDOSA (10), TDRA (11): every guest debug register access
    // traps and is served from the vCPU's virtual debug registers
    // (vm/debug.rs); the DCC status register carries backdoor requests.
    // TDE (8) is per VM (`set_debug_routing`).
    let mut debug = MDCR_TDA | (1 << 10) | (1 << 11);
    if cpu.fgt {
        debug |= MDCR_TDCC;
        // The fine-grained traps reset to UNKNOWN values on hardware: none
        // (HFGRTR/HFGWTR/HFGITR_EL2, HDFGRTR/HDFGWTR_EL2). Zero also traps
        // the registers of features whose trap bits are negative (nTPIDR2_EL0
        // and the like), features Aerie hides from guests anyway; such a
        // trap becomes UNDEFINED for the guest (vm/exit.rs).
        write_sysreg!(s3_4_c1_c1_4, 0);
        write_sysreg!(s3_4_c1_c1_5, 0);
        write_sysreg!(s3_4_c1_c1_6, 0);
        write_sysreg!(s3_4_c3_c1_4, 0);
        write_sysreg!(s3_4_c3_c1_5, 0);
    }
    write_sysreg!(mdcr_el2, pmcr_n | (1 << 5) | (1 << 6) | (1 << 14) | debug);
    // CNTHCTL_EL2 (E2H = 0): EL1PCTEN (the physical counter is readable),
    // EL1PCEN clear (the physical timer traps: guests use the virtual one).
    // The event stream (EVNTEN, every 2^(EVNTI+1) ticks) bounds how long an
    // idle WFE in Aerie waits before rechecking deadlines.
    write_sysreg!(cnthctl_el2, 1 | (1 << 2) | (7 << 4));
    write_sysreg!(cntvoff_el2, 0);
    write_sysreg!(vpidr_el2, read_sysreg!(midr_el1));
    // VTCR_EL2: 39-bit IPA (T0SZ = 25) starting at level 1 (SL0 = 1), 4K
    // granule, inner-shareable write-back walks, PS from PARange (max 48).
    let ps = cpu.pa_range.min(5);
    write_sysreg!(
        vtcr_el2,
        (1 << 31) | (ps << 16) | (0b11 << 12) | (1 << 10) | (1 << 8) | (1 << 6) | 25
    );
    isb();
}

/// Make `root` (with `vmid`) the current stage-2 translation.
pub fn load_stage2(root: u64, vmid: u16) {
    write_sysreg!(vttbr_el2, root | ((vmid as u64) << 48));
    isb();
}

/// The offset of the guest's virtual counter from the physical one.
pub fn set_cntvoff(offset: u64) {
    write_sysreg!(cntvoff_el2, offset);
}

/// Invalidate all stage-1 and stage-2 TLB entries of the current VMID
/// (after changing a VM's stage-2 tables or reusing its VMID).
pub fn flush_guest_tlb() {
    dsb_sy();
    // SAFETY: TLB maintenance for the VMID in VTTBR_EL2; no memory effects.
    unsafe { core::arch::asm!("tlbi vmalls12e1is", "dsb ish", "isb", options(nostack)) }
}

/// Invalidate Aerie's own EL2 TLB entries after changing its tables.
pub fn flush_el2_tlb() {
    dsb_sy();
    // SAFETY: TLB maintenance only.
    unsafe { core::arch::asm!("tlbi alle2", "dsb ish", "isb", options(nostack)) }
}

/// The physical address of this pCPU's EL2 level-0 table (TTBR0_EL2.BADDR).
pub fn el2_root() -> u64 {
    read_sysreg!(ttbr0_el2) & 0x0000_ffff_ffff_f000
}

/// Walk this pCPU's EL2 space from the level-0 table at `root`.
///
/// # Safety
/// `root` must map everything Aerie uses (its image, stacks, the direct
/// map, its devices) exactly as the current table does.
pub unsafe fn set_el2_root(root: u64) {
    dsb_sy();
    write_sysreg!(ttbr0_el2, root);
    isb();
    flush_el2_tlb();
}

/// What the hardware recorded about the exit being handled.
#[derive(Debug, Clone, Copy)]
pub struct Syndrome {
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
}

impl Syndrome {
    #[inline(always)]
    pub fn read() -> Self {
        Syndrome {
            esr: read_sysreg!(esr_el2),
            far: read_sysreg!(far_el2),
            hpfar: read_sysreg!(hpfar_el2),
        }
    }

    /// The IPA page of a stage-2 abort (HPFAR_EL2.FIPA), as a page number.
    #[inline(always)]
    pub fn fault_ipa_page(&self) -> u64 {
        (self.hpfar >> 4) & 0xff_ffff_ffff
    }

    /// The faulting IPA of a stage-2 abort: HPFAR_EL2.FIPA gives bits
    /// [47:12], FAR_EL2 the page offset.
    #[inline(always)]
    pub fn fault_ipa(&self) -> u64 {
        ((self.hpfar & 0x0fff_ffff_fff0) << 8) | (self.far & 0xfff)
    }
}

extern "C" {
    fn aerie_enter_guest(regs: *mut GuestRegs, stack_top: u64) -> !;
}

/// Enter the guest whose registers are `regs`, abandoning the current Rust
/// call chain: the EL2 stack restarts at `stack_top` for every later exit.
///
/// # Safety
/// `regs` must be the register block of a loaded vCPU (its EL1 state,
/// stage 2 and HCR_EL2 in place) that stays valid while the guest runs;
/// `stack_top` must be the top of this CPU's EL2 stack.
pub unsafe fn enter_guest(regs: *mut GuestRegs, stack_top: u64) -> ! {
    // SAFETY: per this function's contract.
    unsafe { aerie_enter_guest(regs, stack_top) }
}
