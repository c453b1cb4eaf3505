use super::{linux_like, sgi_base};
use crate::{Kick, Vgic, VgicError};

/// ICC_SGI1R_EL1 value: SGI `intid` to TargetList `targets` (Aff0 0..15).
fn sgi1r(intid: u64, targets: u64) -> u64 {
    (intid << 24) | targets
}

#[test]
fn sgi_to_self_and_to_another_vcpu() {
    let mut g = linux_like(&[1, 2]);
    assert_eq!(g.send_sgi(0, sgi1r(1, 0b01)), Kick::vcpu(0));
    assert_eq!(g.send_sgi(0, sgi1r(2, 0b10)), Kick::vcpu(1));
    assert_eq!(g.redist_read(sgi_base(0) + 0x0200, 4), Ok(0b010));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0200, 4), Ok(0b100));
}

#[test]
fn sgi_irm_targets_all_but_sender_and_ignores_missing_pes() {
    let mut g = linux_like(&[3]);
    assert_eq!(g.send_sgi(1, (1 << 40) | sgi1r(3, 0)), Kick::vcpu(0));
    assert_eq!(g.redist_read(sgi_base(0) + 0x0200, 4), Ok(0b1000));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0200, 4), Ok(0));
    // TargetList naming Aff0 5 on a 2-vCPU VM: no effect.
    assert_eq!(g.send_sgi(0, sgi1r(3, 1 << 5)), Kick::NONE);
}

#[test]
fn sgi_targets_name_what_send_would_make_pending_and_change_nothing() {
    let mut g = linux_like(&[]);
    assert_eq!(g.sgi_targets(0, sgi1r(1, 0b11)), Kick::first(2));
    assert_eq!(g.sgi_targets(1, (1 << 40) | sgi1r(1, 0)), Kick::vcpu(0));
    assert_eq!(g.sgi_targets(0, sgi1r(1, 1 << 5)), Kick::NONE);
    assert_eq!(g.sgi_targets(0, (1 << 16) | sgi1r(1, 1)), Kick::NONE);
    assert_eq!(g.redist_read(sgi_base(0) + 0x0200, 4), Ok(0));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0200, 4), Ok(0));
}

#[test]
fn a_disabled_sgi_is_pending_but_kicks_nobody() {
    let mut g = linux_like(&[]);
    assert_eq!(g.send_sgi(0, sgi1r(4, 0b10)), Kick::NONE);
    assert_eq!(g.redist_read(sgi_base(1) + 0x0200, 4), Ok(1 << 4));
    // Enabling it makes it deliverable: the enable write kicks vCPU 1.
    assert_eq!(
        g.redist_write(sgi_base(1) + 0x0100, 4, 1 << 4),
        Ok(Kick::vcpu(1))
    );
}

#[test]
fn level_spi_follows_its_line() {
    let mut g = linux_like(&[33]);
    assert_eq!(g.set_spi_level(33, true), Kick::vcpu(0));
    assert_eq!(g.dist_read(0x0204, 4), Ok(1 << 1));
    // ICPENDR cannot clear a line that is still high.
    g.dist_write(0x0284, 4, 1 << 1).unwrap();
    assert_eq!(g.dist_read(0x0204, 4), Ok(1 << 1));
    g.set_spi_level(33, false);
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
}

#[test]
fn edge_spi_latches_pulses_and_rising_levels() {
    let mut g = linux_like(&[48, 49]);
    g.dist_write(0x0C0C, 4, 0b1010).unwrap(); // 48, 49 edge
    assert_eq!(g.pulse_spi(48), Kick::vcpu(0));
    g.set_spi_level(49, true);
    g.set_spi_level(49, false);
    assert_eq!(g.dist_read(0x0204, 4), Ok(0b11 << 16));
    // Unknown INTIDs are ignored.
    assert_eq!(g.pulse_spi(96), Kick::NONE);
    assert_eq!(g.pulse_spi(20), Kick::NONE);
    assert_eq!(g.set_spi_level(1000, true), Kick::NONE);
}

#[test]
fn ppi_pending_is_per_vcpu() {
    let mut g = linux_like(&[27]);
    assert_eq!(g.set_ppi_pending(1, 27), Kick::vcpu(1));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0200, 4), Ok(1 << 27));
    assert_eq!(g.redist_read(sgi_base(0) + 0x0200, 4), Ok(0));
    assert_eq!(g.set_ppi_pending(1, 3), Kick::NONE); // an SGI, not a PPI
    assert_eq!(g.set_ppi_pending(2, 27), Kick::NONE); // no such vCPU
}

#[test]
fn pending_irq_honours_enable_group_enable_routing_and_pmr() {
    let mut g = linux_like(&[40]);
    assert!(!g.pending_irq(0, 0xFF));
    g.pulse_spi(40);
    // Priority 0xA0 is signalled only under a mask above it.
    assert!(g.pending_irq(0, 0xF0));
    assert!(!g.pending_irq(0, 0xA0));
    // 0xA7 is cut to 0xA0 (5 bits): still masked.
    assert!(!g.pending_irq(0, 0xA7));
    assert!(g.pending_irq(0, 0xA8));
    assert!(!g.pending_irq(1, 0xFF)); // routed to vCPU 0
    g.dist_write(0x0000, 4, 0b01).unwrap(); // Group 1 off
    assert!(!g.pending_irq(0, 0xFF));
    g.dist_write(0x0000, 4, 0b10).unwrap();
    g.dist_write(0x0184, 4, 1 << 8).unwrap(); // disable 40
    assert!(!g.pending_irq(0, 0xFF));
    assert!(!g.pending_irq(5, 0xFF));
}

#[test]
fn hw_mapping_checks_its_arguments() {
    let mut g = Vgic::new(2, 32);
    assert_eq!(g.set_hw_mapping(0, 27, 27), Ok(()));
    assert_eq!(
        g.set_hw_mapping(2, 27, 27),
        Err(VgicError::NoSuchVcpu { vcpu: 2 })
    );
    assert_eq!(
        g.set_hw_mapping(0, 3, 27),
        Err(VgicError::BadIntid { intid: 3 })
    );
    assert_eq!(
        g.set_hw_mapping(0, 64, 27),
        Err(VgicError::BadIntid { intid: 64 })
    );
    assert_eq!(
        g.set_hw_mapping(0, 27, 8192),
        Err(VgicError::BadIntid { intid: 8192 })
    );
    assert_eq!(g.clear_hw_mapping(0, 27), Ok(()));
}

#[test]
fn reset_restores_reset_state_but_keeps_hw_mappings() {
    let mut g = linux_like(&[27, 40]);
    g.set_hw_mapping(1, 27, 27).unwrap();
    g.pulse_spi(40);
    g.reset();
    assert_eq!(g.dist_read(0x0000, 4), Ok(0x50));
    assert_eq!(g.dist_read(0x0204, 4), Ok(0));
    assert_eq!(g.redist_read(0x2_0014, 4), Ok(0b110));
    // Bring it up again and the timer PPI still goes out as HW.
    g.dist_write(0x0000, 4, 0b11).unwrap();
    g.redist_write(sgi_base(1) + 0x0100, 4, 1 << 27).unwrap();
    g.set_ppi_pending(1, 27);
    let mut lrs = [0u64; 4];
    g.flush(1, &mut lrs);
    assert_eq!(lrs[0] >> 61 & 1, 1);
}
