//! SMCCC calls (HVC and SMC conduits) and the PSCI / SMCCC function IDs used
//! (Arm DEN0022 PSCI 1.1, DEN0028 SMCCC 1.1).

pub const PSCI_VERSION: u32 = 0x8400_0000;
pub const CPU_SUSPEND_64: u32 = 0xC400_0001;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON_64: u32 = 0xC400_0003;
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const PSCI_FEATURES: u32 = 0x8400_000A;

pub const SMCCC_VERSION: u32 = 0x8000_0000;
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;

/// PSCI return codes (signed, in x0).
pub const SUCCESS: i64 = 0;
pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMETERS: i64 = -2;
pub const ALREADY_ON: i64 = -4;

/// AFFINITY_INFO results.
pub const AFFINITY_ON: i64 = 0;
pub const AFFINITY_OFF: i64 = 1;

/// `PSCI_VERSION` value for PSCI 1.1 (major in [31:16], minor in [15:0]).
pub const VERSION_1_1: u64 = 0x0001_0001;

/// An SMCCC call through `hvc #0`. x4..x17 are declared clobbered so this is
/// correct even against an SMCCC 1.0 implementation.
pub fn hvc(fid: u32, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = u64::from(fid);
    // SAFETY: HVC traps to the hypervisor (or QEMU's PSCI); per SMCCC it only
    // writes x0..x17, all declared as outputs. It does not touch our memory.
    unsafe {
        core::arch::asm!(
            "hvc #0",
            inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    x0
}

/// An SMCCC call through `smc #0` (answered by the hypervisor, which traps SMC).
pub fn smc(fid: u32, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = u64::from(fid);
    // SAFETY: as for `hvc`: the callee only writes x0..x17, declared as outputs.
    // Where SMC is UNDEFINED the exception handler deals with it.
    unsafe {
        core::arch::asm!(
            "smc #0",
            inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    x0
}

/// A PSCI call through HVC, its result as the signed PSCI return value.
pub fn call(fid: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    hvc(fid, a1, a2, a3) as i64
}

pub fn cpu_on(target_mpidr: u64, entry: u64, context_id: u64) -> i64 {
    call(CPU_ON_64, target_mpidr, entry, context_id)
}

pub fn affinity_info(target_mpidr: u64, lowest_level: u64) -> i64 {
    call(AFFINITY_INFO_64, target_mpidr, lowest_level, 0)
}

/// CPU_OFF: only returns on failure (DENIED).
pub fn cpu_off() -> i64 {
    call(CPU_OFF, 0, 0, 0)
}

/// SYSTEM_RESET; prints and parks if it ever returns.
pub fn system_reset() -> ! {
    call(SYSTEM_RESET, 0, 0, 0);
    crate::console::println!("testkit: SYSTEM_RESET returned");
    loop {
        crate::sysreg::wfi();
    }
}

/// SYSTEM_OFF; prints and parks if it ever returns.
pub fn system_off() -> ! {
    call(SYSTEM_OFF, 0, 0, 0);
    crate::console::println!("testkit: SYSTEM_OFF returned");
    loop {
        crate::sysreg::wfi();
    }
}
