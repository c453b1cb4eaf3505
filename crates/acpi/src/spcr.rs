//! The SPCR (Microsoft's Serial Port Console Redirection table, revision 2
//! and later): the console UART.

use aerie_dt::{primecell_region, Region};

use crate::error::AcpiError;
use crate::sdt::Table;

/// Interface types (the DBG2 table's serial port subtypes): a PL011, and
/// the SBSA generic UART (a PL011 subset), the older 32-bit-only kind and
/// the current one. Aerie's driver uses 32-bit accesses only.
const PL011: u8 = 0x03;
const SBSA_32BIT: u8 = 0x0D;
const SBSA: u8 = 0x0E;
/// Generic Address Structure: address space 0 is system memory.
const SYSTEM_MEMORY: u8 = 0;
/// Interrupt type bit 3: the interrupt is a GIC GSIV.
const GIC_INTERRUPT: u8 = 1 << 3;

/// The console, when it is a PL011 or an SBSA generic UART in memory: its
/// registers, its interrupt (a GIC INTID) if the table gives one, and
/// whether it is an SBSA UART. Anything else: Err with what it is.
pub fn parse(table: &Table<'_>) -> Result<(Region, Option<u32>, bool), &'static str> {
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
    let sbsa = match interface {
        PL011 => false,
        SBSA_32BIT | SBSA => true,
        _ => return Err("the console (SPCR) is not a PL011 or an SBSA UART, which Aerie drives"),
    };
    if space != SYSTEM_MEMORY || address == 0 {
        return Err("the console (SPCR) is not in memory");
    }
    let intid = (interrupt_type & GIC_INTERRUPT != 0 && gsiv != 0).then_some(gsiv);
    Ok((primecell_region(address), intid, sbsa))
}
