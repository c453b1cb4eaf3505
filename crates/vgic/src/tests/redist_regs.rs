use super::sgi_base;
use crate::{Kick, Vgic, VgicError, IIDR};

#[test]
fn rd_base_reset_values() {
    let mut g = Vgic::new(3, 32);
    for v in 0..3u64 {
        let rd = v * 0x2_0000;
        assert_eq!(g.redist_read(rd, 4), Ok(0)); // GICR_CTLR
        assert_eq!(g.redist_read(rd + 0x0004, 4), Ok(u64::from(IIDR)));
        // GICR_WAKER: ProcessorSleep and ChildrenAsleep set at reset.
        assert_eq!(g.redist_read(rd + 0x0014, 4), Ok(0b110));
        assert_eq!(g.redist_read(rd + 0xFFE8, 4), Ok(0x30));
    }
}

#[test]
fn typer_has_affinity_processor_number_and_last() {
    let mut g = Vgic::new(3, 32);
    assert_eq!(g.redist_read(0x0008, 8), Ok(0));
    assert_eq!(g.redist_read(0x2_0008, 8), Ok((1 << 32) | (1 << 8)));
    // The last one: Aff0 = 2, Processor_Number = 2, Last (bit 4).
    assert_eq!(
        g.redist_read(0x4_0008, 8),
        Ok((2 << 32) | (2 << 8) | (1 << 4))
    );
    assert_eq!(g.redist_read(0x4_000C, 4), Ok(2));
    assert_eq!(g.redist_read(0x4_0008, 4), Ok((2 << 8) | (1 << 4)));
    g.redist_write(0x4_0008, 8, 0).unwrap(); // RO
    assert_eq!(
        g.redist_read(0x4_0008, 8),
        Ok((2 << 32) | (2 << 8) | (1 << 4))
    );
}

#[test]
fn waker_children_asleep_mirrors_processor_sleep() {
    let mut g = Vgic::new(2, 32);
    let waker = 0x2_0014;
    g.redist_write(waker, 4, 0).unwrap();
    assert_eq!(g.redist_read(waker, 4), Ok(0));
    assert_eq!(g.redist_read(0x0014, 4), Ok(0b110)); // vCPU 0 untouched
                                                     // ChildrenAsleep is read-only: writing it alone does nothing.
    g.redist_write(waker, 4, 0b100).unwrap();
    assert_eq!(g.redist_read(waker, 4), Ok(0));
    g.redist_write(waker, 4, 0b010).unwrap();
    assert_eq!(g.redist_read(waker, 4), Ok(0b110));
}

#[test]
fn ctlr_and_lpi_registers_are_raz_wi() {
    let mut g = Vgic::new(1, 32);
    g.redist_write(0x0000, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.redist_read(0x0000, 4), Ok(0));
    for off in [0x0010u64, 0x0040, 0x0070, 0x0078, 0x00A0] {
        g.redist_write(off, 4, 0xFFFF_FFFF).unwrap();
        assert_eq!(g.redist_read(off, 4), Ok(0), "offset {off:#x}");
    }
}

#[test]
fn sgi_frame_reset_values() {
    let mut g = Vgic::new(2, 32);
    let s = sgi_base(1);
    for off in [
        0x0080u64, 0x0100, 0x0180, 0x0200, 0x0280, 0x0300, 0x0380, 0x0D00, 0x0E00,
    ] {
        assert_eq!(g.redist_read(s + off, 4), Ok(0), "offset {off:#x}");
    }
    for i in 0..8 {
        assert_eq!(g.redist_read(s + 0x0400 + 4 * i, 4), Ok(0));
    }
    // ICFGR0: SGIs are edge-triggered, read-only; ICFGR1: PPIs level.
    assert_eq!(g.redist_read(s + 0x0C00, 4), Ok(0xAAAA_AAAA));
    assert_eq!(g.redist_read(s + 0x0C04, 4), Ok(0));
}

