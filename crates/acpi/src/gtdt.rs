//! The GTDT (ACPI 6.5 section 5.2.25): the generic timer's interrupts.

use aerie_dt::{Timer, PPI_INTIDS};

use crate::error::AcpiError;
use crate::sdt::Table;

/// The timer's interrupts, if every one the binding needs is a PPI. Firmware
/// may leave the secure timer's at 0 (not given to the normal world); a
/// device tree cannot say that, so the timer is then left out: Aerie itself
/// uses the architected INTIDs, the tree's timer node is for the record.
pub fn parse(table: &Table<'_>) -> Result<Option<Timer>, AcpiError> {
    let secure_phys = table.u32(48)?;
    let nonsecure_phys = table.u32(56)?;
    let virt = table.u32(64)?;
    let hyp = table.u32(72)?;
    // Revision 3 added the EL2 virtual timer (FEAT_VHE) at offset 96.
    let hyp_virt = match table.u32(96) {
        Ok(intid) if table.revision() >= 3 && intid != 0 => Some(intid),
        _ => None,
    };
    let ppi = |intid: &u32| PPI_INTIDS.contains(intid);
    let all = [secure_phys, nonsecure_phys, virt, hyp];
    if !all.iter().chain(&hyp_virt).all(ppi) {
        return Ok(None);
    }
    Ok(Some(Timer {
        secure_phys,
        nonsecure_phys,
        virt,
        hyp,
        hyp_virt,
    }))
}
