//! `GICD_ITARGETSR<n>`: where an SPI goes on a GICv2, one byte per INTID,
//! bit `i` naming CPU interface `i` (vCPU `i`). It does the job
//! `GICD_IROUTER<n>` does on a GICv3 (see `router`); either one is turned
//! into `Vgic::spi_targets`, the only routing flush reads.

use crate::Kick;

/// What an SPI's target byte holds after the guest writes `byte`: the bits
/// of vCPUs that exist. With a single vCPU every SPI targets it whatever is
/// written (a uniprocessor GIC routes everything to its one CPU), so the
/// byte is 0x01.
pub(crate) fn stored(byte: u8, vcpus: usize) -> u8 {
    if vcpus == 1 {
        return 0x01;
    }
    byte & Kick::first(vcpus).bits() as u8
}

/// The vCPUs an SPI whose target byte is `stored` may be delivered to. With
/// several, each is offered it and whichever enters first takes it, as with
/// GICv3 1-of-N routing (the spec lets the GIC pick any one target); an
/// empty mask delivers nowhere.
pub(crate) fn targets(stored: u8) -> Kick {
    Kick::from_bits(u32::from(stored))
}

/// A byte of GICD_ITARGETSR0..7 (SGIs and PPIs) as `vcpu` reads it: its own
/// CPU interface, the only one its private interrupts can reach. Read-only.
pub(crate) fn private_byte(vcpu: usize) -> u8 {
    Kick::vcpu(vcpu).bits() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keeps_existing_cpus_only() {
        assert_eq!(stored(0xFF, 3), 0b111);
        assert_eq!(stored(0b1010, 4), 0b1010);
        assert_eq!(stored(0, 8), 0);
        assert_eq!(stored(0xFF, 8), 0xFF);
    }

    #[test]
    fn uniprocessor_targets_its_cpu_whatever_is_written() {
        assert_eq!(stored(0, 1), 1);
        assert_eq!(stored(0xFE, 1), 1);
        assert_eq!(targets(stored(0, 1)), Kick::vcpu(0));
    }

    #[test]
    fn targets_and_private_bytes() {
        assert_eq!(targets(0b101), Kick::vcpu(0) | Kick::vcpu(2));
        assert_eq!(targets(0), Kick::NONE);
        assert_eq!(private_byte(0), 0x01);
        assert_eq!(private_byte(7), 0x80);
    }
}
