//! The state of 32 consecutive INTIDs as bitmaps (bit `i` = INTID
//! `32 * bank + i`), so the hot paths (flush on every guest entry, the WFI
//! check) test whole words instead of walking interrupts one by one.
//!
//! Bank 0 (SGIs and PPIs) exists once per vCPU in its redistributor; banks
//! 1.. hold the SPIs, shared by the VM, in the distributor.

use crate::PRIORITY_MASK;

/// Which GICD_CTLR group enables are on, as seen by [`Bank::deliverable`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct GroupEnables {
    /// GICD_CTLR.EnableGrp0 (DS = 1 layout, bit 0).
    pub grp0: bool,
    /// GICD_CTLR.EnableGrp1 (DS = 1 layout, bit 1).
    pub grp1: bool,
}

impl GroupEnables {
    /// Which bits of a bank whose Group 1 membership is `group1` may be
    /// forwarded.
    pub fn mask(self, group1: u32) -> u32 {
        let g1 = if self.grp1 { group1 } else { 0 };
        let g0 = if self.grp0 { !group1 } else { 0 };
        g1 | g0
    }
}

/// State of 32 INTIDs. All fields are bitmaps except `priority`/`pintid`.
#[derive(Clone, Debug)]
pub(crate) struct Bank {
    /// GICD/GICR_IGROUPR: 1 = Group 1.
    pub group1: u32,
    /// GICD/GICR_ISENABLER.
    pub enabled: u32,
    /// Latched pending state: edges, ISPENDR writes, SGIs, hypervisor pends.
    pub latch: u32,
    /// Input line level for level-sensitive interrupts (devices' lines).
    pub line: u32,
    /// ICFGR Int_config: 1 = edge-triggered, 0 = level-sensitive.
    pub edge: u32,
    /// Active state (not counting an LR's copy; see `lr_active`).
    pub active: u32,
    /// Priority per INTID, only the implemented bits (PRIORITY_MASK) kept.
    pub priority: [u8; 32],
    /// Interrupts mapped to a physical interrupt (LR.HW = 1).
    pub hw: u32,
    /// Physical INTID per hardware-mapped interrupt.
    pub pintid: [u16; 32],
    /// Interrupts currently held by some vCPU's list register (between
    /// its flush and its sync). Flush skips them so no interrupt is ever in
    /// two LRs at once.
    pub owned: u32,
    /// The pending state that went into the LR (what register reads see).
    pub lr_pending: u32,
    /// The active state that went into the LR.
    pub lr_active: u32,
    /// Whether the LR's pending state came from `latch` (so it is put back
    /// there if the LR comes back still pending); level pending that came
    /// only from `line` needs no restoring: the line still says it.
    pub lr_moved_latch: u32,
    /// ICPENDR written while in an LR: drop the LR's pending state on sync.
    pub lr_clear_pending: u32,
    /// ICACTIVER written while in an LR: drop the LR's active state on sync.
    pub lr_clear_active: u32,
}

impl Bank {
    /// Bank 0 of a redistributor: SGIs are edge-triggered (GICR_ICFGR0 is
    /// read-only 0xAAAA_AAAA), PPIs reset to level-sensitive.
    pub fn new_private() -> Bank {
        Bank::with_edge(0x0000_FFFF)
    }

    /// An SPI bank: every SPI resets to level-sensitive (ICFGR = 0), as on
    /// QEMU's GICv3; the guest programs edge where its DT says so.
    pub fn new_shared() -> Bank {
        Bank::with_edge(0)
    }

    fn with_edge(edge: u32) -> Bank {
        Bank {
            group1: 0,
            enabled: 0,
            latch: 0,
            line: 0,
            edge,
            active: 0,
            priority: [0; 32],
            hw: 0,
            pintid: [0; 32],
            owned: 0,
            lr_pending: 0,
            lr_active: 0,
            lr_moved_latch: 0,
            lr_clear_pending: 0,
            lr_clear_active: 0,
        }
    }

    /// Pending in the model: latched, or a level-sensitive line held high.
    pub fn pending(&self) -> u32 {
        self.latch | (self.line & !self.edge)
    }

    /// Pending as the guest reads it through ISPENDR: the model's plus
    /// whatever sits pending in an LR.
    pub fn visible_pending(&self) -> u32 {
        self.pending() | (self.lr_pending & self.owned)
    }

    /// Active as the guest reads it through ISACTIVER.
    pub fn visible_active(&self) -> u32 {
        self.active | (self.lr_active & self.owned)
    }

    /// Pending, enabled, group-enabled and not already in an LR: may be
    /// signalled to a vCPU.
    pub fn deliverable(&self, groups: GroupEnables) -> u32 {
        self.pending() & self.enabled & groups.mask(self.group1) & !self.owned
    }

    /// What flush must put in an LR: deliverable pending interrupts, and
    /// active ones (whatever their enable) so the guest can deactivate them.
    pub fn lr_candidates(&self, groups: GroupEnables) -> u32 {
        self.deliverable(groups) | (self.active & !self.owned)
    }

    /// Any bit of `word` whose priority is higher (numerically lower) than
    /// `mask`, both cut to the implemented priority bits.
    pub fn any_above(&self, word: u32, mask: u8) -> bool {
        let mask = mask & PRIORITY_MASK;
        bits(word).any(|i| self.priority[i as usize] < mask)
    }

    /// Clears every sign of LR ownership for `bit`.
    pub fn disown(&mut self, bit: u32) {
        self.owned &= !bit;
        self.lr_pending &= !bit;
        self.lr_active &= !bit;
        self.lr_moved_latch &= !bit;
        self.lr_clear_pending &= !bit;
        self.lr_clear_active &= !bit;
    }
}

/// The set bit positions of `word`, lowest first.
pub(crate) fn bits(word: u32) -> impl Iterator<Item = u32> {
    let mut rest = word;
    core::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let i = rest.trailing_zeros();
        rest &= rest - 1;
        Some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_pending_follows_the_line_edge_does_not() {
        let mut b = Bank::new_shared();
        b.edge = 0b10;
        b.line = 0b11;
        assert_eq!(b.pending(), 0b01);
        b.latch = 0b10;
        assert_eq!(b.pending(), 0b11);
    }

    #[test]
    fn deliverable_needs_enable_and_group_enable() {
        let mut b = Bank::new_shared();
        b.latch = 0b111;
        b.enabled = 0b011;
        b.group1 = 0b001;
        let g1 = GroupEnables {
            grp0: false,
            grp1: true,
        };
        let g0 = GroupEnables {
            grp0: true,
            grp1: false,
        };
        assert_eq!(b.deliverable(g1), 0b001);
        assert_eq!(b.deliverable(g0), 0b010);
        b.owned = 0b001;
        assert_eq!(b.deliverable(g1), 0);
    }

    #[test]
    fn priority_compare_uses_implemented_bits() {
        let mut b = Bank::new_shared();
        b.priority[3] = 0x80;
        assert!(b.any_above(1 << 3, 0x88));
        // 0x87 masks to 0x80: not strictly higher.
        assert!(!b.any_above(1 << 3, 0x87));
        assert!(!b.any_above(0, 0xFF));
    }

    #[test]
    fn bits_lists_positions() {
        let v: std::vec::Vec<u32> = bits(0x8000_0005).collect();
        assert_eq!(v, [0, 2, 31]);
    }
}
