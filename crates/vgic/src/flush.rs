//! Moving interrupt state between the model and a vCPU's list registers:
//! `flush` before entering the guest, `sync` after it exits.
//!
//! Invariant: an interrupt is either in the model or in exactly one LR
//! (its bank's `owned` bit), never both and never in two LRs. While owned,
//! new events (another edge, a level change, register writes) accumulate in
//! the model and are merged on sync.

use crate::bank::{bits, Bank};
use crate::list_register::{ListRegister, LrState};
use crate::shortlist::Shortlist;
use crate::{Kick, Vgic};

/// What [`Vgic::flush`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FlushResult {
    /// LRs filled, from index 0; the rest of the slice is left as it was.
    pub used: usize,
    /// More interrupts were eligible than LRs: set ICH_HCR_EL2.UIE so a
    /// maintenance interrupt brings the vCPU out when the LRs drain.
    pub underflow: bool,
}

/// Sort key: active interrupts first (the guest must be able to deactivate
/// them), then by priority, then by INTID.
fn key(bank: &Bank, first_intid: u32, bit: u32) -> u32 {
    let pending_only = (bank.active & (1 << bit) == 0) as u32;
    let priority = u32::from(bank.priority[bit as usize]);
    (pending_only << 24) | (priority << 16) | (first_intid + bit)
}

impl Vgic {
    /// Fills `lrs[..used]` (one image per hardware list register, at most
    /// [`MAX_LIST_REGISTERS`] used) for entering `vcpu` with the best
    /// eligible interrupts, moving their state out of the model; the rest
    /// of `lrs` is left as it was. Must be followed by one [`Vgic::sync`]
    /// with the values read back; a second flush without sync first syncs
    /// the previous images unchanged.
    pub fn flush(&mut self, vcpu: usize, lrs: &mut [u64]) -> FlushResult {
        let Some(cpu) = self.cpus.get(vcpu) else {
            return FlushResult::default();
        };
        if cpu.lr.used != 0 {
            // No images given: each LR counts as unchanged.
            self.sync(vcpu, &[]);
        }

        // Hot path: one word test per bank; nothing to sort if all are 0.
        // The shortlist is kept in `lrs` itself, so nothing is cleared or
        // copied on this path, which runs on most guest entries.
        let groups = self.groups;
        let banks = self.spis.len();
        let capacity = lrs.len().min(crate::MAX_LIST_REGISTERS);
        let mut list = Shortlist::new(&mut lrs[..capacity]);
        let private = &self.cpus[vcpu].private;
        for bit in bits(private.lr_candidates(groups)) {
            list.offer(key(private, 0, bit));
        }
        for (b, bank) in self.spis.iter().enumerate() {
            let word = bank.lr_candidates(groups) & self.spi_targets[vcpu * banks + b];
            for bit in bits(word) {
                list.offer(key(bank, 32 * (b as u32 + 1), bit));
            }
        }
        let (used, offered) = (list.len(), list.offered);

        // Each key becomes its list register image, in place.
        for (i, slot) in lrs.iter_mut().enumerate().take(used) {
            let intid = (*slot & 0xFFFF) as u32;
            let lr = self.load(vcpu, intid);
            *slot = lr.0;
            let record = &mut self.cpus[vcpu].lr;
            record.intid[i] = intid;
            record.image[i] = lr.0;
        }
        self.cpus[vcpu].lr.used = used;
        FlushResult {
            used,
            underflow: offered > used,
        }
    }

    /// Whether [`Vgic::flush`] for `vcpu` would fill any list register: an
    /// interrupt is eligible, or the last flush is still outstanding. It
    /// costs what a flush that finds nothing costs, so a caller about to
    /// flush anyway should just flush (Aerie does); this is for callers
    /// that only want to know.
    #[inline]
    pub fn needs_flush(&self, vcpu: usize) -> bool {
        let Some(cpu) = self.cpus.get(vcpu) else {
            return false;
        };
        if cpu.lr.used != 0 || cpu.private.lr_candidates(self.groups) != 0 {
            return true;
        }
        let banks = self.spis.len();
        self.spis.iter().enumerate().any(|(b, bank)| {
            bank.lr_candidates(self.groups) & self.spi_targets[vcpu * banks + b] != 0
        })
    }

