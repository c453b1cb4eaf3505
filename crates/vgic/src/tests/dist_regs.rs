use crate::{Kick, Vgic, VgicError, IIDR};

#[test]
fn identification_and_control_reset_values() {
    let mut g = Vgic::new(4, 64);
    // GICD_CTLR: ARE (bit 4) and DS (bit 6) RAO, both group enables off.
    assert_eq!(g.dist_read(0x0000, 4), Ok(0x50));
    // GICD_TYPER: IDbits 9 << 19, CPUNumber 3 << 5, ITLinesNumber 2.
    assert_eq!(g.dist_read(0x0004, 4), Ok((9 << 19) | (3 << 5) | 2));
    assert_eq!(g.dist_read(0x0008, 4), Ok(u64::from(IIDR)));
    assert_eq!(g.dist_read(0x000C, 4), Ok(0)); // TYPER2
    assert_eq!(g.dist_read(0xFFE8, 4), Ok(0x30)); // PIDR2.ArchRev = 3
}

#[test]
fn typer_tracks_the_configured_spis() {
    let mut g = Vgic::new(1, 960);
    assert_eq!(g.dist_read(0x0004, 4), Ok((9 << 19) | 30));
}

#[test]
fn ctlr_enables_are_rw_are_and_ds_are_rao_wi() {
    let mut g = Vgic::new(2, 32);
    assert_eq!(g.dist_write(0x0000, 4, 0x0000_0000), Ok(Kick::NONE));
    assert_eq!(g.dist_read(0x0000, 4), Ok(0x50));
    // Linux writes ARE_NS | EnableGrp1A | EnableGrp1 (bits 4, 1, 0); RWP
    // (bit 31) is not writable and reads 0.
    assert_eq!(g.dist_write(0x0000, 4, 0x8000_0013), Ok(Kick::first(2)));
    assert_eq!(g.dist_read(0x0000, 4), Ok(0x53));
    assert_eq!(g.dist_write(0x0000, 4, 0x13), Ok(Kick::NONE)); // no change
}

#[test]
fn identification_registers_are_read_only() {
    let mut g = Vgic::new(2, 32);
    for off in [0x0004, 0x0008, 0x000C, 0xFFE8] {
        let before = g.dist_read(off, 4).unwrap();
        g.dist_write(off, 4, 0xFFFF_FFFF).unwrap();
        assert_eq!(g.dist_read(off, 4), Ok(before), "offset {off:#x}");
    }
}

#[test]
fn per_intid_registers_reset_to_zero_for_spis() {
    let mut g = Vgic::new(2, 64);
    for base in [
        0x0080u64, 0x0100, 0x0180, 0x0200, 0x0280, 0x0300, 0x0380, 0x0D00,
    ] {
        for w in 1..3 {
            assert_eq!(
                g.dist_read(base + 4 * w, 4),
                Ok(0),
                "offset {:#x}",
                base + 4 * w
            );
        }
    }
    assert_eq!(g.dist_read(0x0420, 4), Ok(0)); // IPRIORITYR8
    assert_eq!(g.dist_read(0x0C08, 4), Ok(0)); // ICFGR2: level
    assert_eq!(g.dist_read(0x6100, 8), Ok(0)); // IROUTER32
}

#[test]
fn private_range_and_beyond_spis_are_raz_wi() {
    let mut g = Vgic::new(2, 32);
    // ISENABLER0 / IPRIORITYR0 / ICFGR0/1 in the distributor under ARE.
    assert_eq!(g.dist_write(0x0100, 4, 0xFFFF_FFFF), Ok(Kick::NONE));
    assert_eq!(g.dist_read(0x0100, 4), Ok(0));
    g.dist_write(0x0400, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_read(0x0400, 4), Ok(0));
    assert_eq!(g.dist_read(0x0C00, 4), Ok(0));
    // INTIDs 64.. do not exist with 32 SPIs.
    g.dist_write(0x0108, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_read(0x0108, 4), Ok(0));
    g.dist_write(0x6200, 8, 1).unwrap(); // IROUTER64
    assert_eq!(g.dist_read(0x6200, 8), Ok(0));
    // IROUTER0..31 are reserved.
    assert_eq!(g.dist_read(0x6000, 8), Ok(0));
}

