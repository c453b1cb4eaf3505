//! Aerie's own interrupts: the host GICv3 and the INTIDs Aerie uses.

pub mod gicv3;

/// SGI Aerie sends to another pCPU to make it look at its vCPUs again.
pub const SGI_KICK: u32 = 0;
/// The GIC's virtual CPU interface maintenance interrupt (PPI 9).
pub const PPI_MAINTENANCE: u32 = 25;
/// EL2 physical timer (CNTHP): time slices and wake-ups.
pub const PPI_HYP_TIMER: u32 = 26;
/// EL1 virtual timer: the running guest's timer, forwarded to it.
pub const PPI_VIRTUAL_TIMER: u32 = 27;
/// Priority of every interrupt Aerie takes (ARCHITECTURE.md section 6).
pub const PRIORITY_REGULAR: u8 = 0xa0;
