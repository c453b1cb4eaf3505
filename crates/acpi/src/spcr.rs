//! The SPCR (Microsoft's Serial Port Console Redirection table, revision 2
//! and later): the console UART.

use aerie_dt::{primecell_region, Region};

use crate::error::AcpiError;
use crate::sdt::Table;

/// Interface types (the DBG2 table's serial port subtypes).
const PL011: u8 = 0x03;
/// Generic Address Structure: address space 0 is system memory.
const SYSTEM_MEMORY: u8 = 0;
/// Interrupt type bit 3: the interrupt is a GIC GSIV.
const GIC_INTERRUPT: u8 = 1 << 3;

/// The console, when it is a PL011 in memory, with its interrupt (a GIC
/// INTID) if the table gives one. Anything else: Err with what it is.
pub fn parse(table: &Table<'_>) -> Result<(Region, Option<u32>), &'static str> {
    let fields = || -> Result<_, AcpiError> {
        Ok((
            table.u8(36)?,
            table.u8(40)?,
            table.u64(44)?,
            table.u8(52)?,
            table.u32(54)?,
        ))
    };
    let (interface, space, address, interrupt_type, gsiv) =
        fields().map_err(|_| "the SPCR is too short")?;
    if interface != PL011 {
        return Err("the console (SPCR) is not a PL011, the UART Aerie drives");
    }
    if space != SYSTEM_MEMORY || address == 0 {
        return Err("the console (SPCR) is not in memory");
    }
    let intid = (interrupt_type & GIC_INTERRUPT != 0 && gsiv != 0).then_some(gsiv);
    Ok((primecell_region(address), intid))
}
