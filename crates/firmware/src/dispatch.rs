//! The SMCCC 1.1 / PSCI 1.1 call dispatcher a guest reaches through HVC
//! (or a trapped SMC).
//!
//! SMCCC 1.1: the function ID is in w0, arguments in x1..x7 (w1..w7 for
//! SMC32/HVC32 calls, whose upper register halves are ignored here),
//! results in x0..x3, and x4..x17 are preserved. Unused result registers
//! are returned as 0 so nothing of the hypervisor leaks into them.

use crate::fid::{self, owner};
use crate::status::{self, to_reg, AffinityState, PsciError, Suspended};

/// PSCI_VERSION result: major 1 (bits 31:16), minor 1 (bits 15:0).
pub const PSCI_VERSION_1_1: u32 = 0x0001_0001;
/// SMCCC_VERSION result: 1.1.
pub const SMCCC_VERSION_1_1: u32 = 0x0001_0001;
/// MIGRATE_INFO_TYPE result 2: no Trusted OS, or one that needs no migration.
pub const MIGRATE_INFO_TYPE_NOT_PRESENT: u64 = 2;
/// PSCI_FEATURES flags for CPU_SUSPEND: bit 1 = 0 (original power_state
/// format), bit 0 = 0 (no OS-initiated mode).
pub const CPU_SUSPEND_FEATURES: u64 = 0;

/// Bits of an MPIDR-format target that must be zero (PSCI 1.1 section
/// 5.1.4): \[63:40\] and \[31:24\]; Aff3 is \[39:32\].
const MPIDR_RESERVED_64: u64 = !0x00FF_00FF_FFFF;
/// Reserved power_state bits in the original format: \[31:26\] and \[23:17\]
/// (StateID \[15:0\], StateType \[16\], PowerLevel \[25:24\]).
const POWER_STATE_RESERVED: u32 = 0xFCFE_0000;

/// The machine-specific side of PSCI: Aerie's vCPU and VM management.
pub trait PsciPlatform {
    /// Start the vCPU with `target_mpidr` at `entry` with x0 = `context_id`.
    /// `InvalidParameters` if no such vCPU, `AlreadyOn` / `OnPending` per
    /// its state, `InvalidAddress` for an entry point outside guest RAM.
    fn cpu_on(&mut self, target_mpidr: u64, entry: u64, context_id: u64) -> Result<(), PsciError>;
    /// Power the calling vCPU down; it never returns to the caller.
    fn cpu_off(&mut self);
    /// State of the affinity instance `target_mpidr` at `lowest_level`
    /// (0..=3; the dispatcher rejects larger values).
    fn affinity_info(
        &self,
        target_mpidr: u64,
        lowest_level: u64,
    ) -> Result<AffinityState, PsciError>;
    /// Suspend the calling vCPU; `power_state` is in the original format
    /// with reserved bits already checked to be zero.
    fn cpu_suspend(
        &mut self,
        power_state: u32,
        entry: u64,
        context_id: u64,
    ) -> Result<Suspended, PsciError>;
    /// The guest rang its SCMI doorbell ([`fid::SCMI_CHANNEL`]): answer the
    /// command in its channel before returning. False when the VM has no
    /// SCMI channel (the call is then NOT_SUPPORTED).
    fn scmi_channel(&mut self) -> bool {
        false
    }
    /// The VM keeps stolen-time records (Arm DEN0057A) for its vCPUs.
    fn has_stolen_time(&self) -> bool {
        false
    }
    /// PV_TIME_ST: the IPA of the calling vCPU's stolen-time record, which
    /// from now on is kept up to date; None when the VM keeps none.
    fn stolen_time(&mut self) -> Option<u64> {
        None
    }
    /// Power the whole VM off.
    fn system_off(&mut self);
    /// Reset the whole VM.
    fn system_reset(&mut self);
}

