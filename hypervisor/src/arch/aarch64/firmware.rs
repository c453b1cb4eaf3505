//! Calls out of Aerie: PSCI to the platform firmware (QEMU's, by SMC) and
//! Arm semihosting for an exit status under emulation.

/// One SMCCC call by SMC; returns x0.
fn smc(function: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = function;
    // SAFETY: an SMC to the platform firmware; SMCCC 1.1 preserves x4..x17
    // and clobbers at most x0..x3, which are declared.
    unsafe {
        core::arch::asm!("smc #0", inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _,
            inout("x3") a3 => _, options(nostack));
    }
    x0
}

/// PSCI SYSTEM_OFF: under QEMU this ends the emulator with exit status 0.
pub fn system_off() -> ! {
    smc(0x8400_0008, 0, 0, 0);
    loop {
        super::sysreg::wfe();
    }
}

/// Stop the machine reporting `status` to the emulator through semihosting
/// SYS_EXIT (ADP_Stopped_ApplicationExit with a subcode). Without
/// semihosting (real hardware) HLT would be UNDEFINED: only for machines
/// the boot arguments or the tree say have it (`crate::power`).
pub fn semihosting_exit(status: u32) -> ! {
    let block: [u64; 2] = [0x20026, status as u64];
    // SAFETY: semihosting SYS_EXIT (op 0x18) reads the two-word block at
    // x1 and does not return.
    unsafe {
        core::arch::asm!("hlt #0xf000", in("x0") 0x18u64, in("x1") block.as_ptr(), options(nostack));
    }
    loop {
        super::sysreg::wfe();
    }
}

/// PSCI CPU_ON (SMC64) for a secondary pCPU: starts `mpidr` at physical
/// `entry` with x0 = `context`. Returns the PSCI status (0 = success).
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    smc(0xc400_0003, mpidr, entry, context) as i64
}
