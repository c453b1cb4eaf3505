//! PSTATE as saved in `SPSR_ELx` (Arm ARM C5.2.18 "SPSR_EL1"). The bits
//! used here sit at the same positions whether the exception came from
//! AArch64 or AArch32, except where noted.

/// M\[4:0\]: the mode the exception was taken from.
pub const M_MASK: u64 = 0x1F;
/// M\[4\] (nRW): 1 = the exception came from AArch32.
pub const M_AARCH32: u64 = 1 << 4;
/// AArch64 EL0 with SP_EL0.
pub const M_EL0T: u64 = 0b0000;
/// AArch64 EL1 with SP_EL0.
pub const M_EL1T: u64 = 0b0100;
/// AArch64 EL1 with SP_EL1.
pub const M_EL1H: u64 = 0b0101;
/// FIQ mask.
pub const F: u64 = 1 << 6;
/// IRQ mask.
pub const I: u64 = 1 << 7;
/// SError mask.
pub const A: u64 = 1 << 8;
/// Debug mask (AArch64 only; bit 9 is E in an AArch32 SPSR).
pub const D: u64 = 1 << 9;
/// All four interrupt/debug masks.
pub const DAIF: u64 = D | A | I | F;
/// BTYPE\[11:10\] (FEAT_BTI, AArch64 only).
pub const BTYPE: u64 = 0b11 << 10;
/// SSBS (FEAT_SSBS, AArch64 position).
pub const SSBS: u64 = 1 << 12;
/// ALLINT (FEAT_NMI, AArch64 only).
pub const ALLINT: u64 = 1 << 13;
/// Illegal Execution state.
pub const IL: u64 = 1 << 20;
/// Software Step.
pub const SS: u64 = 1 << 21;
/// Privileged Access Never (FEAT_PAN).
pub const PAN: u64 = 1 << 22;
/// User Access Override (FEAT_UAO, AArch64 only).
pub const UAO: u64 = 1 << 23;
/// Data Independent Timing (FEAT_DIT).
pub const DIT: u64 = 1 << 24;
/// Tag Check Override (FEAT_MTE, AArch64 only).
pub const TCO: u64 = 1 << 25;
/// Condition flags N, Z, C, V.
pub const NZCV: u64 = 0xF << 28;
