//! `GICD_SGIR`: how a GICv2 guest sends an SGI, a distributor write naming
//! the SGI and its targets by CPU interface number (vCPU index). NSATT
//! (bit 15) means nothing without the Security Extensions and is ignored.

use crate::Kick;

/// The fields of a GICD_SGIR write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Sgir {
    /// SGIINTID, bits `[3:0]`.
    pub intid: u32,
    /// TargetListFilter, bits `[25:24]`.
    filter: u8,
    /// CPUTargetList, bits `[23:16]`: bit `i` = CPU interface `i`.
    target_list: u8,
}

impl Sgir {
    /// Splits the register value into its fields.
    pub const fn decode(value: u32) -> Sgir {
        Sgir {
            intid: value & 0xF,
            filter: ((value >> 24) & 3) as u8,
            target_list: (value >> 16) as u8,
        }
    }

    /// The vCPUs (of `vcpus`) this write targets when `sender` makes it.
    /// TargetListFilter 0b00 sends to CPUTargetList, 0b01 to every CPU
    /// but the sender, 0b10 to the sender only; 0b11 is reserved and sends
    /// nothing. CPU interfaces that do not exist are ignored.
    pub fn targets(self, sender: usize, vcpus: usize) -> Kick {
        let present = Kick::first(vcpus).bits();
        let wanted = match self.filter {
            0 => u32::from(self.target_list),
            1 => !Kick::vcpu(sender).bits(),
            2 => Kick::vcpu(sender).bits(),
            _ => 0,
        };
        Kick::from_bits(wanted & present)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_field() {
        let s = Sgir::decode((0b10 << 24) | (0xA5 << 16) | (1 << 15) | 0x3F7);
        assert_eq!(
            s,
            Sgir {
                intid: 7,
                filter: 2,
                target_list: 0xA5
            }
        );
    }

    #[test]
    fn each_filter() {
        let list = |l: u32| Sgir::decode(l << 16);
        assert_eq!(list(0b0110).targets(0, 4), Kick::vcpu(1) | Kick::vcpu(2));
        // CPU interfaces 4..7 do not exist on a 4-vCPU VM.
        assert_eq!(list(0xF0).targets(0, 4), Kick::NONE);
        assert_eq!(
            Sgir::decode(1 << 24).targets(1, 3),
            Kick::vcpu(0) | Kick::vcpu(2)
        );
        assert_eq!(Sgir::decode(1 << 24).targets(0, 1), Kick::NONE);
        assert_eq!(
            Sgir::decode((2 << 24) | (0xFF << 16)).targets(2, 3),
            Kick::vcpu(2)
        );
        assert_eq!(
            Sgir::decode((3 << 24) | (0xFF << 16)).targets(0, 8),
            Kick::NONE
        );
    }
}
