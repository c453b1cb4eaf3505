//! The FADT ("FACP", ACPI 6.5 section 5.2.9): how CPUs are started (PSCI,
//! and its conduit) and where the DSDT is.

use crate::error::AcpiError;
use crate::sdt::Table;

/// ARM_BOOT_ARCH flags (Table 5.11).
const PSCI_COMPLIANT: u16 = 1 << 0;
const PSCI_USE_HVC: u16 = 1 << 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fadt {
    /// "smc" or "hvc" when the machine implements PSCI.
    pub psci_method: Option<&'static str>,
    /// The DSDT's address (X_DSDT if set, else DSDT), if any.
    pub dsdt: Option<u64>,
}

pub fn parse(table: &Table<'_>) -> Result<Fadt, AcpiError> {
    // ARM_BOOT_ARCH is at offset 129 (FADT 5.1 and later).
    let boot = table.u16(129).unwrap_or(0);
    let psci_method = match (boot & PSCI_COMPLIANT != 0, boot & PSCI_USE_HVC != 0) {
        (false, _) => None,
        (true, false) => Some("smc"),
        (true, true) => Some("hvc"),
    };
    let dsdt32 = u64::from(table.u32(40)?);
    let dsdt = match table.u64(140) {
        Ok(x) if x != 0 => x,
        _ => dsdt32,
    };
    Ok(Fadt {
        psci_method,
        dsdt: (dsdt != 0).then_some(dsdt),
    })
}