#[test]
fn reserved_and_legacy_registers_are_raz_wi() {
    let mut g = Vgic::new(2, 32);
    // STATUSR, SETSPI_NSR (no MBIS), ITARGETSR, NSACR, SGIR, SPENDSGIR.
    for off in [
        0x0010u64, 0x0040, 0x0820, 0x0E00, 0x0F00, 0x0F20, 0x2000, 0xFFD0,
    ] {
        assert_eq!(g.dist_write(off, 4, 0xFFFF_FFFF), Ok(Kick::NONE));
        assert_eq!(g.dist_read(off, 4), Ok(0), "offset {off:#x}");
    }
    assert_eq!(g.dist_read(0x0821, 1), Ok(0)); // byte ITARGETSR
}

#[test]
fn wrong_sizes_and_alignment_are_errors() {
    let mut g = Vgic::new(2, 32);
    assert_eq!(
        g.dist_read(0x0000, 1),
        Err(VgicError::BadSize { offset: 0, size: 1 })
    );
    assert_eq!(
        g.dist_read(0x0000, 8),
        Err(VgicError::BadSize { offset: 0, size: 8 })
    );
    assert_eq!(
        g.dist_write(0x0104, 2, 0),
        Err(VgicError::BadSize {
            offset: 0x104,
            size: 2
        })
    );
    assert_eq!(
        g.dist_read(0x0102, 4),
        Err(VgicError::Misaligned {
            offset: 0x102,
            size: 4
        })
    );
    assert_eq!(
        g.dist_read(0x6104, 8),
        Err(VgicError::Misaligned {
            offset: 0x6104,
            size: 8
        })
    );
    assert_eq!(
        g.dist_read(0x6100, 2),
        Err(VgicError::BadSize {
            offset: 0x6100,
            size: 2
        })
    );
    assert_eq!(
        g.dist_read(0x1_0000, 4),
        Err(VgicError::OutOfRange { offset: 0x1_0000 })
    );
    assert_eq!(
        g.dist_read(0x0000, 3),
        Err(VgicError::BadSize { offset: 0, size: 3 })
    );
}

#[test]
fn ipriorityr_bytes_and_words_keep_five_bits() {
    let mut g = Vgic::new(2, 32);
    g.dist_write(0x0421, 1, 0xFF).unwrap(); // INTID 33
    assert_eq!(g.dist_read(0x0420, 4), Ok(0x0000_F800));
    g.dist_write(0x0424, 4, 0x8F7F_1F07).unwrap(); // INTIDs 36..39
    assert_eq!(g.dist_read(0x0424, 4), Ok(0x8878_1800));
    assert_eq!(g.dist_read(0x0427, 1), Ok(0x88));
}

#[test]
fn icfgr_for_spis_is_programmable_bit_zero_res0() {
    let mut g = Vgic::new(2, 32);
    g.dist_write(0x0C08, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_read(0x0C08, 4), Ok(0xAAAA_AAAA));
    g.dist_write(0x0C0C, 4, 0x0000_0002).unwrap(); // INTID 48 edge
    assert_eq!(g.dist_read(0x0C0C, 4), Ok(2));
}

#[test]
fn irouter_is_64_bit_with_word_halves_and_res0_bits() {
    let mut g = Vgic::new(4, 32);
    let off = 0x6000 + 8 * 40; // IROUTER40
    g.dist_write(off, 8, 0xFFFF_FFFF_FFFF_FFFF).unwrap();
    // IRM, Aff2, Aff1, Aff0 stored; Aff3 RES0 (A3V = 0), the rest RES0.
    assert_eq!(g.dist_read(off, 8), Ok(0x8000_0000 | 0xFF_FFFF));
    g.dist_write(off, 4, 3).unwrap();
    assert_eq!(g.dist_read(off, 8), Ok(3));
    assert_eq!(g.dist_read(off + 4, 4), Ok(0));
    assert_eq!(g.dist_read(off, 4), Ok(3));
}