/// What the hypervisor does with the calling vCPU after a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallResult {
    /// Write x0..x3 and resume the caller after the HVC/SMC.
    Return([u64; 4]),
    /// The caller does not resume here (CPU_OFF, SYSTEM_OFF, SYSTEM_RESET,
    /// a power-down CPU_SUSPEND); the platform already arranged what runs next.
    NoReturn,
}

impl CallResult {
    fn status(code: i32) -> CallResult {
        CallResult::Return([to_reg(code), 0, 0, 0])
    }

    fn value(x0: u64) -> CallResult {
        CallResult::Return([x0, 0, 0, 0])
    }

    fn from_error(e: PsciError) -> CallResult {
        CallResult::status(e.code())
    }
}

/// Bitmask of the SMCCC owning entities this dispatcher answers: bit N for
/// owner N. Every call whose owner bit is clear gets NOT_SUPPORTED from
/// [`handle_call`], so the hypervisor's fast path may answer those itself.
/// Owner 0 (Arm architecture: SMCCC_VERSION, SMCCC_ARCH_FEATURES), owner
/// 4 (standard secure service: PSCI), owner 5 (standard hypervisor
/// service: stolen time) and owner 6 (vendor hypervisor service: Aerie's
/// SCMI doorbell).
#[inline]
pub const fn served_owners() -> u64 {
    (1 << owner::ARM_ARCH)
        | (1 << owner::STANDARD_SECURE)
        | (1 << owner::STANDARD_HYP)
        | (1 << owner::VENDOR_HYP)
}

/// Handles one SMCCC call. `regs` are the caller's x0..x3.
pub fn handle_call(regs: [u64; 4], platform: &mut impl PsciPlatform) -> CallResult {
    let fid = regs[0] as u32;
    // SMC32/HVC32: only w1..w3 are arguments.
    let arg = |i: usize| {
        if fid::is_smc64(fid) {
            regs[i]
        } else {
            regs[i] & 0xFFFF_FFFF
        }
    };

    match fid {
        fid::SMCCC_VERSION => CallResult::value(SMCCC_VERSION_1_1 as u64),
        fid::SMCCC_ARCH_FEATURES => {
            CallResult::status(arch_features(arg(1) as u32, platform.has_stolen_time()))
        }
        // Arm DEN0057A: both calls are SMC64 only.
        fid::PV_TIME_FEATURES => CallResult::status(match arg(1) as u32 {
            fid::PV_TIME_FEATURES | fid::PV_TIME_ST if platform.has_stolen_time() => {
                status::SUCCESS
            }
            _ => status::SMCCC_NOT_SUPPORTED,
        }),
        fid::PV_TIME_ST => match platform.stolen_time() {
            Some(ipa) => CallResult::value(ipa),
            None => CallResult::status(status::SMCCC_NOT_SUPPORTED),
        },
        fid::PSCI_VERSION => CallResult::value(PSCI_VERSION_1_1 as u64),
        fid::PSCI_FEATURES => match psci_features(arg(1) as u32) {
            Some(flags) => CallResult::value(flags),
            None => CallResult::status(status::NOT_SUPPORTED),
        },
        fid::CPU_SUSPEND_32 | fid::CPU_SUSPEND_64 => {
            let power_state = arg(1) as u32;
            if power_state & POWER_STATE_RESERVED != 0 {
                return CallResult::status(status::INVALID_PARAMETERS);
            }
            match platform.cpu_suspend(power_state, arg(2), arg(3)) {
                Ok(Suspended::Returned) => CallResult::status(status::SUCCESS),
                Ok(Suspended::AtEntryPoint) => CallResult::NoReturn,
                Err(e) => CallResult::from_error(e),
            }
        }
        fid::CPU_OFF => {
            platform.cpu_off();
            CallResult::NoReturn
        }
        // Linux's SCMI SMC transport takes any non-zero x0 as a failure.
        fid::SCMI_CHANNEL => CallResult::status(if platform.scmi_channel() {
            status::SUCCESS
        } else {
            status::SMCCC_NOT_SUPPORTED
        }),
        fid::CPU_ON_32 | fid::CPU_ON_64 => {
            let target = arg(1);
            if target & MPIDR_RESERVED_64 != 0 {
                return CallResult::status(status::INVALID_PARAMETERS);
            }
            match platform.cpu_on(target, arg(2), arg(3)) {
                Ok(()) => CallResult::status(status::SUCCESS),
                Err(e) => CallResult::from_error(e),
            }
        }
        fid::AFFINITY_INFO_32 | fid::AFFINITY_INFO_64 => {
            let (target, level) = (arg(1), arg(2));
            if target & MPIDR_RESERVED_64 != 0 || level > 3 {
                return CallResult::status(status::INVALID_PARAMETERS);
            }
            match platform.affinity_info(target, level) {
                Ok(state) => CallResult::value(state as u64),
                Err(e) => CallResult::from_error(e),
            }
        }
        fid::MIGRATE_INFO_TYPE => CallResult::value(MIGRATE_INFO_TYPE_NOT_PRESENT),
        fid::SYSTEM_OFF => {
            platform.system_off();
            CallResult::NoReturn
        }
        fid::SYSTEM_RESET => {
            platform.system_reset();
            CallResult::NoReturn
        }
        _ => CallResult::status(status::NOT_SUPPORTED),
    }
}

