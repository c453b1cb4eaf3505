//! A vCPU's virtual self-hosted debug registers (Arm ARM D2, "AArch64
//! Self-hosted Debug"), for a hypervisor that traps them all with
//! MDCR_EL2.TDA.
//!
//! The guest reads back what it wrote. While the vCPU runs, the hardware
//! holds a sanitised image ([`VirtualDebug::hw_bcr`], [`VirtualDebug::hw_mdscr`]
//! and friends) so that:
//! - breakpoints and watchpoints match only the guest's Non-secure EL1 and
//!   EL0 (HMC, SSC and SSCE cleared, and a point then left with the
//!   reserved PMC/PAC = 0b00 disabled): EL2 never matches a guest's
//!   breakpoint;
//! - MDSCR_EL1.TDCC is clear, so the guest's EL0 DCC accesses reach EL2,
//!   which raises the UNDEFINED exception the guest's TDCC asks for when
//!   they are not backdoor requests;
//! - the external-debug registers (OS double lock, DTR, claim tags, power
//!   control) are pure storage: a guest must not double-lock the CPU.
//!
//! With MDCR_EL2.TDE the debug target becomes EL2, and a breakpoint,
//! watchpoint or step exception from EL1 is generated even when the guest
//! disabled them at EL1 (MDSCR_EL1.KDE = 0 or PSTATE.D = 1; D2.6 "enabling
//! debug exceptions from the current EL" only applies when the exception
//! targets the current EL). [`VirtualDebug::generated_natively`] says whether
//! the guest's own settings would have produced one; when they would not,
//! the hypervisor steps the guest over the instruction with breakpoints and
//! watchpoints disabled ([`VirtualDebug::stepping_over`]).

use crate::pstate;
use crate::sysreg::SysReg;

/// The architecture's maximum of breakpoints and of watchpoints.
pub const MAX_POINTS: usize = 16;

/// MDSCR_EL1.SS: software step enable.
pub const MDSCR_SS: u64 = 1 << 0;
/// MDSCR_EL1.TDCC: EL0 access to the DCC registers traps to EL1.
pub const MDSCR_TDCC: u64 = 1 << 12;
/// MDSCR_EL1.KDE: debug exceptions from EL1 (to EL1) enabled.
pub const MDSCR_KDE: u64 = 1 << 13;
/// MDSCR_EL1.MDE: breakpoint and watchpoint exceptions enabled.
pub const MDSCR_MDE: u64 = 1 << 15;

/// DBGBCR/DBGWCR.E: the point is enabled.
const CR_E: u64 = 1;
/// DBGBCR.PMC / DBGWCR.PAC (bits 2:1): match at EL1 (bit 1), EL0 (bit 2).
const CR_PXC: u64 = 0b11 << 1;
/// DBGBCR/DBGWCR.HMC (bit 13) and SSC (bits 15:14): match in EL2 / Secure;
/// and SSCE (bit 29, FEAT_RME, RES0 otherwise): with SSC = 0b00 it is a
/// reserved combination (Arm ARM `CheckValidStateMatch`), which may behave
/// as one that matches at EL2, so it goes too.
const CR_HMC_SSC: u64 = (0b111 << 13) | (1 << 29);

/// OSLSR_EL1 with the OS lock clear: OSLM = 0b10 (OS lock implemented,
/// bits 3 and 0), OSLK (bit 1) clear.
const OSLSR_OSLM: u64 = 0b1000;
const OSLSR_OSLK: u64 = 0b10;

/// The debug register a trapped op0 = 2 access names, as this module
/// virtualises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugReg {
    /// DBGBVR<n>_EL1.
    Bvr(usize),
    /// DBGBCR<n>_EL1.
    Bcr(usize),
    /// DBGWVR<n>_EL1.
    Wvr(usize),
    /// DBGWCR<n>_EL1.
    Wcr(usize),
    Mdscr,
    /// OSLAR_EL1 (write-only): sets or clears the OS lock.
    Oslar,
    /// OSLSR_EL1 (read-only): the OS lock status.
    Oslsr,
    /// Storage the guest reads back (MDCCINT, OSDLR, OSECCR, OSDTRRX/TX,
    /// DBGPRCR); the index names the slot in [`VirtualDebug::storage`].
    Storage(usize),
    DbgClaimSet,
    DbgClaimClr,
    /// MDRAR_EL1 and DBGAUTHSTATUS_EL1: read-only constants.
    ReadOnly(u64),
    /// The DCC registers (MDCCSR_EL0, DBGDTR_EL0, DBGDTRRX/TX_EL0): the
    /// backdoor's transport, handled by the caller.
    Dcc,
}