#[test]
fn sgi_frame_registers_are_per_vcpu() {
    let mut g = Vgic::new(2, 32);
    g.redist_write(sgi_base(0) + 0x0100, 4, 1 << 27).unwrap();
    g.redist_write(sgi_base(0) + 0x0080, 4, 0xFFFF_FFFF)
        .unwrap();
    g.redist_write(sgi_base(0) + 0x041B, 1, 0xA7).unwrap(); // IPRIORITYR byte 27
    assert_eq!(g.redist_read(sgi_base(0) + 0x0100, 4), Ok(1 << 27));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0100, 4), Ok(0));
    assert_eq!(g.redist_read(sgi_base(0) + 0x0418, 4), Ok(0xA000_0000));
    assert_eq!(g.redist_read(sgi_base(1) + 0x0418, 4), Ok(0));
    g.redist_write(sgi_base(0) + 0x0180, 4, 1 << 27).unwrap();
    assert_eq!(g.redist_read(sgi_base(0) + 0x0100, 4), Ok(0));
}

#[test]
fn sgi_config_is_read_only_ppi_config_is_not() {
    let mut g = Vgic::new(1, 32);
    let s = sgi_base(0);
    g.redist_write(s + 0x0C00, 4, 0).unwrap();
    assert_eq!(g.redist_read(s + 0x0C00, 4), Ok(0xAAAA_AAAA));
    g.redist_write(s + 0x0C04, 4, 0x0080_0000).unwrap(); // PPI 27 edge
    assert_eq!(g.redist_read(s + 0x0C04, 4), Ok(0x0080_0000));
}

#[test]
fn pending_and_active_pairs_on_private_interrupts() {
    let mut g = Vgic::new(1, 32);
    let s = sgi_base(0);
    g.redist_write(s + 0x0200, 4, 0x0800_0002).unwrap();
    g.redist_write(s + 0x0280, 4, 0x0000_0002).unwrap();
    assert_eq!(g.redist_read(s + 0x0280, 4), Ok(0x0800_0000));
    g.redist_write(s + 0x0300, 4, 0x3).unwrap();
    g.redist_write(s + 0x0380, 4, 0x1).unwrap();
    assert_eq!(g.redist_read(s + 0x0300, 4), Ok(0x2));
}

#[test]
fn extended_ranges_and_igrpmodr0_are_raz_wi() {
    let mut g = Vgic::new(1, 32);
    let s = sgi_base(0);
    for off in [0x0084u64, 0x0104, 0x0420, 0x0C08, 0x0D00] {
        assert_eq!(g.redist_write(s + off, 4, 0xFFFF_FFFF), Ok(Kick::NONE));
        assert_eq!(g.redist_read(s + off, 4), Ok(0), "offset {off:#x}");
    }
}

#[test]
fn bad_frames_and_sizes_are_errors() {
    let mut g = Vgic::new(2, 32);
    assert_eq!(g.redist_size(), 0x4_0000);
    assert_eq!(
        g.redist_read(0x4_0000, 4),
        Err(VgicError::OutOfRange { offset: 0x4_0000 })
    );
    assert_eq!(
        g.redist_read(0x2_0000, 8),
        Err(VgicError::BadSize {
            offset: 0x2_0000,
            size: 8
        })
    );
    assert_eq!(
        g.redist_read(0x2_0014, 8),
        Err(VgicError::Misaligned {
            offset: 0x2_0014,
            size: 8
        })
    );
    assert_eq!(
        g.redist_read(0x2_0016, 2),
        Err(VgicError::BadSize {
            offset: 0x2_0016,
            size: 2
        })
    );
    assert_eq!(
        g.redist_read(0x2_0015, 4),
        Err(VgicError::Misaligned {
            offset: 0x2_0015,
            size: 4
        })
    );
    assert_eq!(
        g.redist_write(sgi_base(1) + 0x0100, 1, 1),
        Err(VgicError::BadSize {
            offset: sgi_base(1) + 0x0100,
            size: 1
        })
    );
}
