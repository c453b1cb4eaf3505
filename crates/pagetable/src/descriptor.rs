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
    /// A user world's page (C6): walked by the EL1&0 regime while the world
    /// runs at EL0 and by the EL2 regime when Aerie reads the world's
    /// memory. `executable` means executable at EL0; EL1 may execute none
    /// of these pages (PXN), and the EL2 regime reads the same bit 54 as XN,
    /// so a page EL0 may not execute Aerie may not execute either.
    User,
    /// The one page of EL1 code a user world needs: the vector shim that
    /// forwards its exceptions to EL2. EL1 may execute it; EL0 may read it
    /// but neither write nor execute it (UXN, which is XN at EL2).
    UserVectors,
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
/// PXN in the EL1&0 regime (RES0 in the EL2 regime, where it means nothing).
const S1_PXN: u64 = 1 << 53;

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
        Regime::El2 | Regime::User | Regime::UserVectors => {
            let index = match attrs.kind {
                MemoryKind::Normal => MAIR_NORMAL_INDEX,
                MemoryKind::Device => MAIR_DEVICE_INDEX,
            };
            bits |= index << S1_ATTR_INDX_SHIFT | S1_AP1;
            if attrs.access == Access::ReadOnly {
                bits |= S1_AP2_RO;
            }
            match regime {
                Regime::User => bits |= S1_PXN,
                Regime::UserVectors => bits |= S1_XN,
                _ => {}
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
        Regime::El2 | Regime::User | Regime::UserVectors => Attributes {
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
            executable: if regime == Regime::UserVectors {
                desc & S1_PXN == 0
            } else {
                desc & S1_XN == 0
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    const AP2: u64 = S1_AP2_RO;

    /// What one user-world leaf means to each regime that walks it.
    struct Meaning {
        el0_read: bool,
        el0_write: bool,
        el0_exec: bool,
        el1_exec: bool,
        el2_write: bool,
        el2_exec: bool,
    }

    /// The Arm ARM's reading of a stage-1 leaf: AP[2:1] and UXN/PXN in the
    /// EL1&0 regime (D8.4.1, D8.4.2); AP[2] and XN in the one-privilege EL2
    /// regime, where AP[1] is RES1 and PXN RES0.
    fn meaning(desc: u64) -> Meaning {
        let ap1 = desc & S1_AP1 != 0;
        let ro = desc & AP2 != 0;
        Meaning {
            el0_read: ap1,
            el0_write: ap1 && !ro,
            el0_exec: desc & S1_XN == 0,
            // EL1 never executes what EL0 may write (the implicit PXN).
            el1_exec: desc & S1_PXN == 0 && (!ap1 || ro),
            el2_write: !ro,
            el2_exec: desc & S1_XN == 0,
        }
    }

    #[test]
    fn user_pages_read_the_same_to_el0_and_el2_and_el1_runs_none() {
        let text = meaning(leaf_attributes(Regime::User, Attributes::TEXT));
        assert!(text.el0_read && !text.el0_write && text.el0_exec);
        assert!(!text.el1_exec && !text.el2_write);
        // The one thing a single bit cannot separate: XN at EL2 is UXN.
        assert!(text.el2_exec);
        let data = meaning(leaf_attributes(Regime::User, Attributes::DATA));
        assert!(data.el0_read && data.el0_write && !data.el0_exec);
        assert!(!data.el1_exec && data.el2_write && !data.el2_exec);
        let rodata = meaning(leaf_attributes(Regime::User, Attributes::RODATA));
        assert!(rodata.el0_read && !rodata.el0_write && !rodata.el0_exec && !rodata.el1_exec);
    }

    #[test]
    fn the_vector_page_runs_at_el1_only_and_is_read_only_everywhere() {
        let desc = leaf_attributes(Regime::UserVectors, Attributes::TEXT);
        let m = meaning(desc);
        assert!(m.el1_exec && !m.el0_exec && !m.el2_exec);
        assert!(m.el0_read && !m.el0_write && !m.el2_write);
        assert_eq!(
            decode_attributes(Regime::UserVectors, desc),
            Attributes::TEXT
        );
    }

    #[test]
    fn user_attributes_decode_back() {
        for attrs in [Attributes::TEXT, Attributes::DATA, Attributes::RODATA] {
            let desc = leaf_attributes(Regime::User, attrs);
            assert_eq!(decode_attributes(Regime::User, desc), attrs);
            // Normal, inner shareable, accessed, global (nG clear: Aerie
            // flushes the EL1&0 TLB when it switches worlds).
            assert_eq!(desc & (SH_INNER | AF | (1 << 11)), SH_INNER | AF);
        }
    }
}
