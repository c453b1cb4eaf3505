//! A virtual GICv3 (IHI 0069), or GICv2 (IHI 0048B), for Aerie's guests,
//! as pure logic: the hypervisor decodes traps and calls in; this crate
//! never touches hardware.
//!
//! What a GICv3 guest sees: a distributor (single security state, DS = 1;
//! affinity routing only, ARE = 1; no LPIs), one redistributor per vCPU
//! (RD_base + SGI_base frames), 5 priority bits (the bottom 3 bits of every
//! priority are RAZ/WI, matching ICH_VTR_EL2.PRIbits = 5 on QEMU), and the
//! hardware ICV_* CPU interface fed through list registers. Group 0
//! interrupts are presented as vFIQs by the hardware, Group 1 as vIRQs.
//!
//! # How the hypervisor drives it
//!
//! Hold the VM's vGIC lock around every call. For vCPU `v` with `n`
//! hardware list registers (ICH_VTR_EL2.ListRegs + 1):
//!
//! 1. **Every guest entry**: `let r = vgic.flush(v, &mut lrs[..n]);` write
//!    `lrs[i]` to `ICH_LR<i>_EL2` for `i < r.used` (flush leaves the rest of
//!    `lrs` alone; the LRs past `r.used` must be invalid: step 2 clears
//!    the ones it reads back), and set ICH_HCR_EL2.UIE = `r.underflow` (En = 1 always). When
//!    nothing is pending this is one word test per 32 INTIDs.
//! 2. **Every exit**, before handling it: read `ICH_LR<i>_EL2` back for
//!    `i < r.used` (or all `n`) and call `vgic.sync(v, &lrs)`. From then on
//!    the model holds all of `v`'s state: MMIO traps (`dist_*`,
//!    `redist_*`), trapped ICC_SGI1R_EL1 writes (`send_sgi`) and the WFI
//!    check (`pending_irq(v, ICH_VMCR_EL2.VPMR)`) see the truth.
//! 3. **Maintenance interrupts** (UIE underflow, or LR.EOI on a
//!    level-sensitive interrupt the guest deactivated) need no handling of
//!    their own: they only force an exit, and sync + flush do the work
//!    (sync resamples level lines: still high means pending again).
//! 4. **Kicks**: every call that changes what may be delivered returns a
//!    [`Kick`]: IPI each named vCPU that is running (so it exits and
//!    re-flushes) and wake each one blocked in WFI.
//! 5. **Hardware-mapped interrupts** (the virtual timer): call
//!    `set_hw_mapping(v, 27, 27)` once. When the physical PPI 27 reaches
//!    EL2, drop its priority but do **not** deactivate it, and call
//!    `set_ppi_pending(v, 27)`. Flush then writes an LR with HW = 1 and
//!    pINTID = 27, and the guest's deactivation deactivates the physical
//!    interrupt, re-arming it.
//!
//! Device inputs: `set_spi_level` for level lines (PL011, INTID 33),
//! `pulse_spi` for edges (virtio-mmio, INTID 48 + n).
//!
//! # The GICv2 personality
//!
//! On a host whose GIC is a GICv2 (GIC-400) the hypervisor builds the vGIC
//! with [`Vgic::new_v2`], and the guest sees a GICv2 without the Security
//! Extensions: a 4 KiB distributor ([`GICD_V2_SIZE`]) and, as its CPU
//! interface, the hardware's GICV frame mapped where the guest expects
//! GICC, fed through the `GICH_LR<n>` list registers. There is no
//! redistributor and no system-register CPU interface. The steps above hold
//! with these changes:
//!
//! - Distributor traps go to `dist_v2_read(v, ..)` / `dist_v2_write(v, ..)`,
//!   `v` being the accessing vCPU: a GICv2 banks INTIDs 0..31 per CPU in
//!   the distributor. The GICv3 calls (`dist_*`, `redist_*`) return
//!   [`VgicError::WrongVersion`], and `redist_size` is 0.
//! - SGIs are GICD_SGIR writes, handled inside `dist_v2_write` (its kick
//!   names the targets); `send_sgi` has no use, there being no
//!   ICC_SGI1R_EL1. The model keeps one pending bit per SGI, not one per
//!   sending CPU as a GICv2 does: GICD_SPENDSGIR / CPENDSGIR set / clear
//!   it for any nonzero byte of source CPUs, read 0x01 in the byte of a
//!   pending SGI, and list registers carry CPUID 0. Linux does not mind:
//!   it takes SGIs as IPIs that may coalesce, as they do on a GICv3.
//! - Flush and sync keep working in `ICH_LR<n>_EL2` images: write
//!   `ListRegister(lrs[i]).to_gich_lr()` to `GICH_LR<i>`, and hand sync
//!   `ListRegister::from_gich_lr(GICH_LR<i>).0`. GICH_HCR.UIE and En play
//!   ICH_HCR_EL2's part; `n` is GICH_VTR.ListRegs + 1.
//! - The WFI check takes `(GICH_VMCR >> 24) as u8`: VMPriMask `[31:27]`
//!   sits where ICH_VMCR_EL2.VPMR's five implemented bits do.
//! - Hardware mappings work the same, with pINTIDs below 1020 (the
//!   10-bit GICH_LR.PhysicalID).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod access;
mod bank;
mod banked_regs;
pub mod distributor;
pub mod distributor_v2;
mod error;
mod flush;
mod gich_lr;
mod inputs;
mod itargets;
mod kick;
pub mod list_register;
pub mod redistributor;
mod router;
pub mod sgi;
mod sgir;
mod shortlist;
mod vgic;

#[cfg(test)]
mod tests;

pub use distributor::{dist_access_is_quiet, GICD_SIZE};
pub use distributor_v2::GICD_V2_SIZE;
pub use error::VgicError;
pub use flush::FlushResult;
pub use kick::Kick;
pub use list_register::{ListRegister, LrState};
pub use redistributor::{redist_access_is_quiet, GICR_STRIDE};
pub use sgi::SgiRequest;
pub use vgic::Vgic;

/// Most vCPUs one vGIC serves (Aff0 = vCPU index, one TargetList block).
pub const MAX_VCPUS: usize = 8;

/// Most SPIs (INTIDs 32..991); a multiple of 32 below the special INTIDs
/// 1020..1023.
pub const MAX_SPIS: u32 = 960;

/// GICv3 has at most 16 list registers (ICH_VTR_EL2.ListRegs is 4 bits).
pub const MAX_LIST_REGISTERS: usize = 16;

/// Implemented priority bits: 5, the top ones (the bottom 3 are RAZ/WI).
pub const PRIORITY_MASK: u8 = 0xF8;

/// GICD_IIDR and GICR_IIDR: ProductID `[31:24]` = 0xAE ("AErie"), Variant and
/// Revision 0, Implementer `[11:0]` = 0 (not a JEP106-registered vendor, so
/// no guest applies a vendor erratum workaround to it).
pub const IIDR: u32 = 0xAE00_0000;
