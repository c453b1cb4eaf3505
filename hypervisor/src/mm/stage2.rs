//! A VM's stage-2 translation tables, in frames from the frame allocator.

use super::tables::FrameTables;
use aerie_pagetable::{
    map_range, Access, Attributes, MapError, MemoryKind, Regime, Space, TableMemory,
};

/// Width of a guest's IPA space (VTCR_EL2.T0SZ = 25, walk starts at level 1).
pub const IPA_BITS: u8 = 39;

pub struct Stage2 {
    tables: FrameTables,
    space: Space,
}

impl Stage2 {
    pub fn new() -> Result<Self, MapError> {
        let mut tables = FrameTables::default();
        let root = tables.alloc_table()?;
        Ok(Stage2 {
            tables,
            space: Space {
                root,
                start_level: 1,
                va_bits: IPA_BITS,
                regime: Regime::Stage2,
            },
        })
    }

    pub fn root(&self) -> u64 {
        self.space.root
    }

    /// Map guest RAM `[ipa, ipa + len)` to `[pa, pa + len)`.
    pub fn map_ram(&mut self, ipa: u64, pa: u64, len: u64) -> Result<(), MapError> {
        self.map(ipa, pa, len, Attributes::GUEST_RAM, true)
    }

    /// Map `[ipa, ipa + len)` to Aerie's own memory at `pa`, for the guest
    /// to read only (its stolen-time records), page by page.
    pub fn map_read_only(&mut self, ipa: u64, pa: u64, len: u64) -> Result<(), MapError> {
        let attributes = Attributes {
            kind: MemoryKind::Normal,
            access: Access::ReadOnly,
            executable: false,
        };
        self.map(ipa, pa, len, attributes, false)
    }

    /// Map a device's registers `[ipa, ipa + len)` to `[pa, pa + len)`,
    /// for the guest to reach directly (the GICv2's virtual CPU interface),
    /// page by page.
    pub fn map_device(&mut self, ipa: u64, pa: u64, len: u64) -> Result<(), MapError> {
        self.map(ipa, pa, len, Attributes::DEVICE, false)
    }

    fn map(
        &mut self,
        ipa: u64,
        pa: u64,
        len: u64,
        attributes: Attributes,
        blocks: bool,
    ) -> Result<(), MapError> {
        map_range(
            &mut self.tables,
            self.space,
            ipa,
            pa,
            len,
            attributes,
            blocks,
        )
    }
}
