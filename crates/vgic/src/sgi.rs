//! ICC_SGI1R_EL1 (trapped to EL2 when the guest sends an SGI) decoded for
//! Aerie's flat topology (Aff3.Aff2.Aff1 = 0, Aff0 = vCPU index).

use crate::Kick;

/// The fields of an ICC_SGI1R_EL1 write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SgiRequest {
    /// INTID, bits `[27:24]`.
    pub intid: u32,
    /// TargetList, bits `[15:0]`: bit `i` = Aff0 `RS * 16 + i`.
    pub target_list: u16,
    /// Aff1, bits `[23:16]`.
    pub aff1: u8,
    /// Aff2, bits `[39:32]`.
    pub aff2: u8,
    /// IRM, bit `[40]`: all PEs except the sender.
    pub irm: bool,
    /// RS, bits `[47:44]`: which block of 16 Aff0 values TargetList covers.
    pub rs: u8,
    /// Aff3, bits `[55:48]`.
    pub aff3: u8,
}

impl SgiRequest {
    /// Splits the register value into its fields.
    pub const fn decode(value: u64) -> SgiRequest {
        SgiRequest {
            intid: ((value >> 24) & 0xF) as u32,
            target_list: value as u16,
            aff1: (value >> 16) as u8,
            aff2: (value >> 32) as u8,
            irm: value & (1 << 40) != 0,
            rs: ((value >> 44) & 0xF) as u8,
            aff3: (value >> 48) as u8,
        }
    }

    /// The vCPUs (of `vcpus`) this request targets when `sender` sends it;
    /// PEs that do not exist are ignored, as the spec requires.
    pub fn targets(self, sender: usize, vcpus: usize) -> Kick {
        if self.irm {
            let all = Kick::first(vcpus).bits();
            return Kick::from_bits(all & !Kick::vcpu(sender).bits());
        }
        if self.aff1 != 0 || self.aff2 != 0 || self.aff3 != 0 {
            return Kick::NONE;
        }
        // TargetList bit i is vCPU RS * 16 + i: one shift, no loop (this
        // runs for every SGI a guest sends). Blocks beyond what a mask
        // holds name no vCPU Aerie can have.
        let base = u32::from(self.rs) * 16;
        let listed = u64::from(self.target_list).checked_shl(base).unwrap_or(0);
        let present = u64::from(Kick::first(vcpus).bits());
        Kick::from_bits((listed & present) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_field() {
        let v = (3u64 << 48) | (2 << 44) | (1 << 40) | (5 << 32) | (0xB << 24) | (7 << 16) | 0x8001;
        let r = SgiRequest::decode(v);
        assert_eq!(
            r,
            SgiRequest {
                intid: 11,
                target_list: 0x8001,
                aff1: 7,
                aff2: 5,
                irm: true,
                rs: 2,
                aff3: 3
            }
        );
    }

    #[test]
    fn target_list_picks_existing_vcpus() {
        // SGI 1 to Aff0 1 and 3 and 9; only 4 vCPUs exist.
        let r = SgiRequest::decode((1 << 24) | 0b10_0000_1010);
        assert_eq!(r.targets(0, 4), Kick::vcpu(1) | Kick::vcpu(3));
    }

    #[test]
    fn other_clusters_and_range_selectors_miss() {
        assert_eq!(SgiRequest::decode((1 << 16) | 1).targets(0, 8), Kick::NONE);
        assert_eq!(SgiRequest::decode((1 << 44) | 1).targets(0, 8), Kick::NONE);
    }

    #[test]
    fn range_selector_picks_the_block_of_sixteen() {
        // RS 1: bit i is Aff0 16 + i; 20 vCPUs exist.
        let r = SgiRequest::decode((1 << 44) | 0b1001_0001);
        assert_eq!(r.targets(0, 20), Kick::vcpu(16));
        let r = SgiRequest::decode((1 << 44) | 0b1001);
        assert_eq!(r.targets(0, 20), Kick::vcpu(16) | Kick::vcpu(19));
        // RS 2 covers 32..47: beyond what a VM can have.
        assert_eq!(
            SgiRequest::decode((2 << 44) | 0xFFFF).targets(0, 64),
            Kick::NONE
        );
        // The highest RS still names nobody, and shifts nothing out of range.
        assert_eq!(
            SgiRequest::decode((15 << 44) | 0xFFFF).targets(0, 64),
            Kick::NONE
        );
    }

    #[test]
    fn irm_means_everyone_but_the_sender() {
        let r = SgiRequest::decode(1 << 40);
        assert_eq!(r.targets(1, 3), Kick::vcpu(0) | Kick::vcpu(2));
        assert_eq!(r.targets(0, 1), Kick::NONE);
    }
}