/// MDCCINT_EL1's slot in [`VirtualDebug::storage`] (a hypervisor that
/// hands the registers MDCR_EL2.TDA covers to its guest moves it too).
pub const MDCCINT_SLOT: usize = 0;

/// The registers behind [`DebugReg::Storage`], in slot order.
const STORAGE: [SysReg; 6] = [
    SysReg::MDCCINT_EL1,
    SysReg::OSDLR_EL1,
    SysReg::OSECCR_EL1,
    SysReg::OSDTRRX_EL1,
    SysReg::OSDTRTX_EL1,
    SysReg::DBGPRCR_EL1,
];

/// DBGAUTHSTATUS_EL1: Non-secure invasive and non-invasive debug
/// implemented and enabled (NSID = NSNID = 0b11); Secure not implemented.
const AUTHSTATUS: u64 = 0b1111;

impl DebugReg {
    /// Decodes a trapped op0 = 2 register; `brps`/`wrps` are the numbers of
    /// breakpoints and watchpoints implemented. None: no such register here
    /// (UNDEFINED).
    pub fn decode(reg: SysReg, brps: usize, wrps: usize) -> Option<DebugReg> {
        if reg.op0 != 2 {
            return None;
        }
        if reg.op1 == 0 && reg.crn == 0 && (4..=7).contains(&reg.op2) {
            let n = usize::from(reg.crm);
            return match reg.op2 {
                4 if n < brps => Some(DebugReg::Bvr(n)),
                5 if n < brps => Some(DebugReg::Bcr(n)),
                6 if n < wrps => Some(DebugReg::Wvr(n)),
                7 if n < wrps => Some(DebugReg::Wcr(n)),
                _ => None,
            };
        }
        if let Some(i) = STORAGE.iter().position(|r| *r == reg) {
            return Some(DebugReg::Storage(i));
        }
        Some(match reg {
            SysReg::MDSCR_EL1 => DebugReg::Mdscr,
            SysReg::OSLAR_EL1 => DebugReg::Oslar,
            SysReg::OSLSR_EL1 => DebugReg::Oslsr,
            SysReg::DBGCLAIMSET_EL1 => DebugReg::DbgClaimSet,
            SysReg::DBGCLAIMCLR_EL1 => DebugReg::DbgClaimClr,
            SysReg::MDRAR_EL1 => DebugReg::ReadOnly(0),
            SysReg::DBGAUTHSTATUS_EL1 => DebugReg::ReadOnly(AUTHSTATUS),
            SysReg::MDCCSR_EL0 | SysReg::DBGDTR_EL0 | SysReg::DBGDTRRX_EL0 => DebugReg::Dcc,
            _ => return None,
        })
    }
}

/// What the hypervisor must do to the hardware after a guest write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HwUpdate {
    None,
    Bvr(usize),
    Bcr(usize),
    Wvr(usize),
    Wcr(usize),
    Mdscr,
    OsLock,
}

/// One vCPU's debug registers as its guest sees them.
#[derive(Clone, Debug)]
pub struct VirtualDebug {
    pub bvr: [u64; MAX_POINTS],
    pub bcr: [u64; MAX_POINTS],
    pub wvr: [u64; MAX_POINTS],
    pub wcr: [u64; MAX_POINTS],
    pub mdscr: u64,
    /// OSLSR_EL1.OSLK: set from reset until the guest's OS clears it.
    pub os_lock: bool,
    pub storage: [u64; STORAGE.len()],
    /// DBGCLAIM tag bits \[7:0\].
    pub claim: u64,
    /// The hypervisor is stepping the guest over one instruction that hit
    /// a breakpoint or watchpoint the guest's settings disable: hardware
    /// points are off and MDSCR_EL1.SS is on until the step exception.
    pub stepping_over: bool,
    /// Aerie let the guest's EL1 instruction at this address run under an
    /// armed step the guest's settings disable (PSTATE.SS = 1): the next
    /// step exception ends that, and may need the ERET rule applied.
    pub continued_from: Option<u64>,
    /// The guest has written a breakpoint or watchpoint register since
    /// reset: the hardware needs its image while it runs.
    pub points_used: bool,
}

