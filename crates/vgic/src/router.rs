//! `GICD_IROUTER<n>`: where an SPI goes under affinity routing. Aerie's vCPUs
//! have the flat topology Aff3.Aff2.Aff1 = 0, Aff0 = vCPU index.

use crate::Kick;

/// Aff0, bits `[7:0]`.
const AFF0: u64 = 0xFF;
/// Aff1, bits `[15:8]`; Aff2, bits `[23:16]`.
const AFF2_AFF1: u64 = 0xFF_FF00;
/// Interrupt_Routing_Mode, bit `[31]`: 1 = any participating PE ("1 of N").
pub(crate) const IRM: u64 = 1 << 31;
/// What a guest may write: Aff3 `[39:32]` is RES0 because GICD_TYPER.A3V = 0.
pub(crate) const WRITABLE: u64 = IRM | AFF2_AFF1 | AFF0;

/// The vCPUs an SPI with routing `irouter` may be delivered to, out of
/// `vcpus`. 1-of-N offers it to every vCPU (whichever enters first takes
/// it); a specific affinity that names no vCPU delivers nowhere, as the
/// spec says for a non-existent PE.
pub(crate) fn targets(irouter: u64, vcpus: usize) -> Kick {
    if irouter & IRM != 0 {
        return Kick::first(vcpus);
    }
    let aff0 = (irouter & AFF0) as usize;
    if irouter & AFF2_AFF1 == 0 && aff0 < vcpus {
        Kick::vcpu(aff0)
    } else {
        Kick::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aff0_names_a_vcpu() {
        assert_eq!(targets(2, 4), Kick::vcpu(2));
        assert_eq!(targets(4, 4), Kick::NONE);
        assert_eq!(targets(0x100, 4), Kick::NONE); // Aff1 = 1: no such PE
    }

    #[test]
    fn irm_offers_to_everyone() {
        assert_eq!(targets(IRM | 3, 3), Kick::first(3));
    }
}
