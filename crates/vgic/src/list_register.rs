//! The `ICH_LR<n>_EL2` image (GICv3 spec, chapter 11/12: `ICH_LR<n>_EL2`):
//!
//! | bits  | field    |
//! |-------|----------|
//! | 63:62 | State (00 invalid, 01 pending, 10 active, 11 pending and active) |
//! | 61    | HW: the virtual interrupt is tied to a physical one |
//! | 60    | Group (1 = Group 1) |
//! | 55:48 | Priority |
//! | 44:32 | pINTID when HW = 1 |
//! | 41    | EOI when HW = 0: maintenance interrupt when the guest deactivates it |
//! | 31:0  | vINTID |

/// The State field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LrState {
    /// 0b00: nothing (or the guest has deactivated it).
    Invalid,
    /// 0b01.
    Pending,
    /// 0b10.
    Active,
    /// 0b11.
    PendingActive,
}

impl LrState {
    /// The state made of the two flags.
    pub const fn from_flags(pending: bool, active: bool) -> LrState {
        match (pending, active) {
            (false, false) => LrState::Invalid,
            (true, false) => LrState::Pending,
            (false, true) => LrState::Active,
            (true, true) => LrState::PendingActive,
        }
    }

    /// Whether the pending bit is set.
    pub const fn pending(self) -> bool {
        matches!(self, LrState::Pending | LrState::PendingActive)
    }

    /// Whether the active bit is set.
    pub const fn active(self) -> bool {
        matches!(self, LrState::Active | LrState::PendingActive)
    }

    const fn bits(self) -> u64 {
        match self {
            LrState::Invalid => 0,
            LrState::Pending => 1,
            LrState::Active => 2,
            LrState::PendingActive => 3,
        }
    }
}

/// One `ICH_LR<n>_EL2` value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ListRegister(pub u64);

impl ListRegister {
    const STATE_SHIFT: u32 = 62;
    const HW: u64 = 1 << 61;
    const GROUP: u64 = 1 << 60;
    const PRIORITY_SHIFT: u32 = 48;
    const PINTID_SHIFT: u32 = 32;
    const PINTID_MASK: u64 = 0x1FFF;
    const EOI: u64 = 1 << 41;

    /// A purely virtual interrupt; `eoi_maintenance` asks for a maintenance
    /// interrupt when the guest deactivates it (level-sensitive resampling).
    pub const fn virtual_irq(
        vintid: u32,
        priority: u8,
        group1: bool,
        state: LrState,
        eoi_maintenance: bool,
    ) -> ListRegister {
        let mut v = ListRegister::common(vintid, priority, group1, state);
        if eoi_maintenance {
            v |= ListRegister::EOI;
        }
        ListRegister(v)
    }

    /// A virtual interrupt backed by physical `pintid`: the guest's
    /// deactivation deactivates the physical interrupt too.
    pub const fn hardware_irq(
        vintid: u32,
        pintid: u32,
        priority: u8,
        group1: bool,
        state: LrState,
    ) -> ListRegister {
        let v = ListRegister::common(vintid, priority, group1, state)
            | ListRegister::HW
            | ((pintid as u64 & ListRegister::PINTID_MASK) << ListRegister::PINTID_SHIFT);
        ListRegister(v)
    }

    const fn common(vintid: u32, priority: u8, group1: bool, state: LrState) -> u64 {
        let mut v = vintid as u64
            | (priority as u64) << ListRegister::PRIORITY_SHIFT
            | state.bits() << ListRegister::STATE_SHIFT;
        if group1 {
            v |= ListRegister::GROUP;
        }
        v
    }

    /// vINTID.
    pub const fn vintid(self) -> u32 {
        self.0 as u32
    }

    /// State.
    pub const fn state(self) -> LrState {
        match self.0 >> ListRegister::STATE_SHIFT {
            0 => LrState::Invalid,
            1 => LrState::Pending,
            2 => LrState::Active,
            _ => LrState::PendingActive,
        }
    }

    /// HW.
    pub const fn hw(self) -> bool {
        self.0 & ListRegister::HW != 0
    }

    /// Group (true = Group 1).
    pub const fn group1(self) -> bool {
        self.0 & ListRegister::GROUP != 0
    }

    /// Priority.
    pub const fn priority(self) -> u8 {
        (self.0 >> ListRegister::PRIORITY_SHIFT) as u8
    }

    /// pINTID, meaningful only when HW = 1.
    pub const fn pintid(self) -> u32 {
        ((self.0 >> ListRegister::PINTID_SHIFT) & ListRegister::PINTID_MASK) as u32
    }

    /// EOI maintenance request, meaningful only when HW = 0.
    pub const fn eoi(self) -> bool {
        !self.hw() && self.0 & ListRegister::EOI != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_timer_ppi_encoding() {
        // Virtual timer PPI 27 tied to physical 27, priority 0xA0, Group 1,
        // pending: State 01, HW 1, Group 1, prio 0xA0, pINTID 27, vINTID 27.
        let lr = ListRegister::hardware_irq(27, 27, 0xA0, true, LrState::Pending);
        assert_eq!(lr.0, 0x70A0_001B_0000_001B);
        assert!(lr.hw() && lr.group1() && !lr.eoi());
        assert_eq!((lr.pintid(), lr.vintid(), lr.priority()), (27, 27, 0xA0));
    }

    #[test]
    fn virtual_level_spi_with_eoi_maintenance() {
        let lr = ListRegister::virtual_irq(33, 0x80, true, LrState::PendingActive, true);
        assert_eq!(lr.0, 0xD080_0200_0000_0021);
        assert_eq!(lr.state(), LrState::PendingActive);
        assert!(lr.eoi() && !lr.hw());
    }

    #[test]
    fn group0_active_state() {
        let lr = ListRegister::virtual_irq(1, 0, false, LrState::Active, false);
        assert_eq!(lr.0, 0x8000_0000_0000_0001);
        assert!(!lr.group1());
        assert!(lr.state().active() && !lr.state().pending());
    }
}
