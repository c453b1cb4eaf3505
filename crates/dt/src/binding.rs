//! What the trees Aerie reads and writes share of the bindings: the GIC's
//! three-cell interrupt specifier and `reg` with two address and two size
//! cells.

use alloc::vec::Vec;

use crate::region::Region;

/// GIC interrupt specifier, cell 0: the type (SPI: INTID 32 + n; PPI:
/// INTID 16 + n).
pub(crate) const GIC_SPI: u32 = 0;
pub(crate) const GIC_PPI: u32 = 1;
/// The INTIDs a specifier can name: SPIs (not GICv3.1's extended ones)
/// and PPIs.
pub const SPI_INTIDS: core::ops::RangeInclusive<u32> = 32..=1019;
pub const PPI_INTIDS: core::ops::RangeInclusive<u32> = 16..=31;
/// Cell 2, the flags: edge rising, level high, level low.
pub(crate) const IRQ_TYPE_EDGE_RISING: u32 = 1;
pub(crate) const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
pub(crate) const IRQ_TYPE_LEVEL_LOW: u32 = 8;

/// `reg` cells of `regions` with #address-cells = #size-cells = 2.
pub(crate) fn reg2(regions: &[Region]) -> Vec<u64> {
    regions.iter().flat_map(|r| [r.base, r.size]).collect()
}
