//! A vCPU's architectural state and the code that moves it in and out of
//! the CPU.
//!
//! Two tiers, by how often they move:
//! * [`GuestRegs`]: x0..x30, PC and PSTATE, saved and restored by the exit
//!   path (`vectors.S`) on every exit.
//! * [`El1State`] and [`FpState`]: the EL1 system registers and FP/SIMD
//!   registers, which EL2 code never uses, so they stay in the CPU across
//!   exits and move only when the scheduler switches vCPUs.

use super::sysreg::{isb, read_sysreg, write_sysreg};

/// General-purpose registers as the exit path stores them (offsets are fixed
/// by `vectors.S`: x0 at 0, PC at 248, PSTATE at 256).
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct GuestRegs {
    pub x: [u64; 31],
    /// ELR_EL2: where the guest resumes.
    pub pc: u64,
    /// SPSR_EL2: the guest's PSTATE.
    pub pstate: u64,
    /// [`GuestRegs::skip_instruction`] completed an instruction the guest
    /// was single-stepping (PSTATE.SS was 1): the exit handler owes it a
    /// step exception (vm/debug.rs). Not touched by the exit path.
    pub stepped: bool,
}

impl GuestRegs {
    /// Register `n` as an instruction names it: 31 is XZR for data accesses.
    #[inline]
    pub fn get(&self, n: u8) -> u64 {
        if n < 31 {
            self.x[n as usize]
        } else {
            0
        }
    }

    #[inline]
    pub fn set(&mut self, n: u8, value: u64) {
        if n < 31 {
            self.x[n as usize] = value;
        }
    }

    /// Step past an instruction Aerie emulated (every trapped A64
    /// instruction is 4 bytes). It has now completed, so a software step
    /// in progress (PSTATE.SS = 1, active-not-pending) must become
    /// active-pending: PSTATE.SS = 0, and the step exception is taken
    /// before the next instruction, as if the hardware had executed it.
    #[inline]
    pub fn skip_instruction(&mut self) {
        self.pc += 4;
        if self.pstate & aerie_trap::pstate::SS != 0 {
            self.pstate &= !aerie_trap::pstate::SS;
            self.stepped = true;
        }
    }
}

/// PSTATE for a vCPU coming out of reset or PSCI CPU_ON: EL1h, DAIF masked.
pub const PSTATE_EL1H_MASKED: u64 = 0x3c5;

/// The EL1 (and EL0) system registers a guest owns.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct El1State {
    pub sctlr: u64,
    pub actlr: u64,
    pub cpacr: u64,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub tcr: u64,
    pub mair: u64,
    pub amair: u64,
    pub vbar: u64,
    pub contextidr: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub tpidr_el1: u64,
    pub sp_el0: u64,
    pub sp_el1: u64,
    pub elr_el1: u64,
    pub spsr_el1: u64,
    pub esr: u64,
    pub far: u64,
    pub afsr0: u64,
    pub afsr1: u64,
    pub par: u64,
    pub mdscr: u64,
    pub csselr: u64,
    pub cntkctl: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    /// Per-vCPU EL2 views: what the guest reads as MPIDR_EL1.
    pub vmpidr: u64,
}

impl El1State {
    /// Architectural reset values a guest may rely on (SCTLR_EL1 with the MMU
    /// off and its RES1 bits set; everything else zero).
    pub fn reset(vmpidr: u64) -> Self {
        El1State {
            sctlr: 0x30d0_0800,
            vmpidr,
            ..Default::default()
        }
    }

    /// Store the CPU's current EL1 state. The virtual timer is disabled
    /// afterwards so a descheduled vCPU's timer cannot fire on this pCPU.
    pub fn save(&mut self) {
        self.sctlr = read_sysreg!(sctlr_el1);
        self.actlr = read_sysreg!(actlr_el1);
        self.cpacr = read_sysreg!(cpacr_el1);
        self.ttbr0 = read_sysreg!(ttbr0_el1);
        self.ttbr1 = read_sysreg!(ttbr1_el1);
        self.tcr = read_sysreg!(tcr_el1);
        self.mair = read_sysreg!(mair_el1);
        self.amair = read_sysreg!(amair_el1);
        self.vbar = read_sysreg!(vbar_el1);
        self.contextidr = read_sysreg!(contextidr_el1);
        self.tpidr_el0 = read_sysreg!(tpidr_el0);
        self.tpidrro_el0 = read_sysreg!(tpidrro_el0);
        self.tpidr_el1 = read_sysreg!(tpidr_el1);
        self.sp_el0 = read_sysreg!(sp_el0);
        self.sp_el1 = read_sysreg!(sp_el1);
        self.elr_el1 = read_sysreg!(elr_el1);
        self.spsr_el1 = read_sysreg!(spsr_el1);
        self.esr = read_sysreg!(esr_el1);
        self.far = read_sysreg!(far_el1);
        self.afsr0 = read_sysreg!(afsr0_el1);
        self.afsr1 = read_sysreg!(afsr1_el1);
        self.par = read_sysreg!(par_el1);
        self.mdscr = read_sysreg!(mdscr_el1);
        self.csselr = read_sysreg!(csselr_el1);
        self.cntkctl = read_sysreg!(cntkctl_el1);
        self.cntv_ctl = read_sysreg!(cntv_ctl_el0);
        self.cntv_cval = read_sysreg!(cntv_cval_el0);
        self.vmpidr = read_sysreg!(vmpidr_el2);
        write_sysreg!(cntv_ctl_el0, 0);
    }