impl Default for VirtualDebug {
    fn default() -> Self {
        Self::reset()
    }
}

impl VirtualDebug {
    /// Warm reset values: everything zero, the OS lock set (D2.5, "the OS
    /// lock is set on a Cold reset"; an OS clears it before debugging).
    pub const fn reset() -> Self {
        VirtualDebug {
            bvr: [0; MAX_POINTS],
            bcr: [0; MAX_POINTS],
            wvr: [0; MAX_POINTS],
            wcr: [0; MAX_POINTS],
            mdscr: 0,
            os_lock: true,
            storage: [0; STORAGE.len()],
            claim: 0,
            stepping_over: false,
            continued_from: None,
            points_used: false,
        }
    }

    /// A guest read of `reg` (not [`DebugReg::Dcc`], which the caller
    /// handles).
    pub fn read(&self, reg: DebugReg) -> u64 {
        match reg {
            DebugReg::Bvr(n) => self.bvr[n],
            DebugReg::Bcr(n) => self.bcr[n],
            DebugReg::Wvr(n) => self.wvr[n],
            DebugReg::Wcr(n) => self.wcr[n],
            DebugReg::Mdscr => self.mdscr,
            DebugReg::Oslar => 0,
            DebugReg::Oslsr => OSLSR_OSLM | if self.os_lock { OSLSR_OSLK } else { 0 },
            DebugReg::Storage(i) => self.storage[i],
            DebugReg::DbgClaimSet => 0xff, // all eight claim tags implemented
            DebugReg::DbgClaimClr => self.claim,
            DebugReg::ReadOnly(v) => v,
            DebugReg::Dcc => 0,
        }
    }

    /// A guest write of `value` to `reg`; returns what the hardware needs.
    pub fn write(&mut self, reg: DebugReg, value: u64) -> HwUpdate {
        match reg {
            DebugReg::Bvr(n) => {
                self.bvr[n] = value;
                self.points_used = true;
                HwUpdate::Bvr(n)
            }
            DebugReg::Bcr(n) => {
                self.bcr[n] = value;
                self.points_used = true;
                HwUpdate::Bcr(n)
            }
            DebugReg::Wvr(n) => {
                self.wvr[n] = value;
                self.points_used = true;
                HwUpdate::Wvr(n)
            }
            DebugReg::Wcr(n) => {
                self.wcr[n] = value;
                self.points_used = true;
                HwUpdate::Wcr(n)
            }
            DebugReg::Mdscr => {
                self.mdscr = value;
                HwUpdate::Mdscr
            }
            DebugReg::Oslar => {
                self.os_lock = value & 1 != 0;
                HwUpdate::OsLock
            }
            DebugReg::Storage(i) => {
                self.storage[i] = value;
                HwUpdate::None
            }
            DebugReg::DbgClaimSet => {
                self.claim |= value & 0xff;
                HwUpdate::None
            }
            DebugReg::DbgClaimClr => {
                self.claim &= !(value & 0xff);
                HwUpdate::None
            }
            DebugReg::Oslsr | DebugReg::ReadOnly(_) | DebugReg::Dcc => HwUpdate::None,
        }
    }

    /// Whether a guest write to `reg` is UNDEFINED (the read-only ones).
    pub fn write_undefined(reg: DebugReg) -> bool {
        matches!(reg, DebugReg::Oslsr | DebugReg::ReadOnly(_))
    }

    /// Whether a guest read of `reg` is UNDEFINED (OSLAR is write-only).
    pub fn read_undefined(reg: DebugReg) -> bool {
        reg == DebugReg::Oslar
    }

    /// MDSCR_EL1 for the hardware: the guest's without TDCC, plus SS while
    /// stepping over an instruction.
    pub fn hw_mdscr(&self) -> u64 {
        let ss = if self.stepping_over { MDSCR_SS } else { 0 };
        (self.mdscr & !MDSCR_TDCC) | ss
    }

