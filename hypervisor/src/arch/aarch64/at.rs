//! Guest virtual-address translation with the `AT` instruction.
//!
//! Translates a virtual address of the guest whose EL1 state is live on this
//! pCPU (between an exit and the next entry: its SCTLR/TCR/TTBRx/MAIR_EL1,
//! VTTBR_EL2 and HCR_EL2 are in the CPU) into an IPA.
//!
//! Choice of instruction: stage 1 only (`AT S1E1R/W`, `AT S1E0R/W`), which
//! yields the IPA. Aerie owns stage 2 and knows the IPA -> host mapping
//! exactly (guest RAM is one contiguous block, `GuestMemory::host_va`), so
//! the caller checks the IPA against that instead of asking the hardware for
//! a PA (`AT S12E1*`) and then proving the PA lies in the VM's block. With
//! HCR_EL2.VM set the stage-1 walk's own table reads still go through stage
//! 2; from EL2 a stage-2 fault on that walk is reported in PAR_EL1 (PTW = 1,
//! S = 1), never taken as an exception.
//!
//! Permissions: `S1E1*` checks what guest EL1 may do, `S1E0*` what guest EL0
//! may do (so a request made from user space reaches only what its own page
//! tables give EL0). PSTATE.PAN is not applied: the PAN-aware variants
//! (`AT S1E1RP/WP`, FEAT_PAN2) are not used, so an EL1 request may reach a
//! user page even when the guest kernel runs with PAN set. That is
//! acceptable: the request comes from guest EL1 itself, which can always
//! clear PAN or use LDTR/STTR.
//!
//! Effects on the guest: PAR_EL1 is the guest's register, so it is saved and
//! restored around the `AT`; nothing else is touched. The translation may
//! use and fill the TLB for the guest's VMID/ASID exactly as a guest access
//! would. With hardware access-flag management a successful walk may set AF
//! in the guest's descriptor, as the guest's own access would have.

use aerie_trap::par;
pub use aerie_trap::par::ParFault as Fault;

/// Who the access is made for, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Guest EL1 read (`AT S1E1R`).
    El1Read,
    /// Guest EL1 write (`AT S1E1W`).
    El1Write,
    /// Guest EL0 read (`AT S1E0R`).
    El0Read,
    /// Guest EL0 write (`AT S1E0W`).
    El0Write,
}

impl Access {
    /// The access a request from guest EL0 (`el0`) or EL1 makes.
    pub const fn new(el0: bool, write: bool) -> Self {
        match (el0, write) {
            (false, false) => Access::El1Read,
            (false, true) => Access::El1Write,
            (true, false) => Access::El0Read,
            (true, true) => Access::El0Write,
        }
    }
}

/// Translate guest virtual address `va` through the loaded guest's stage 1
/// with `access`'s permissions: the IPA of `va` (page offset included), or
/// the fault PAR_EL1 reported.
///
/// Must be called on the pCPU where the guest is loaded, before the next
/// vCPU switch; otherwise the result describes whichever EL1&0 regime is in
/// the CPU (no memory is touched on Aerie's side either way, and the IPA is
/// only an address to be checked against the VM's RAM).
pub fn translate(va: u64, access: Access) -> Result<u64, Fault> {
    let result: u64;
    macro_rules! at {
        ($op:literal) => {
            // SAFETY: AT only walks the guest's translation tables (and may
            // set the access flag in them, as the guest's own access would);
            // it writes nothing of Aerie's. From EL2 every fault of an EL1&0
            // translation is reported in PAR_EL1, not taken. PAR_EL1 is the
            // guest's register: it is saved first and restored last, all in
            // this block, with the ISB the architecture requires between the
            // AT and the read of its result. No interrupt handler in Aerie
            // uses AT or PAR_EL1, so one taken inside the block is harmless.
            unsafe {
                core::arch::asm!(
                    "mrs {saved}, par_el1",
                    concat!("at ", $op, ", {va}"),
                    "isb",
                    "mrs {par}, par_el1",
                    "msr par_el1, {saved}",
                    va = in(reg) va,
                    saved = out(reg) _,
                    par = out(reg) result,
                    options(nostack, preserves_flags),
                )
            }
        };
    }
    match access {
        Access::El1Read => at!("s1e1r"),
        Access::El1Write => at!("s1e1w"),
        Access::El0Read => at!("s1e0r"),
        Access::El0Write => at!("s1e0w"),
    }
    par::decode(result, va)
}