    /// Takes back `vcpu`'s list registers after it ran: `lrs[i]` is
    /// `ICH_LR<i>_EL2` as read back, for at least the LRs the last flush used
    /// (missing ones count as unchanged). Pending/active state returns to
    /// the model; an LR gone invalid means the guest deactivated it, and a
    /// level-sensitive interrupt whose line is still high becomes pending
    /// again by itself (resampling). Returns the vCPUs to kick (an SPI
    /// re-routed while it sat in this vCPU's LR).
    pub fn sync(&mut self, vcpu: usize, lrs: &[u64]) -> Kick {
        let Some(cpu) = self.cpus.get_mut(vcpu) else {
            return Kick::NONE;
        };
        let used = cpu.lr.used;
        cpu.lr.used = 0;
        let mut kick = Kick::NONE;
        for i in 0..used {
            let record = &self.cpus[vcpu].lr;
            let intid = record.intid[i];
            let state = ListRegister(lrs.get(i).copied().unwrap_or(record.image[i])).state();
            let Some(bank) = self.bank_mut(vcpu, intid) else {
                continue;
            };
            let bit = 1u32 << (intid % 32);
            if bank.owned & bit == 0 {
                continue;
            }
            if state.pending() && bank.lr_moved_latch & bit != 0 && bank.lr_clear_pending & bit == 0
            {
                bank.latch |= bit;
            }
            if state.active() && bank.lr_clear_active & bit == 0 {
                bank.active |= bit;
            }
            bank.disown(bit);
            if intid >= 32 {
                kick |= self.kick_for(vcpu, intid & !31, bit);
            }
        }
        kick.without(vcpu)
    }

    /// Builds the LR for `intid` and moves its state out of the model.
    fn load(&mut self, vcpu: usize, intid: u32) -> ListRegister {
        let groups = self.groups;
        let bit_index = intid % 32;
        let bit = 1u32 << bit_index;
        if intid >= 32 {
            self.owner[(intid - 32) as usize] = vcpu as u8;
        }
        let Some(bank) = self.bank_mut(vcpu, intid) else {
            return ListRegister(0);
        };
        let active = bank.active & bit != 0;
        let hw = bank.hw & bit != 0;
        // A hardware interrupt's LR may not be pending and active at once
        // (the physical side holds the second pending): keep the pending
        // state in the model until the guest deactivates.
        let pending = bank.deliverable(groups) & bit != 0 && !(hw && active);
        let level_line = bank.edge & bit == 0 && bank.line & bit != 0;

        bank.owned |= bit;
        bank.lr_active = (bank.lr_active & !bit) | if active { bit } else { 0 };
        bank.lr_pending = (bank.lr_pending & !bit) | if pending { bit } else { 0 };
        let moved_latch = pending && bank.latch & bit != 0;
        bank.lr_moved_latch = (bank.lr_moved_latch & !bit) | if moved_latch { bit } else { 0 };
        if pending {
            bank.latch &= !bit;
        }
        bank.active &= !bit;

        let priority = bank.priority[bit_index as usize];
        let group1 = bank.group1 & bit != 0;
        let state = LrState::from_flags(pending, active);
        if hw {
            let pintid = u32::from(bank.pintid[bit_index as usize]);
            ListRegister::hardware_irq(intid, pintid, priority, group1, state)
        } else {
            // Only a level line needs the guest's EOI reported: its pending
            // state must be resampled then. Edges re-arrive as events.
            ListRegister::virtual_irq(intid, priority, group1, state, level_line)
        }
    }
}
