//! Why the vGIC refused a request. The hypervisor answers a refused guest
//! MMIO access with a synchronous external abort; every other error is a
//! hypervisor bug or a bad configuration and carries enough context to log.

use core::fmt;

/// A request the vGIC does not accept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VgicError {
    /// Access width not 1, 2, 4 or 8 bytes, or not one the register supports
    /// (e.g. a byte read of `GICD_CTLR`; only `IPRIORITYR` is byte-accessible,
    /// and on a GICv2 `ITARGETSR`, `CPENDSGIR` and `SPENDSGIR` too; only
    /// 64-bit registers take 8-byte accesses).
    BadSize {
        /// Offset within the frame that was accessed.
        offset: u64,
        /// Access size in bytes.
        size: u8,
    },
    /// Offset not naturally aligned to the access size.
    Misaligned {
        /// Offset within the frame that was accessed.
        offset: u64,
        /// Access size in bytes.
        size: u8,
    },
    /// Offset beyond the distributor (64 KiB on a GICv3, 4 KiB on a GICv2),
    /// or in a redistributor frame of a vCPU that does not exist.
    OutOfRange {
        /// Offset within the region that was accessed.
        offset: u64,
    },
    /// A vCPU index the vGIC was not built with.
    NoSuchVcpu {
        /// The vCPU index asked for.
        vcpu: usize,
    },
    /// An INTID outside the range the operation accepts.
    BadIntid {
        /// The INTID asked for.
        intid: u32,
    },
    /// `Vgic::try_new` parameters outside what the model supports.
    BadConfig {
        /// Requested vCPUs (1 to [`crate::MAX_VCPUS`]).
        vcpus: usize,
        /// Requested SPIs (a multiple of 32, at most [`crate::MAX_SPIS`]).
        spis: u32,
    },
    /// A call for the other GIC architecture version: a GICv3 register file
    /// (`dist_*`, `redist_*`) on a GICv2 vGIC, or a GICv2 one (`dist_v2_*`)
    /// on a GICv3 vGIC. A hypervisor bug: it maps the frames of the version
    /// it built.
    WrongVersion {
        /// The architecture version the vGIC was built as (2 or 3).
        version: u8,
    },
}

impl VgicError {
    /// The same error reported at `offset` (a frame-relative offset turned
    /// into a region-relative one); errors without an offset are unchanged.
    pub(crate) fn at(self, offset: u64) -> VgicError {
        match self {
            VgicError::BadSize { size, .. } => VgicError::BadSize { offset, size },
            VgicError::Misaligned { size, .. } => VgicError::Misaligned { offset, size },
            VgicError::OutOfRange { .. } => VgicError::OutOfRange { offset },
            other => other,
        }
    }
}

impl fmt::Display for VgicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VgicError::BadSize { offset, size } => {
                write!(f, "unsupported {size}-byte access at offset {offset:#x}")
            }
            VgicError::Misaligned { offset, size } => {
                write!(f, "misaligned {size}-byte access at offset {offset:#x}")
            }
            VgicError::OutOfRange { offset } => write!(f, "offset {offset:#x} out of range"),
            VgicError::NoSuchVcpu { vcpu } => write!(f, "no vCPU {vcpu}"),
            VgicError::BadIntid { intid } => write!(f, "INTID {intid} not valid here"),
            VgicError::BadConfig { vcpus, spis } => write!(
                f,
                "unsupported vGIC shape: {vcpus} vCPUs (1..={}), {spis} SPIs (multiple of 32, <= {})",
                crate::MAX_VCPUS,
                crate::MAX_SPIS
            ),
            VgicError::WrongVersion { version } => {
                write!(f, "access for the other GIC version on a GICv{version} vGIC")
            }
        }
    }
}