    /// DBGBCR<n>_EL1 for the hardware: EL2/Secure matching removed (HMC,
    /// SSC, SSCE cleared), disabled when that leaves a reserved PMC of
    /// 0b00, and disabled while stepping over.
    pub fn hw_bcr(&self, n: usize) -> u64 {
        self.hw_cr(self.bcr[n])
    }

    /// DBGWCR<n>_EL1 for the hardware, as [`Self::hw_bcr`].
    pub fn hw_wcr(&self, n: usize) -> u64 {
        self.hw_cr(self.wcr[n])
    }

    fn hw_cr(&self, cr: u64) -> u64 {
        let cr = cr & !CR_HMC_SSC;
        // With HMC, SSC and SSCE clear, PMC/PAC = 0b00 is reserved for a
        // watchpoint, and for a breakpoint when EL1 is AArch64-only (Arm
        // ARM `CheckValidStateMatch`): CONSTRAINED UNPREDICTABLE, the point
        // may behave as any combination that is not reserved, including one
        // that matches at EL2. Valid, it matches neither EL1 nor EL0 in
        // AArch64 state (only an AArch32 EL0 would see a User/Supervisor
        // breakpoint), and a guest's HMC = 1, PMC = 0b00 asked for EL2
        // only: the hardware gets it disabled.
        if self.stepping_over || cr & CR_PXC == 0 {
            cr & !CR_E
        } else {
            cr
        }
    }

