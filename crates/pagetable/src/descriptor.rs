//! Descriptor bits (Arm ARM D8.3, "Translation table descriptor formats").

/// Which translation regime a table belongs to: the leaf attribute fields mean
/// different things in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// EL2 stage 1 with `HCR_EL2.E2H = 0`: one VA range, one privilege level.
    /// The same tables are walked by the EL1&0 regime for user worlds (C6),
    /// so leaf bits are chosen to read sensibly in both.
    El2,
    /// Guest stage 2 (IPA to PA).
    Stage2,
}

/// Memory type of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal, inner and outer write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE.
    Device,
}

/// Access rights of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// What a leaf maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    pub kind: MemoryKind,
    pub access: Access,
    pub executable: bool,
}

impl Attributes {
    pub const TEXT: Self = Self {
        kind: MemoryKind::Normal,
        access: Access::ReadOnly,
        executable: true,
    };
    pub const RODATA: Self = Self {
        kind: MemoryKind::Normal,
        access: Access::ReadOnly,
        executable: false,
    };
    pub const DATA: Self = Self {
        kind: MemoryKind::Normal,
        access: Access::ReadWrite,
        executable: false,
    };
    pub const DEVICE: Self = Self {
        kind: MemoryKind::Device,
        access: Access::ReadWrite,
        executable: false,
    };
    /// Guest RAM in stage 2: the guest's own stage 1 decides the rest.
    pub const GUEST_RAM: Self = Self {
        kind: MemoryKind::Normal,
        access: Access::ReadWrite,
        executable: true,
    };
}

pub(crate) const VALID: u64 = 1 << 0;
/// Bit 1: table (levels 0-2) or page (level 3); clear means block.
pub(crate) const TABLE_OR_PAGE: u64 = 1 << 1;
pub(crate) const AF: u64 = 1 << 10;
pub(crate) const SH_INNER: u64 = 0b11 << 8;
/// Output address bits [47:12].
pub(crate) const OA_MASK: u64 = 0x0000_ffff_ffff_f000;

/// `MAIR_EL2` slots that Aerie programs (see `arch::aarch64::mmu`).
pub const MAIR_NORMAL_INDEX: u64 = 0;
pub const MAIR_DEVICE_INDEX: u64 = 1;
/// `MAIR_EL2` value matching the indices above: Normal WB RA WA, Device-nGnRE.
pub const MAIR_EL2_VALUE: u64 = 0xff | (0x04 << 8);

// EL2 stage 1.
const S1_ATTR_INDX_SHIFT: u64 = 2;
/// AP[1]: RES1 in the EL2 regime; grants EL0 access in EL1&0. Set on every
/// page so the descriptor is valid in the EL2 regime (the kernel half is out of
/// EL0's 39-bit reach anyway).
const S1_AP1: u64 = 1 << 6;
/// AP[2]: read-only.
const S1_AP2_RO: u64 = 1 << 7;
/// XN at EL2 (UXN when the EL1&0 regime walks the same page).
const S1_XN: u64 = 1 << 54;

// Stage 2.
const S2_MEMATTR_NORMAL_WB: u64 = 0b1111 << 2;
const S2_MEMATTR_DEVICE_NGNRE: u64 = 0b0001 << 2;
const S2AP_READ: u64 = 1 << 6;
const S2AP_WRITE: u64 = 1 << 7;
/// XN[1] (bit 54): no execution at EL1 or EL0.
const S2_XN: u64 = 1 << 54;

/// Attribute bits of a block or page descriptor.
pub(crate) fn leaf_attributes(regime: Regime, attrs: Attributes) -> u64 {
    let mut bits = AF;
    match regime {
        Regime::El2 => {
            let index = match attrs.kind {
                MemoryKind::Normal => MAIR_NORMAL_INDEX,
                MemoryKind::Device => MAIR_DEVICE_INDEX,
            };
            bits |= index << S1_ATTR_INDX_SHIFT | S1_AP1;
            if attrs.access == Access::ReadOnly {
                bits |= S1_AP2_RO;
            }
            if !attrs.executable {
                bits |= S1_XN;
            }
        }
        Regime::Stage2 => {
            bits |= match attrs.kind {
                MemoryKind::Normal => S2_MEMATTR_NORMAL_WB,
                MemoryKind::Device => S2_MEMATTR_DEVICE_NGNRE,
            };
            bits |= S2AP_READ;
            if attrs.access == Access::ReadWrite {
                bits |= S2AP_WRITE;
            }
            if !attrs.executable {
                bits |= S2_XN;
            }
        }
    }
    if attrs.kind == MemoryKind::Normal {
        bits |= SH_INNER;
    }
    bits
}

/// Inverse of [`leaf_attributes`], for tests and diagnostics.
pub(crate) fn decode_attributes(regime: Regime, desc: u64) -> Attributes {
    match regime {
        Regime::El2 => Attributes {
            kind: if (desc >> S1_ATTR_INDX_SHIFT) & 7 == MAIR_DEVICE_INDEX {
                MemoryKind::Device
            } else {
                MemoryKind::Normal
            },
            access: if desc & S1_AP2_RO != 0 {
                Access::ReadOnly
            } else {
                Access::ReadWrite
            },
            executable: desc & S1_XN == 0,
        },
        Regime::Stage2 => Attributes {
            kind: if desc & (0b1111 << 2) == S2_MEMATTR_DEVICE_NGNRE {
                MemoryKind::Device
            } else {
                MemoryKind::Normal
            },
            access: if desc & S2AP_WRITE != 0 {
                Access::ReadWrite
            } else {
                Access::ReadOnly
            },
            executable: desc & S2_XN == 0,
        },
    }
}
