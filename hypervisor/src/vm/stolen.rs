//! Stolen time (Arm DEN0057A, "paravirtualized time"): how long each vCPU
//! was ready to run but waited for a pCPU, kept where its guest reads it.
//!
//! A guest finds it through SMCCC (`aerie_firmware`: PV_TIME_FEATURES, then
//! PV_TIME_ST on each vCPU), which gives the guest-physical address of the
//! vCPU's 64-byte record. Linux then adds what the record grew by to the
//! CPU's `steal` time (`/proc/stat`, `top`'s `st`): the time Aerie's
//! scheduler gave its pCPU to another vCPU or world, and the pauses of the
//! performance cap (C1), which to the guest are time stolen from a CPU it
//! thought it had.
//!
//! The records lie in one page of Aerie's, outside the VM's RAM, mapped
//! read-only into its stage 2 at [`PVTIME_IPA`] (where QEMU's `virt` board
//! puts its own): the guest cannot write them, and nothing of its RAM is
//! taken. A vCPU's clock starts when it asks for its record (PV_TIME_ST);
//! until then, and for a guest that never asks, the scheduler pays one test
//! of a flag at each switch.

use crate::mm::frames;
use crate::mm::layout::phys_to_virt;
use crate::mm::stage2::Stage2;
use alloc::string::String;

/// Where the records are in every VM's physical address space.
pub const PVTIME_IPA: u64 = 0x090a_0000;
const PAGE: u64 = 4096;
/// One vCPU's record: revision (0), attributes (0), stolen time in ns (a
/// little-endian u64 at offset 8), padding to 64 bytes.
const RECORD: u64 = 64;
const STOLEN_OFFSET: u64 = 8;

/// A VM's page of records.
pub struct StolenTime {
    pa: u64,
}

impl StolenTime {
    /// A zeroed page of records, mapped read-only at [`PVTIME_IPA`].
    pub fn new(stage2: &mut Stage2) -> Result<StolenTime, String> {
        let pa = frames::alloc(PAGE).ok_or("no memory for the stolen-time records")?;
        let page = StolenTime { pa };
        page.clear();
        if let Err(e) = stage2.map_read_only(PVTIME_IPA, pa, PAGE) {
            page.free();
            return Err(alloc::format!("stage-2 tables (stolen time): {e}"));
        }
        Ok(page)
    }

    /// Every record back to zero (the VM starts again).
    pub fn clear(&self) {
        // SAFETY: `pa` is a page of Aerie's own from the frame allocator,
        // in the direct map; the guest only reads it.
        unsafe { core::ptr::write_bytes(phys_to_virt(self.pa) as *mut u8, 0, PAGE as usize) };
    }

    /// Give the page back (the VM stopped; its stage 2 is gone).
    pub fn free(self) {
        frames::free(self.pa, PAGE);
    }

    /// The guest-physical address of vCPU `c`'s record, if the page holds
    /// one for it.
    pub fn record_ipa(c: usize) -> Option<u64> {
        let offset = (c as u64).checked_mul(RECORD).filter(|&o| o < PAGE)?;
        Some(PVTIME_IPA + offset)
    }

    /// Write vCPU `c`'s stolen time, `ticks` of the counter, in ns.
    fn publish(&self, c: usize, ticks: u64) {
        let Some(ipa) = Self::record_ipa(c) else {
            return;
        };
        let freq = u128::from(crate::arch::aarch64::cpu::counter_frequency().max(1));
        let ns = (u128::from(ticks) * 1_000_000_000 / freq) as u64;
        let va = phys_to_virt(self.pa + (ipa - PVTIME_IPA) + STOLEN_OFFSET);
        // SAFETY: the record lies inside the page (record_ipa), 8-byte
        // aligned; one aligned 64-bit store, so a guest reading it on
        // another vCPU sees the old value or the new, never a mix.
        unsafe { core::ptr::write_volatile(va as *mut u64, ns.to_le()) };
    }
}

/// One vCPU's stolen time, counted while its guest reads its record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Steal {
    /// The guest asked for the record (PV_TIME_ST) since the vCPU started.
    on: bool,
    /// When it last became ready to run.
    since: u64,
    /// Counter ticks it has waited, ready, for a pCPU.
    ticks: u64,
}

impl Steal {
    /// The vCPU became ready to run at `now` (woken, preempted, throttled).
    #[inline(always)]
    pub fn ready(&mut self, now: u64) {
        if self.on {
            self.since = now;
        }
    }

    /// The guest asked for the record: count from here.
    pub fn start(&mut self, now: u64) {
        self.on = true;
        self.since = now;
    }

    /// The vCPU goes onto a pCPU at `now`: what it waited since it was
    /// ready is stolen. The total so far, for its record, while its guest
    /// reads one.
    #[inline(always)]
    pub fn running(&mut self, now: u64) -> Option<u64> {
        if !self.on {
            return None;
        }
        self.ticks += now.saturating_sub(self.since);
        self.since = now;
        Some(self.ticks)
    }

    /// Counter ticks stolen so far, if its guest reads its record (it is
    /// counted only then).
    pub fn total(&self) -> Option<u64> {
        (self.on || self.ticks != 0).then_some(self.ticks)
    }

    /// The vCPU starts again (PSCI CPU_ON): its guest asks again when the
    /// CPU comes online; until then the time it is off is not stolen. The
    /// total stays: the record only grows.
    pub fn stop(&mut self) {
        self.on = false;
    }
}

/// Write vCPU `c`'s record: `ticks` stolen so far.
#[inline(never)]
pub fn publish(vm: &super::Vm, c: usize, ticks: u64) {
    if let Some(page) = &vm.stolen {
        page.publish(c, ticks);
    }
}
