//! Return codes (PSCI 1.1 section 5.2.2; SMCCC 1.1 section 7) and the
//! small result types the platform hands back.

/// PSCI / SMCCC success.
pub const SUCCESS: i32 = 0;
/// Function not implemented (PSCI and SMCCC share -1).
pub const NOT_SUPPORTED: i32 = -1;
/// PSCI INVALID_PARAMETERS.
pub const INVALID_PARAMETERS: i32 = -2;
/// PSCI DENIED.
pub const DENIED: i32 = -3;
/// PSCI ALREADY_ON.
pub const ALREADY_ON: i32 = -4;
/// PSCI ON_PENDING.
pub const ON_PENDING: i32 = -5;
/// PSCI INTERNAL_FAILURE.
pub const INTERNAL_FAILURE: i32 = -6;
/// PSCI NOT_PRESENT.
pub const NOT_PRESENT: i32 = -7;
/// PSCI DISABLED.
pub const DISABLED: i32 = -8;
/// PSCI INVALID_ADDRESS.
pub const INVALID_ADDRESS: i32 = -9;

/// SMCCC_RET_NOT_SUPPORTED.
pub const SMCCC_NOT_SUPPORTED: i32 = -1;

/// A PSCI error a platform may report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PsciError {
    /// NOT_SUPPORTED (-1).
    NotSupported,
    /// INVALID_PARAMETERS (-2), e.g. CPU_ON of an MPIDR with no vCPU.
    InvalidParameters,
    /// DENIED (-3).
    Denied,
    /// ALREADY_ON (-4): CPU_ON of a running vCPU.
    AlreadyOn,
    /// ON_PENDING (-5): CPU_ON of a vCPU already being started.
    OnPending,
    /// INTERNAL_FAILURE (-6).
    InternalFailure,
    /// NOT_PRESENT (-7).
    NotPresent,
    /// DISABLED (-8).
    Disabled,
    /// INVALID_ADDRESS (-9): bad entry point.
    InvalidAddress,
}

impl PsciError {
    /// The PSCI return code.
    #[inline]
    pub const fn code(self) -> i32 {
        match self {
            PsciError::NotSupported => NOT_SUPPORTED,
            PsciError::InvalidParameters => INVALID_PARAMETERS,
            PsciError::Denied => DENIED,
            PsciError::AlreadyOn => ALREADY_ON,
            PsciError::OnPending => ON_PENDING,
            PsciError::InternalFailure => INTERNAL_FAILURE,
            PsciError::NotPresent => NOT_PRESENT,
            PsciError::Disabled => DISABLED,
            PsciError::InvalidAddress => INVALID_ADDRESS,
        }
    }
}

/// AFFINITY_INFO results (PSCI 1.1 section 5.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum AffinityState {
    /// At least one core in the affinity instance is on.
    On = 0,
    /// All cores in the affinity instance are off.
    Off = 1,
    /// A CPU_ON is in progress.
    OnPending = 2,
}

/// What a CPU_SUSPEND did, as the platform reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Suspended {
    /// The vCPU woke and continues after the call, which returns SUCCESS
    /// (standby states, and power-down states the platform treats as
    /// standby, which PSCI permits).
    Returned,
    /// The platform powered the vCPU down and will restart it at the entry
    /// point with x0 = context_id; the caller's x0..x3 must not be touched.
    AtEntryPoint,
}

/// Encodes a signed status as the guest sees it in x0: sign-extended to
/// 64 bits. For SMC32/HVC32 calls only w0 is defined; the sign extension
/// keeps both `(int)x0 == -1` and `x0 == (unsigned long)-1` checks working.
#[inline]
pub const fn to_reg(status: i32) -> u64 {
    status as i64 as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_match_psci() {
        let all = [
            (PsciError::NotSupported, -1),
            (PsciError::InvalidParameters, -2),
            (PsciError::Denied, -3),
            (PsciError::AlreadyOn, -4),
            (PsciError::OnPending, -5),
            (PsciError::InternalFailure, -6),
            (PsciError::NotPresent, -7),
            (PsciError::Disabled, -8),
            (PsciError::InvalidAddress, -9),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code);
        }
    }

    #[test]
    fn negative_codes_are_sign_extended() {
        assert_eq!(to_reg(NOT_SUPPORTED), u64::MAX);
        assert_eq!(to_reg(INVALID_ADDRESS), 0xFFFF_FFFF_FFFF_FFF7);
        assert_eq!(to_reg(0x0001_0001), 0x0001_0001);
    }
}