    /// Whether a breakpoint, watchpoint or software step exception taken
    /// with PSTATE `spsr` would have been generated with the debug target
    /// at EL1 (MDCR_EL2.TDE = 0), given the guest's MDSCR_EL1 and OS lock.
    /// From EL0 the target is a higher EL, so only the OS lock matters; from
    /// EL1 the target is the current EL and KDE must be set and PSTATE.D
    /// clear (Arm ARM D2.6, `AArch64.GenerateDebugExceptionsFrom`). The
    /// hardware already required MDE for breakpoints and watchpoints and SS
    /// for steps, from the same register.
    pub fn generated_natively(&self, spsr: u64) -> bool {
        if self.os_lock {
            return false;
        }
        let from_el1 = spsr & pstate::M_MASK & !1 == pstate::M_EL1T;
        !from_el1 || (self.mdscr & MDSCR_KDE != 0 && spsr & pstate::D == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdccint_slot_is_mdccint() {
        assert_eq!(STORAGE[MDCCINT_SLOT], SysReg::MDCCINT_EL1);
    }

    const EL0: u64 = pstate::M_EL0T;
    const EL1H: u64 = pstate::M_EL1H;
    const EL1T: u64 = pstate::M_EL1T;

    #[test]
    fn decodes_points_within_the_implemented_numbers() {
        let bvr = |n| SysReg::new(2, 0, 0, n, 4);
        let wcr = |n| SysReg::new(2, 0, 0, n, 7);
        assert_eq!(DebugReg::decode(bvr(5), 6, 4), Some(DebugReg::Bvr(5)));
        assert_eq!(DebugReg::decode(bvr(6), 6, 4), None);
        assert_eq!(DebugReg::decode(wcr(3), 6, 4), Some(DebugReg::Wcr(3)));
        assert_eq!(DebugReg::decode(wcr(4), 6, 4), None);
    }

    #[test]
    fn decodes_the_named_registers() {
        let d = |r| DebugReg::decode(r, 6, 4);
        assert_eq!(d(SysReg::MDSCR_EL1), Some(DebugReg::Mdscr));
        assert_eq!(d(SysReg::OSLAR_EL1), Some(DebugReg::Oslar));
        assert_eq!(d(SysReg::OSLSR_EL1), Some(DebugReg::Oslsr));
        assert_eq!(d(SysReg::MDCCINT_EL1), Some(DebugReg::Storage(0)));
        assert_eq!(d(SysReg::OSDLR_EL1), Some(DebugReg::Storage(1)));
        assert_eq!(d(SysReg::MDCCSR_EL0), Some(DebugReg::Dcc));
        assert_eq!(d(SysReg::DBGDTRRX_EL0), Some(DebugReg::Dcc));
        assert_eq!(d(SysReg::MDRAR_EL1), Some(DebugReg::ReadOnly(0)));
        assert_eq!(d(SysReg::new(2, 0, 7, 0, 0)), None);
        assert_eq!(d(SysReg::new(3, 0, 0, 0, 4)), None);
    }

    #[test]
    fn reads_back_what_was_written_and_reports_the_hardware_update() {
        let mut d = VirtualDebug::reset();
        assert_eq!(d.write(DebugReg::Bcr(2), 0x1e7), HwUpdate::Bcr(2));
        assert_eq!(d.read(DebugReg::Bcr(2)), 0x1e7);
        assert!(d.points_used);
        assert_eq!(d.write(DebugReg::Storage(1), 1), HwUpdate::None);
        assert_eq!(d.read(DebugReg::Storage(1)), 1);
        assert_eq!(d.write(DebugReg::Mdscr, 0x9001), HwUpdate::Mdscr);
        assert_eq!(d.read(DebugReg::Mdscr), 0x9001);
    }

    #[test]
    fn os_lock_is_set_at_reset_and_follows_oslar() {
        let mut d = VirtualDebug::reset();
        assert_eq!(d.read(DebugReg::Oslsr), 0b1010);
        assert_eq!(d.write(DebugReg::Oslar, 0), HwUpdate::OsLock);
        assert_eq!(d.read(DebugReg::Oslsr), 0b1000);
        assert!(VirtualDebug::read_undefined(DebugReg::Oslar));
        assert!(VirtualDebug::write_undefined(DebugReg::Oslsr));
    }

    #[test]
    fn claim_tags_set_and_clear() {
        let mut d = VirtualDebug::reset();
        d.write(DebugReg::DbgClaimSet, 0x1_05);
        assert_eq!(d.read(DebugReg::DbgClaimClr), 0x05);
        d.write(DebugReg::DbgClaimClr, 0x04);
        assert_eq!(d.read(DebugReg::DbgClaimClr), 0x01);
        assert_eq!(d.read(DebugReg::DbgClaimSet), 0xff);
    }

    #[test]
    fn hardware_image_drops_tdcc_and_el2_matching() {
        let mut d = VirtualDebug::reset();
        d.write(DebugReg::Mdscr, MDSCR_TDCC | MDSCR_MDE | MDSCR_KDE);
        assert_eq!(d.hw_mdscr(), MDSCR_MDE | MDSCR_KDE);
        // E, PMC = EL1 and EL0, BAS = 0xF, HMC, SSC = 0b11.
        d.write(DebugReg::Bcr(0), 1 | (0b11 << 1) | (0xf << 5) | CR_HMC_SSC);
        assert_eq!(d.hw_bcr(0), 1 | (0b11 << 1) | (0xf << 5));
    }

    #[test]
    fn stepping_over_disables_points_and_sets_ss() {
        let mut d = VirtualDebug::reset();
        d.write(DebugReg::Bcr(0), 0x1e7);
        d.write(DebugReg::Wcr(1), 0x1ff7);
        d.stepping_over = true;
        assert_eq!(d.hw_bcr(0), 0x1e6);
        assert_eq!(d.hw_wcr(1), 0x1ff6);
        assert_eq!(d.hw_mdscr() & MDSCR_SS, MDSCR_SS);
        // The guest's view is unchanged.
        assert_eq!(d.read(DebugReg::Bcr(0)), 0x1e7);
        assert_eq!(d.read(DebugReg::Mdscr), 0);
    }

    #[test]
    fn native_generation_from_el0_needs_only_the_os_lock_clear() {
        let mut d = VirtualDebug::reset();
        assert!(!d.generated_natively(EL0), "OS lock set at reset");
        d.write(DebugReg::Oslar, 0);
        assert!(d.generated_natively(EL0));
        assert!(
            d.generated_natively(EL0 | pstate::D),
            "D masks only the current EL"
        );
    }

    #[test]
    fn native_generation_from_el1_needs_kde_and_d_clear() {
        let mut d = VirtualDebug::reset();
        d.write(DebugReg::Oslar, 0);
        for m in [EL1H, EL1T] {
            assert!(!d.generated_natively(m), "KDE clear");
        }
        d.write(DebugReg::Mdscr, MDSCR_KDE | MDSCR_MDE);
        for m in [EL1H, EL1T] {
            assert!(d.generated_natively(m));
            assert!(!d.generated_natively(m | pstate::D), "PSTATE.D set");
        }
    }
}
