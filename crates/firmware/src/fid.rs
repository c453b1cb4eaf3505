//! SMCCC function identifiers (Arm DEN0028 "SMC Calling Convention" 1.1,
//! section 2.5) and the PSCI 1.1 (Arm DEN0022) function IDs.
//!
//! A function ID: bit 31 fast call, bit 30 SMC64/HVC64 convention,
//! bits 29:24 owning entity, bits 15:0 function number.

/// Bit 31: fast (atomic) call, as opposed to a yielding call.
pub const FAST_CALL: u32 = 1 << 31;
/// Bit 30: the SMC64/HVC64 calling convention (64-bit arguments/results).
pub const SMC64: u32 = 1 << 30;

/// Owning entity numbers (bits 29:24).
pub mod owner {
    /// Arm Architecture calls (SMCCC_VERSION, SMCCC_ARCH_*).
    pub const ARM_ARCH: u8 = 0;
    /// CPU service calls.
    pub const CPU: u8 = 1;
    /// SiP service calls.
    pub const SIP: u8 = 2;
    /// OEM service calls.
    pub const OEM: u8 = 3;
    /// Standard secure service calls (PSCI, SDEI, TRNG, ...).
    pub const STANDARD_SECURE: u8 = 4;
    /// Standard hypervisor service calls (PV time, ...).
    pub const STANDARD_HYP: u8 = 5;
    /// Vendor specific hypervisor service calls.
    pub const VENDOR_HYP: u8 = 6;
    /// Vendor specific EL3 monitor calls.
    pub const VENDOR_EL3: u8 = 7;
}

/// The owning entity, bits 29:24.
#[inline]
pub const fn owner(fid: u32) -> u8 {
    ((fid >> 24) & 0x3F) as u8
}

/// Fast call (bit 31 set).
#[inline]
pub const fn is_fast(fid: u32) -> bool {
    fid & FAST_CALL != 0
}

/// SMC64/HVC64 calling convention (bit 30 set).
#[inline]
pub const fn is_smc64(fid: u32) -> bool {
    fid & SMC64 != 0
}

// Arm Architecture calls.
/// SMCCC_VERSION.
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// SMCCC_ARCH_FEATURES.
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
/// SMCCC_ARCH_SOC_ID (not implemented by Aerie).
pub const SMCCC_ARCH_SOC_ID: u32 = 0x8000_0002;
/// SMCCC_ARCH_WORKAROUND_1 (Spectre v2, CVE-2017-5715).
pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;
/// SMCCC_ARCH_WORKAROUND_2 (Spectre v4, CVE-2018-3639).
pub const SMCCC_ARCH_WORKAROUND_2: u32 = 0x8000_7FFF;
/// SMCCC_ARCH_WORKAROUND_3 (Spectre-BHB, CVE-2022-23960).
pub const SMCCC_ARCH_WORKAROUND_3: u32 = 0x8000_3FFF;

// Paravirtualized time (standard hypervisor service, owner 5; Arm DEN0057A).
/// PV_TIME_FEATURES: is PV_TIME_FEATURES / PV_TIME_ST (in w1) implemented.
pub const PV_TIME_FEATURES: u32 = 0xC500_0020;
/// PV_TIME_ST: the IPA of the calling vCPU's stolen-time record.
pub const PV_TIME_ST: u32 = 0xC500_0021;

// PSCI (standard secure service, owner 4).
/// PSCI_VERSION.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// CPU_SUSPEND, SMC32.
pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
/// CPU_SUSPEND, SMC64.
pub const CPU_SUSPEND_64: u32 = 0xC400_0001;
/// CPU_OFF.
pub const CPU_OFF: u32 = 0x8400_0002;
/// CPU_ON, SMC32.
pub const CPU_ON_32: u32 = 0x8400_0003;
/// CPU_ON, SMC64.
pub const CPU_ON_64: u32 = 0xC400_0003;
/// AFFINITY_INFO, SMC32.
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
/// AFFINITY_INFO, SMC64.
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
/// MIGRATE, SMC32 (not implemented: no Trusted OS to migrate).
pub const MIGRATE_32: u32 = 0x8400_0005;
/// MIGRATE, SMC64.
pub const MIGRATE_64: u32 = 0xC400_0005;
/// MIGRATE_INFO_TYPE.
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
/// MIGRATE_INFO_UP_CPU, SMC32.
pub const MIGRATE_INFO_UP_CPU_32: u32 = 0x8400_0007;
/// MIGRATE_INFO_UP_CPU, SMC64.
pub const MIGRATE_INFO_UP_CPU_64: u32 = 0xC400_0007;
/// SYSTEM_OFF.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// SYSTEM_RESET.
pub const SYSTEM_RESET: u32 = 0x8400_0009;
/// PSCI_FEATURES.
pub const PSCI_FEATURES: u32 = 0x8400_000A;

/// Aerie's SCMI doorbell (vendor-specific hypervisor service, fast, SMC32):
/// the guest, as SCMI agent, has put a command in its channel's shared
/// memory (`arm,smc-id` of the `arm,scmi-smc` node in its device tree).
pub const SCMI_CHANNEL: u32 = 0x8600_0001;
/// SYSTEM_SUSPEND, SMC32 (not implemented).
pub const SYSTEM_SUSPEND_32: u32 = 0x8400_000E;
/// SYSTEM_SUSPEND, SMC64 (not implemented).
pub const SYSTEM_SUSPEND_64: u32 = 0xC400_000E;
/// SYSTEM_RESET2, SMC32 (not implemented).
pub const SYSTEM_RESET2_32: u32 = 0x8400_0012;
/// SYSTEM_RESET2, SMC64 (not implemented).
pub const SYSTEM_RESET2_64: u32 = 0xC400_0012;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_accessors() {
        assert_eq!(owner(PSCI_VERSION), owner::STANDARD_SECURE);
        assert_eq!(owner(CPU_ON_64), owner::STANDARD_SECURE);
        assert_eq!(owner(SMCCC_ARCH_WORKAROUND_1), owner::ARM_ARCH);
        assert_eq!(owner(0x8600_FF01), owner::VENDOR_HYP);
        assert_eq!(owner(0xFF00_0000), 0x3F);
        assert!(is_fast(CPU_OFF) && !is_smc64(CPU_OFF));
        assert!(is_fast(CPU_ON_64) && is_smc64(CPU_ON_64));
        assert!(!is_fast(0x0400_0000));
    }

    #[test]
    fn smc64_variants_differ_only_in_bit_30() {
        for (a, b) in [
            (CPU_SUSPEND_32, CPU_SUSPEND_64),
            (CPU_ON_32, CPU_ON_64),
            (AFFINITY_INFO_32, AFFINITY_INFO_64),
            (MIGRATE_32, MIGRATE_64),
        ] {
            assert_eq!(a | SMC64, b);
        }
    }
}
