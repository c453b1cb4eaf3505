//! The GICv2 list register, `GICH_LR<n>` (IHI 0048B, GIC virtual interface
//! control registers), for a host whose GIC is a GICv2. The model works in
//! `ICH_LR<n>_EL2` images (see `list_register`); the hypervisor converts
//! each image flush gives it with [`ListRegister::to_gich_lr`] and each
//! value it reads back with [`ListRegister::from_gich_lr`].
//!
//! | bits  | field    |
//! |-------|----------|
//! | 31    | HW |
//! | 30    | Grp1 |
//! | 29:28 | State (00 invalid, 01 pending, 10 active, 11 pending and active) |
//! | 27:23 | Priority: bits `[7:3]` of the 8-bit priority |
//! | 19:10 | PhysicalID when HW = 1 |
//! | 19    | EOI when HW = 0: maintenance interrupt when the guest deactivates it |
//! | 12:10 | CPUID when HW = 0: the CPU that sent an SGI |
//! | 9:0   | VirtualID |
//!
//! The fields are narrower than the GICv3 ones, and what does not fit is
//! cut: the priority keeps its top 5 bits (all the model implements,
//! `PRIORITY_MASK`), the INTIDs 10 bits (the model's are below 1020; a
//! GICv2 vGIC refuses pINTIDs above 1019). So every image flush makes comes
//! back unchanged. CPUID is always written 0: the model keeps one pending
//! bit per SGI, not one per sender, so it has no source to report (a guest
//! acknowledging the SGI reads CPUID 0 and writes the same back to EOI).

use crate::list_register::{ListRegister, LrState};

const HW: u32 = 1 << 31;
const GRP1: u32 = 1 << 30;
const STATE_SHIFT: u32 = 28;
const PRIORITY_SHIFT: u32 = 23;
/// Priority bits `[7:3]` sit in GICH_LR `[27:23]`.
const PRIORITY_DROP: u32 = 3;
const PHYSICAL_ID_SHIFT: u32 = 10;
const EOI: u32 = 1 << 19;
/// VirtualID and PhysicalID are 10 bits.
const ID_MASK: u32 = 0x3FF;

impl ListRegister {
    /// This image as a GICv2 `GICH_LR<n>` value (CPUID 0).
    pub const fn to_gich_lr(self) -> u32 {
        let state = self.state();
        let state_bits = (state.active() as u32) << 1 | state.pending() as u32;
        let mut v = (self.vintid() & ID_MASK)
            | ((self.priority() as u32) >> PRIORITY_DROP) << PRIORITY_SHIFT
            | state_bits << STATE_SHIFT;
        if self.group1() {
            v |= GRP1;
        }
        if self.hw() {
            v |= HW | (self.pintid() & ID_MASK) << PHYSICAL_ID_SHIFT;
        } else if self.eoi() {
            v |= EOI;
        }
        v
    }

    /// The image of a GICv2 `GICH_LR<n>` value (CPUID is dropped).
    pub const fn from_gich_lr(value: u32) -> ListRegister {
        let vintid = value & ID_MASK;
        let priority = (((value >> PRIORITY_SHIFT) & 0x1F) << PRIORITY_DROP) as u8;
        let group1 = value & GRP1 != 0;
        let bits = (value >> STATE_SHIFT) & 3;
        let state = LrState::from_flags(bits & 1 != 0, bits & 2 != 0);
        if value & HW != 0 {
            let pintid = (value >> PHYSICAL_ID_SHIFT) & ID_MASK;
            ListRegister::hardware_irq(vintid, pintid, priority, group1, state)
        } else {
            ListRegister::virtual_irq(vintid, priority, group1, state, value & EOI != 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways: the image gives `gich`, and `gich` gives the image back.
    fn both_ways(lr: ListRegister, gich: u32) {
        assert_eq!(lr.to_gich_lr(), gich, "{lr:x?}");
        assert_eq!(ListRegister::from_gich_lr(gich), lr, "{gich:#x}");
    }

    #[test]
    fn hardware_timer_ppi() {
        // HW, Grp1, State 01, priority 0xA0 >> 3 = 0x14, PhysicalID 27,
        // VirtualID 27.
        let lr = ListRegister::hardware_irq(27, 27, 0xA0, true, LrState::Pending);
        both_ways(lr, 0xDA00_6C1B);
    }

    #[test]
    fn level_spi_with_eoi_maintenance() {
        // Grp1, State 11, priority 0x80 >> 3 = 0x10, EOI, VirtualID 33.
        let lr = ListRegister::virtual_irq(33, 0x80, true, LrState::PendingActive, true);
        both_ways(lr, 0x7808_0021);
    }

    #[test]
    fn each_state_group_0_and_1() {
        let cases = [
            (LrState::Invalid, false, 0x0000_0005),
            (LrState::Pending, false, 0x1000_0005),
            (LrState::Active, false, 0x2000_0005),
            (LrState::PendingActive, false, 0x3000_0005),
            (LrState::Invalid, true, 0x4000_0005),
            (LrState::Pending, true, 0x5000_0005),
            (LrState::Active, true, 0x6000_0005),
            (LrState::PendingActive, true, 0x7000_0005),
        ];
        for (state, group1, gich) in cases {
            both_ways(ListRegister::virtual_irq(5, 0, group1, state, false), gich);
        }
    }

    #[test]
    fn largest_intids_and_priority() {
        // Priority 0xF8 >> 3 = 0x1F at [27:23]; INTID 1019 = 0x3FB.
        let lr = ListRegister::virtual_irq(1019, 0xF8, false, LrState::Pending, false);
        both_ways(lr, 0x1F80_03FB);
        let lr = ListRegister::hardware_irq(1019, 1019, 0xF8, true, LrState::Active);
        both_ways(lr, 0xEF8F_EFFB);
    }

    #[test]
    fn cpuid_is_written_zero_and_dropped_on_the_way_back() {
        // SGI 1 from CPU 3, pending.
        let lr = ListRegister::from_gich_lr(0x1000_0C01);
        assert_eq!(
            lr,
            ListRegister::virtual_irq(1, 0, false, LrState::Pending, false)
        );
        assert_eq!(lr.to_gich_lr(), 0x1000_0001);
    }

    #[test]
    fn every_image_flush_can_make_comes_back() {
        let states = [
            LrState::Invalid,
            LrState::Pending,
            LrState::Active,
            LrState::PendingActive,
        ];
        for intid in [0, 1, 15, 16, 27, 31, 32, 33, 511, 1019] {
            for priority in (0..=0xF8).step_by(8) {
                for state in states {
                    for group1 in [false, true] {
                        for eoi in [false, true] {
                            let lr = ListRegister::virtual_irq(intid, priority, group1, state, eoi);
                            let back = ListRegister::from_gich_lr(lr.to_gich_lr());
                            assert_eq!(back, lr);
                        }
                        for pintid in [16, 27, 30, 1019] {
                            let lr =
                                ListRegister::hardware_irq(intid, pintid, priority, group1, state);
                            let back = ListRegister::from_gich_lr(lr.to_gich_lr());
                            assert_eq!(back, lr);
                        }
                    }
                }
            }
        }
    }
}