    /// Load this state into the CPU.
    pub fn load(&self) {
        write_sysreg!(sctlr_el1, self.sctlr);
        write_sysreg!(actlr_el1, self.actlr);
        write_sysreg!(cpacr_el1, self.cpacr);
        write_sysreg!(ttbr0_el1, self.ttbr0);
        write_sysreg!(ttbr1_el1, self.ttbr1);
        write_sysreg!(tcr_el1, self.tcr);
        write_sysreg!(mair_el1, self.mair);
        write_sysreg!(amair_el1, self.amair);
        write_sysreg!(vbar_el1, self.vbar);
        write_sysreg!(contextidr_el1, self.contextidr);
        write_sysreg!(tpidr_el0, self.tpidr_el0);
        write_sysreg!(tpidrro_el0, self.tpidrro_el0);
        write_sysreg!(tpidr_el1, self.tpidr_el1);
        write_sysreg!(sp_el0, self.sp_el0);
        write_sysreg!(sp_el1, self.sp_el1);
        write_sysreg!(elr_el1, self.elr_el1);
        write_sysreg!(spsr_el1, self.spsr_el1);
        write_sysreg!(esr_el1, self.esr);
        write_sysreg!(far_el1, self.far);
        write_sysreg!(afsr0_el1, self.afsr0);
        write_sysreg!(afsr1_el1, self.afsr1);
        write_sysreg!(par_el1, self.par);
        write_sysreg!(mdscr_el1, self.mdscr);
        write_sysreg!(csselr_el1, self.csselr);
        write_sysreg!(cntkctl_el1, self.cntkctl);
        write_sysreg!(cntv_cval_el0, self.cntv_cval);
        write_sysreg!(cntv_ctl_el0, self.cntv_ctl);
        write_sysreg!(vmpidr_el2, self.vmpidr);
        isb();
    }
}

/// FP/SIMD registers: V0..V31, then FPSR and FPCR (layout fixed by fpsimd.S).
#[repr(C, align(16))]
#[derive(Clone, Debug, Default)]
pub struct FpState {
    pub v: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

extern "C" {
    fn aerie_fpsimd_save(state: *mut FpState);
    fn aerie_fpsimd_restore(state: *const FpState);
}

impl FpState {
    pub fn save(&mut self) {
        // SAFETY: `self` is a valid, 16-byte aligned FpState of the layout
        // fpsimd.S writes; FP/SIMD access is not trapped at EL2 (CPTR_EL2.TFP = 0).
        unsafe { aerie_fpsimd_save(self) }
    }

    pub fn load(&self) {
        // SAFETY: as for `save`; the routine only reads `self`.
        unsafe { aerie_fpsimd_restore(self) }
    }
}

/// Turn off the virtual timer a vCPU left in this CPU without saving it (its
/// VM stopped or was reset, so its state is discarded): its level-triggered
/// interrupt would otherwise fire on an idle pCPU for ever, as nothing else
/// clears it.
pub fn discard_vtimer() {
    write_sysreg!(cntv_ctl_el0, 0);
}

/// Give a parked vCPU its virtual timer back (its CNTV_CTL_EL0 as it was
/// before [`discard_vtimer`] turned it off for the park).
pub fn unpark_vtimer(ctl: u64) {
    write_sysreg!(cntv_ctl_el0, ctl);
}

/// The guest's view of its virtual timer while it is loaded: (CNTV_CTL_EL0, CNTV_CVAL_EL0).
pub fn live_vtimer() -> (u64, u64) {
    (read_sysreg!(cntv_ctl_el0), read_sysreg!(cntv_cval_el0))
}

/// The loaded guest's SPSR_EL1 (what its next ERET restores).
pub fn live_spsr_el1() -> u64 {
    read_sysreg!(spsr_el1)
}

/// The loaded guest's VBAR_EL1 and SCTLR_EL1, which decide how an injected
/// exception is taken.
pub fn live_vbar_sctlr() -> (u64, u64) {
    (read_sysreg!(vbar_el1), read_sysreg!(sctlr_el1))
}

/// The loaded guest's vCPU wakes from a PSCI power-down state: like a
/// core that lost power, it restarts with its stage-1 MMU and data cache
/// off (SCTLR_EL1.M and .C clear; PSCI 1.1 section 6.4.3). The rest of its
/// EL1 state is kept, which "UNKNOWN" allows, and which its resume code
/// rewrites anyway.
pub fn power_down_el1() {
    const SCTLR_M: u64 = 1 << 0;
    const SCTLR_C: u64 = 1 << 2;
    let sctlr = read_sysreg!(sctlr_el1);
    write_sysreg!(sctlr_el1, sctlr & !(SCTLR_M | SCTLR_C));
}

/// Write the EL1 side of an exception injected into the loaded guest: the
/// syndrome, fault address and return state the guest's handler will read.
pub fn write_exception_registers(esr: u64, far: Option<u64>, elr: u64, spsr: u64) {
    write_sysreg!(esr_el1, esr);
    if let Some(far) = far {
        write_sysreg!(far_el1, far);
    }
    write_sysreg!(elr_el1, elr);
    write_sysreg!(spsr_el1, spsr);
}