/// PSCI_FEATURES: `Some(flags)` for implemented functions, else `None`.
/// SMCCC_VERSION is listed so callers can discover SMCCC 1.1 (SMCCC 1.1
/// section 7.2.1).
fn psci_features(queried: u32) -> Option<u64> {
    match queried {
        fid::CPU_SUSPEND_32 | fid::CPU_SUSPEND_64 => Some(CPU_SUSPEND_FEATURES),
        fid::PSCI_VERSION
        | fid::CPU_OFF
        | fid::CPU_ON_32
        | fid::CPU_ON_64
        | fid::AFFINITY_INFO_32
        | fid::AFFINITY_INFO_64
        | fid::MIGRATE_INFO_TYPE
        | fid::SYSTEM_OFF
        | fid::SYSTEM_RESET
        | fid::PSCI_FEATURES
        | fid::SMCCC_VERSION => Some(0),
        _ => None,
    }
}

/// SMCCC_ARCH_FEATURES: SUCCESS for the architecture calls implemented
/// here, and for PV_TIME_FEATURES where the VM keeps stolen time (how
/// Linux discovers it). The Spectre workarounds are NOT_SUPPORTED: Aerie
/// does not claim them, so a guest judges its own exposure.
fn arch_features(queried: u32, stolen_time: bool) -> i32 {
    match queried {
        fid::SMCCC_VERSION | fid::SMCCC_ARCH_FEATURES => status::SUCCESS,
        fid::PV_TIME_FEATURES if stolen_time => status::SUCCESS,
        _ => status::SMCCC_NOT_SUPPORTED,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const NOT_SUPPORTED: u64 = u64::MAX;

    #[derive(Debug, PartialEq, Eq)]
    enum Call {
        On(u64, u64, u64),
        Off,
        Suspend(u32, u64, u64),
        SystemOff,
        SystemReset,
    }

    /// Two vCPUs: MPIDR 0 (on) and 1 (off). Records every call.
    #[derive(Default)]
    struct Fake {
        calls: Vec<Call>,
        suspend_result: Option<Result<Suspended, PsciError>>,
        /// SCMI doorbells rung.
        scmi: u32,
        /// PV_TIME_ST calls that reached the platform.
        stolen_time_calls: u32,
    }

    const STOLEN_TIME_IPA: u64 = 0x090a_0040;

    impl PsciPlatform for Fake {
        fn cpu_on(&mut self, mpidr: u64, entry: u64, ctx: u64) -> Result<(), PsciError> {
            self.calls.push(Call::On(mpidr, entry, ctx));
            match mpidr {
                0 => Err(PsciError::AlreadyOn),
                1 if entry & 3 != 0 => Err(PsciError::InvalidAddress),
                1 => Ok(()),
                _ => Err(PsciError::InvalidParameters),
            }
        }
        fn cpu_off(&mut self) {
            self.calls.push(Call::Off);
        }
        fn affinity_info(&self, mpidr: u64, level: u64) -> Result<AffinityState, PsciError> {
            // `&self`: cannot record; answer from the fixed topology.
            match (mpidr, level) {
                (0, 0) => Ok(AffinityState::On),
                (1, 0) => Ok(AffinityState::Off),
                (_, 1) => Ok(AffinityState::On),
                _ => Err(PsciError::InvalidParameters),
            }
        }
        fn scmi_channel(&mut self) -> bool {
            self.scmi += 1;
            true
        }
        fn has_stolen_time(&self) -> bool {
            true
        }
        fn stolen_time(&mut self) -> Option<u64> {
            self.stolen_time_calls += 1;
            Some(STOLEN_TIME_IPA)
        }
        fn cpu_suspend(&mut self, ps: u32, entry: u64, ctx: u64) -> Result<Suspended, PsciError> {
            self.calls.push(Call::Suspend(ps, entry, ctx));
            self.suspend_result.unwrap_or(Ok(Suspended::Returned))
        }
        fn system_off(&mut self) {
            self.calls.push(Call::SystemOff);
        }
        fn system_reset(&mut self) {
            self.calls.push(Call::SystemReset);
        }
    }

    fn call(p: &mut Fake, regs: [u64; 4]) -> CallResult {
        handle_call(regs, p)
    }

    fn ret(x0: u64) -> CallResult {
        CallResult::Return([x0, 0, 0, 0])
    }

    #[test]
    fn versions() {
        let mut p = Fake::default();
        assert_eq!(
            call(&mut p, [fid::PSCI_VERSION as u64, 0, 0, 0]),
            ret(0x0001_0001)
        );
        assert_eq!(
            call(&mut p, [fid::SMCCC_VERSION as u64, 0, 0, 0]),
            ret(0x0001_0001)
        );
        // Upper half of x0 is not part of the function ID.
        assert_eq!(
            call(
                &mut p,
                [0xDEAD_BEEF_0000_0000 | fid::PSCI_VERSION as u64, 0, 0, 0]
            ),
            ret(0x0001_0001)
        );
        assert!(p.calls.is_empty());
    }

    #[test]
    fn cpu_on_results_come_from_the_platform() {
        let mut p = Fake::default();
        let on = fid::CPU_ON_64 as u64;
        assert_eq!(call(&mut p, [on, 1, 0x4008_0000, 42]), ret(0));
        assert_eq!(call(&mut p, [on, 0, 0x4008_0000, 0]), ret(to_reg(-4)));
        assert_eq!(call(&mut p, [on, 1, 0x4008_0002, 0]), ret(to_reg(-9)));
        // Unknown MPIDR: the platform says INVALID_PARAMETERS.
        assert_eq!(call(&mut p, [on, 0x0100, 0x4008_0000, 0]), ret(to_reg(-2)));
        assert_eq!(
            p.calls,
            [
                Call::On(1, 0x4008_0000, 42),
                Call::On(0, 0x4008_0000, 0),
                Call::On(1, 0x4008_0002, 0),
                Call::On(0x100, 0x4008_0000, 0),
            ]
        );
    }

    #[test]
    fn cpu_on_with_malformed_mpidr_never_reaches_the_platform() {
        let mut p = Fake::default();
        for bad in [1u64 << 24, 1 << 40, 1 << 63] {
            assert_eq!(
                call(&mut p, [fid::CPU_ON_64 as u64, bad, 0, 0]),
                ret(to_reg(-2))
            );
        }
        assert_eq!(
            call(&mut p, [fid::CPU_ON_32 as u64, 0xFF00_0000, 0, 0]),
            ret(to_reg(-2))
        );
        assert!(p.calls.is_empty());
        // Aff3 (bits 39:32) is legal in SMC64.
        call(&mut p, [fid::CPU_ON_64 as u64, 0x01_0000_0000, 0, 0]);
        assert_eq!(p.calls, [Call::On(0x01_0000_0000, 0, 0)]);
    }

    #[test]
    fn smc32_arguments_are_truncated_and_smc64_are_not() {
        let mut p = Fake::default();
        let hi = 0xFFFF_FFFF_0000_0000;
        call(
            &mut p,
            [fid::CPU_ON_32 as u64, hi | 1, hi | 0x4008_0000, hi | 7],
        );
        call(&mut p, [fid::CPU_ON_64 as u64, 1, hi | 0x4008_0000, hi | 7]);
        call(
            &mut p,
            [
                fid::CPU_SUSPEND_32 as u64,
                hi | 0x1_0000,
                hi | 0x100,
                hi | 3,
            ],
        );
        assert_eq!(
            p.calls,
            [
                Call::On(1, 0x4008_0000, 7),
                Call::On(1, hi | 0x4008_0000, hi | 7),
                Call::Suspend(0x1_0000, 0x100, 3),
            ]
        );
        // The AFFINITY_INFO_32 target loses its upper half and becomes MPIDR 1.
        assert_eq!(
            call(&mut p, [fid::AFFINITY_INFO_32 as u64, hi | 1, 0, 0]),
            ret(1)
        );
        // ... while SMC64 sees reserved bits and rejects them.
        assert_eq!(
            call(&mut p, [fid::AFFINITY_INFO_64 as u64, hi | 1, 0, 0]),
            ret(to_reg(-2))
        );
    }

    #[test]
    fn affinity_info() {
        let mut p = Fake::default();
        let ai = fid::AFFINITY_INFO_64 as u64;
        assert_eq!(call(&mut p, [ai, 0, 0, 0]), ret(0)); // ON
        assert_eq!(call(&mut p, [ai, 1, 0, 0]), ret(1)); // OFF
        assert_eq!(call(&mut p, [ai, 0, 1, 0]), ret(0)); // cluster ON
        assert_eq!(call(&mut p, [ai, 7, 0, 0]), ret(to_reg(-2))); // platform: no such CPU
        assert_eq!(call(&mut p, [ai, 0, 4, 0]), ret(to_reg(-2))); // level > 3
    }

    #[test]
    fn cpu_suspend_outcomes() {
        let mut p = Fake::default();
        let cs = fid::CPU_SUSPEND_64 as u64;
        assert_eq!(call(&mut p, [cs, 0, 0, 0]), ret(0));
        p.suspend_result = Some(Ok(Suspended::AtEntryPoint));
        assert_eq!(
            call(&mut p, [cs, 0x0101_0000, 0x4000_1000, 9]),
            CallResult::NoReturn
        );
        p.suspend_result = Some(Err(PsciError::InvalidParameters));
        assert_eq!(call(&mut p, [cs, 0x2, 0, 0]), ret(to_reg(-2)));
        assert_eq!(p.calls.len(), 3);
        // Reserved power_state bits (here bit 17 and bit 26) are refused up front.
        assert_eq!(call(&mut p, [cs, 1 << 17, 0, 0]), ret(to_reg(-2)));
        assert_eq!(call(&mut p, [cs, 1 << 26, 0, 0]), ret(to_reg(-2)));
        assert_eq!(p.calls.len(), 3);
    }

    #[test]
    fn calls_that_do_not_return() {
        let mut p = Fake::default();
        assert_eq!(
            call(&mut p, [fid::CPU_OFF as u64, 0, 0, 0]),
            CallResult::NoReturn
        );
        assert_eq!(
            call(&mut p, [fid::SYSTEM_OFF as u64, 0, 0, 0]),
            CallResult::NoReturn
        );
        assert_eq!(
            call(&mut p, [fid::SYSTEM_RESET as u64, 0, 0, 0]),
            CallResult::NoReturn
        );
        assert_eq!(p.calls, [Call::Off, Call::SystemOff, Call::SystemReset]);
    }

    #[test]
    fn migrate_info_type_is_2_and_migrate_is_unsupported() {
        let mut p = Fake::default();
        assert_eq!(
            call(&mut p, [fid::MIGRATE_INFO_TYPE as u64, 0, 0, 0]),
            ret(2)
        );
        assert_eq!(
            call(&mut p, [fid::MIGRATE_32 as u64, 0, 0, 0]),
            ret(NOT_SUPPORTED)
        );
        assert_eq!(
            call(&mut p, [fid::MIGRATE_INFO_UP_CPU_64 as u64, 0, 0, 0]),
            ret(NOT_SUPPORTED)
        );
    }

    #[test]
    fn psci_features() {
        let mut p = Fake::default();
        let pf = |p: &mut Fake, f: u32| call(p, [fid::PSCI_FEATURES as u64, f as u64, 0, 0]);
        for f in [
            fid::PSCI_VERSION,
            fid::CPU_OFF,
            fid::CPU_ON_32,
            fid::CPU_ON_64,
            fid::AFFINITY_INFO_32,
            fid::AFFINITY_INFO_64,
            fid::MIGRATE_INFO_TYPE,
            fid::SYSTEM_OFF,
            fid::SYSTEM_RESET,
            fid::PSCI_FEATURES,
            fid::SMCCC_VERSION,
        ] {
            assert_eq!(pf(&mut p, f), ret(0), "{f:#x}");
        }
        assert_eq!(pf(&mut p, fid::CPU_SUSPEND_32), ret(CPU_SUSPEND_FEATURES));
        assert_eq!(pf(&mut p, fid::CPU_SUSPEND_64), ret(CPU_SUSPEND_FEATURES));
        for f in [
            fid::MIGRATE_32,
            fid::SYSTEM_SUSPEND_64,
            fid::SYSTEM_RESET2_32,
            fid::SMCCC_ARCH_FEATURES,
            fid::SMCCC_ARCH_WORKAROUND_1,
            0x8400_00FF,
        ] {
            assert_eq!(pf(&mut p, f), ret(NOT_SUPPORTED), "{f:#x}");
        }
    }

    #[test]
    fn smccc_arch_features() {
        let mut p = Fake::default();
        let af = |p: &mut Fake, f: u32| call(p, [fid::SMCCC_ARCH_FEATURES as u64, f as u64, 0, 0]);
        assert_eq!(af(&mut p, fid::SMCCC_ARCH_FEATURES), ret(0));
        assert_eq!(af(&mut p, fid::SMCCC_VERSION), ret(0));
        for f in [
            fid::SMCCC_ARCH_WORKAROUND_1,
            fid::SMCCC_ARCH_WORKAROUND_2,
            fid::SMCCC_ARCH_WORKAROUND_3,
            fid::SMCCC_ARCH_SOC_ID,
            fid::PSCI_VERSION,
            fid::PV_TIME_ST, // not an architecture call; see stolen_time_discovery
        ] {
            assert_eq!(af(&mut p, f), ret(NOT_SUPPORTED), "{f:#x}");
        }
        // The workaround calls themselves are not implemented either.
        assert_eq!(
            call(&mut p, [fid::SMCCC_ARCH_WORKAROUND_1 as u64, 0, 0, 0]),
            ret(NOT_SUPPORTED)
        );
    }

    #[test]
    fn unknown_calls_are_not_supported() {
        let mut p = Fake::default();
        for f in [
            0x8600_FF01u64,
            0xC200_0000,
            0x8400_0000 | 0x4000_0000,
            0x0400_0000,
            0x8401_0000,
        ] {
            assert_eq!(call(&mut p, [f, 0, 0, 0]), ret(NOT_SUPPORTED), "{f:#x}");
        }
        assert!(p.calls.is_empty());
    }

    /// `served_owners` must be exact: every call to an owner whose bit is
    /// clear is NOT_SUPPORTED, and every owner whose bit is set answers at
    /// least one call. Scans all function numbers under each owner with both
    /// conventions and both call types.
    #[test]
    fn served_owners_is_exact() {
        assert_eq!(served_owners(), 0x71);
        let mut p = Fake::default();
        for owner in 0..64u32 {
            let mut answered = false;
            for high in [0x8000_0000u32, 0xC000_0000, 0x0000_0000, 0x4000_0000] {
                for func in 0..=0xFFFFu32 {
                    let f = high | (owner << 24) | func;
                    if call(&mut p, [f as u64, 1, 0x4000_0000, 0]) != ret(NOT_SUPPORTED) {
                        answered = true;
                    }
                }
            }
            let served = served_owners() & (1 << owner) != 0;
            assert_eq!(answered, served, "owner {owner}");
        }
    }

    /// Stolen time as Linux discovers it (arch/arm64/kernel/paravirt.c):
    /// SMCCC_ARCH_FEATURES(PV_TIME_FEATURES), then PV_TIME_FEATURES(PV_TIME_ST),
    /// then each vCPU's PV_TIME_ST; all NOT_SUPPORTED where the platform
    /// keeps none (the trait's default).
    #[test]
    fn stolen_time_discovery() {
        let features = |f: u32| [fid::SMCCC_ARCH_FEATURES as u64, f as u64, 0, 0];
        let pv = |f: u32| [fid::PV_TIME_FEATURES as u64, f as u64, 0, 0];
        let st = [fid::PV_TIME_ST as u64, 0, 0, 0];
        let mut p = Fake::default();
        assert_eq!(call(&mut p, features(fid::PV_TIME_FEATURES)), ret(0));
        assert_eq!(call(&mut p, pv(fid::PV_TIME_FEATURES)), ret(0));
        assert_eq!(call(&mut p, pv(fid::PV_TIME_ST)), ret(0));
        assert_eq!(call(&mut p, pv(0xC500_0022)), ret(NOT_SUPPORTED));
        assert_eq!(call(&mut p, pv(fid::PSCI_VERSION)), ret(NOT_SUPPORTED));
        assert_eq!(call(&mut p, st), ret(STOLEN_TIME_IPA));
        assert_eq!(p.stolen_time_calls, 1);
        // The 32-bit forms are not the calls (DEN0057A defines SMC64 only).
        let st32 = [(fid::PV_TIME_ST & !fid::SMC64) as u64, 0, 0, 0];
        assert_eq!(call(&mut p, st32), ret(NOT_SUPPORTED));
        assert_eq!(p.stolen_time_calls, 1);

        for regs in [features(fid::PV_TIME_FEATURES), pv(fid::PV_TIME_ST), st] {
            assert_eq!(handle_call(regs, &mut Plain), ret(NOT_SUPPORTED));
        }
    }

    /// A platform with only what the trait requires: no SCMI channel, no
    /// stolen time (the trait's defaults).
    struct Plain;

    impl PsciPlatform for Plain {
        fn cpu_on(&mut self, _: u64, _: u64, _: u64) -> Result<(), PsciError> {
            Err(PsciError::InvalidParameters)
        }
        fn cpu_off(&mut self) {}
        fn affinity_info(&self, _: u64, _: u64) -> Result<AffinityState, PsciError> {
            Err(PsciError::InvalidParameters)
        }
        fn cpu_suspend(&mut self, _: u32, _: u64, _: u64) -> Result<Suspended, PsciError> {
            Ok(Suspended::Returned)
        }
        fn system_off(&mut self) {}
        fn system_reset(&mut self) {}
    }

    /// The SCMI doorbell answers SUCCESS once the platform served the
    /// channel; a platform without SCMI (the trait's default) says
    /// NOT_SUPPORTED, the only failure Linux's SMC transport knows.
    #[test]
    fn scmi_doorbell() {
        let mut p = Fake::default();
        let bell = [fid::SCMI_CHANNEL as u64, 0, 0, 0];
        assert_eq!(call(&mut p, bell), ret(0));
        assert_eq!(p.scmi, 1);
        assert_eq!(handle_call(bell, &mut Plain), ret(NOT_SUPPORTED));
    }

    mod storm;
}