#[test]
fn irouter_retargets_spis() {
    let mut g = super::linux_like(&[40]);
    g.pulse_spi(40);
    assert!(g.pending_irq(0, 0xFF));
    // Route INTID 40 to vCPU 1: it moves and vCPU 1 is kicked.
    assert_eq!(
        g.dist_write(0x6000 + 8 * 40, 8, 1),
        Ok(Kick::vcpu(0) | Kick::vcpu(1))
    );
    assert!(!g.pending_irq(0, 0xFF));
    assert!(g.pending_irq(1, 0xFF));
    // To a PE that does not exist: nobody gets it.
    g.dist_write(0x6000 + 8 * 40, 8, 7).unwrap();
    assert!(!g.pending_irq(0, 0xFF) && !g.pending_irq(1, 0xFF));
    // 1 of N: anyone may take it.
    assert_eq!(
        g.dist_write(0x6000 + 8 * 40, 8, 1 << 31),
        Ok(Kick::first(2))
    );
    assert!(g.pending_irq(0, 0xFF) && g.pending_irq(1, 0xFF));
}

#[test]
fn spi_route_is_what_irouter_says() {
    let mut g = Vgic::new(4, 32);
    assert_eq!(g.spi_route(40), Kick::vcpu(0)); // reset: Aff0 = 0
    g.dist_write(0x6000 + 8 * 40, 8, 2).unwrap();
    assert_eq!(g.spi_route(40), Kick::vcpu(2));
    g.dist_write(0x6000 + 8 * 40, 8, 1 << 31).unwrap();
    assert_eq!(g.spi_route(40), Kick::first(4));
    // Not an SPI of this VM.
    assert_eq!(g.spi_route(27), Kick::NONE);
    assert_eq!(g.spi_route(64), Kick::NONE);
}

#[test]
fn enable_pending_active_pairs_on_spis() {
    let mut g = Vgic::new(2, 64);
    g.dist_write(0x0104, 4, 0b1011).unwrap();
    g.dist_write(0x0184, 4, 0b0010).unwrap();
    assert_eq!(g.dist_read(0x0104, 4), Ok(0b1001));
    assert_eq!(g.dist_read(0x0184, 4), Ok(0b1001));
    g.dist_write(0x0208, 4, 0x8000_0001).unwrap();
    g.dist_write(0x0288, 4, 0x0000_0001).unwrap();
    assert_eq!(g.dist_read(0x0208, 4), Ok(0x8000_0000));
    g.dist_write(0x0304, 4, 0xF).unwrap();
    g.dist_write(0x0384, 4, 0x5).unwrap();
    assert_eq!(g.dist_read(0x0304, 4), Ok(0xA));
    assert_eq!(g.dist_read(0x0384, 4), Ok(0xA));
}

#[test]
fn igroupr_is_rw_igrpmodr_raz_wi() {
    let mut g = Vgic::new(2, 32);
    g.dist_write(0x0084, 4, 0x1234_5678).unwrap();
    assert_eq!(g.dist_read(0x0084, 4), Ok(0x1234_5678));
    g.dist_write(0x0D04, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_read(0x0D04, 4), Ok(0));
}

#[test]
fn bad_shapes_are_refused() {
    assert!(Vgic::try_new(0, 32).is_err());
    assert!(Vgic::try_new(9, 32).is_err());
    assert_eq!(
        Vgic::try_new(2, 40).unwrap_err(),
        VgicError::BadConfig { vcpus: 2, spis: 40 }
    );
    assert!(Vgic::try_new(2, 992).is_err());
    assert!(Vgic::try_new(8, 0).is_ok());
}
