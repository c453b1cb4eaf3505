//! The GICv2 personality's distributor, values from IHI 0048B.

use crate::{FlushResult, Kick, ListRegister, LrState, Vgic, VgicError, IIDR};

/// A GICv2 vGIC with `vcpus` vCPUs and 64 SPIs set up as Linux's GICv2
/// driver does: everything in Group 0 (it never writes IGROUPR) with
/// EnableGrp0 on, priority 0xA0, SPIs targeting the boot CPU, and the given
/// INTIDs enabled (private ones on every vCPU, each through its own bank).
fn linux_like_v2(vcpus: usize, enabled: &[u32]) -> Vgic {
    let mut g = Vgic::new_v2(vcpus, 64);
    g.dist_v2_write(0, 0x000, 4, 1).unwrap();
    for v in 0..vcpus {
        for i in 0..8 {
            g.dist_v2_write(v, 0x400 + 4 * i, 4, 0xA0A0_A0A0).unwrap();
        }
    }
    for i in 8..24 {
        g.dist_v2_write(0, 0x400 + 4 * i, 4, 0xA0A0_A0A0).unwrap();
        g.dist_v2_write(0, 0x800 + 4 * i, 4, 0x0101_0101).unwrap();
    }
    for &intid in enabled {
        let word = 0x100 + 4 * u64::from(intid / 32);
        let bit = 1u64 << (intid % 32);
        let who = if intid < 32 { vcpus } else { 1 };
        for v in 0..who {
            g.dist_v2_write(v, word, 4, bit).unwrap();
        }
    }
    g
}

/// GICD_SGIR value: SGI `intid`, TargetListFilter `filter`, CPUTargetList
/// `list`.
fn sgir(filter: u64, list: u64, intid: u64) -> u64 {
    (filter << 24) | (list << 16) | intid
}

#[test]
fn identification_and_control_reset_values() {
    let mut g = Vgic::new_v2(4, 64);
    assert!(g.is_v2());
    assert_eq!(g.dist_v2_read(0, 0x000, 4), Ok(0)); // CTLR: both groups off
                                                    // TYPER: CPUNumber 3 << 5, ITLinesNumber 2, SecurityExtn 0, LSPI 0.
    assert_eq!(g.dist_v2_read(0, 0x004, 4), Ok((3 << 5) | 2));
    assert_eq!(g.dist_v2_read(0, 0x008, 4), Ok(u64::from(IIDR)));
    assert_eq!(g.dist_v2_read(0, 0xFE8, 4), Ok(0x20)); // PIDR2.ArchRev = 2
    let cidr: Vec<u64> = (0..4)
        .map(|i| g.dist_v2_read(0, 0xFF0 + 4 * i, 4).unwrap())
        .collect();
    assert_eq!(cidr, [0x0D, 0xF0, 0x05, 0xB1]);
    // The other ID registers, SGIR (write-only) and NSACR read as zero.
    for off in [0xFD0u64, 0xFE0, 0xFE4, 0xFEC, 0xF00, 0xE00] {
        assert_eq!(g.dist_v2_read(3, off, 4), Ok(0), "offset {off:#x}");
    }
}

#[test]
fn typer_tracks_vcpus_and_spis() {
    assert_eq!(Vgic::new_v2(1, 960).dist_v2_read(0, 0x004, 4), Ok(30));
    assert_eq!(Vgic::new_v2(8, 0).dist_v2_read(7, 0x004, 4), Ok(7 << 5));
}

#[test]
fn identification_registers_are_read_only() {
    let mut g = Vgic::new_v2(2, 32);
    for off in [0x004u64, 0x008, 0xFE8, 0xFF0, 0xFF4, 0xFF8, 0xFFC] {
        let before = g.dist_v2_read(0, off, 4).unwrap();
        assert_eq!(g.dist_v2_write(1, off, 4, 0xFFFF_FFFF), Ok(Kick::NONE));
        assert_eq!(g.dist_v2_read(0, off, 4), Ok(before), "offset {off:#x}");
    }
}

#[test]
fn ctlr_holds_the_two_group_enables() {
    let mut g = Vgic::new_v2(2, 32);
    assert_eq!(g.dist_v2_write(0, 0x000, 4, 0b01), Ok(Kick::first(2)));
    assert_eq!(g.dist_v2_read(1, 0x000, 4), Ok(0b01));
    // Other bits are ignored; no change, no kick.
    assert_eq!(g.dist_v2_write(1, 0x000, 4, 0xFFFF_FFFD), Ok(Kick::NONE));
    assert_eq!(g.dist_v2_read(0, 0x000, 4), Ok(0b01));
    assert_eq!(g.dist_v2_write(0, 0x000, 4, 0b11), Ok(Kick::first(2)));
    assert_eq!(g.dist_v2_read(0, 0x000, 4), Ok(0b11));
    assert_eq!(g.dist_v2_write(0, 0x000, 4, 0xFF), Ok(Kick::NONE));
}

#[test]
fn private_registers_are_banked_per_vcpu() {
    let mut g = Vgic::new_v2(2, 32);
    // vCPU 1 enables PPI 27, puts it in Group 1 at priority 0xA7.
    g.dist_v2_write(1, 0x100, 4, 1 << 27).unwrap();
    g.dist_v2_write(1, 0x080, 4, 1 << 27).unwrap();
    g.dist_v2_write(1, 0x41B, 1, 0xA7).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x100, 4), Ok(1 << 27));
    assert_eq!(g.dist_v2_read(0, 0x100, 4), Ok(0));
    assert_eq!(g.dist_v2_read(1, 0x080, 4), Ok(1 << 27));
    assert_eq!(g.dist_v2_read(0, 0x080, 4), Ok(0));
    assert_eq!(g.dist_v2_read(1, 0x418, 4), Ok(0xA000_0000));
    assert_eq!(g.dist_v2_read(0, 0x418, 4), Ok(0));
    // vCPU 0 does the same for itself; vCPU 1 then disables its own.
    g.dist_v2_write(0, 0x100, 4, 1 << 27).unwrap();
    g.dist_v2_write(1, 0x180, 4, 1 << 27).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x100, 4), Ok(1 << 27));
    assert_eq!(g.dist_v2_read(1, 0x180, 4), Ok(0));
    // ICFGR0: SGIs edge, read-only; ICFGR1: PPIs programmable per vCPU.
    g.dist_v2_write(0, 0xC00, 4, 0).unwrap();
    assert_eq!(g.dist_v2_read(0, 0xC00, 4), Ok(0xAAAA_AAAA));
    g.dist_v2_write(0, 0xC04, 4, 0x0080_0000).unwrap(); // PPI 27 edge
    assert_eq!(g.dist_v2_read(0, 0xC04, 4), Ok(0x0080_0000));
    assert_eq!(g.dist_v2_read(1, 0xC04, 4), Ok(0));
}

#[test]
fn private_and_shared_writes_kick_whoever_can_take_them() {
    let mut g = linux_like_v2(2, &[]);
    assert_eq!(g.set_ppi_pending(1, 27), Kick::NONE); // disabled
                                                      // vCPU 1 enabling its own PPI 27 kicks vCPU 1 only.
    assert_eq!(g.dist_v2_write(1, 0x100, 4, 1 << 27), Ok(Kick::vcpu(1)));
    assert!(g.pending_irq(1, 0xFF) && !g.pending_irq(0, 0xFF));
    // An SPI targeting CPU 0 (as Linux sets them up).
    g.pulse_spi(40);
    assert_eq!(g.dist_v2_write(1, 0x104, 4, 1 << 8), Ok(Kick::vcpu(0)));
    assert!(g.pending_irq(0, 0xFF));
}

#[test]
fn shared_registers_are_the_same_for_every_vcpu() {
    let mut g = Vgic::new_v2(2, 64);
    g.dist_v2_write(0, 0x104, 4, 0b1011).unwrap();
    g.dist_v2_write(1, 0x184, 4, 0b0010).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x104, 4), Ok(0b1001));
    assert_eq!(g.dist_v2_read(0, 0x104, 4), Ok(0b1001));
    g.dist_v2_write(1, 0x0C0C, 4, 0x2).unwrap(); // INTID 48 edge
    assert_eq!(g.dist_v2_read(0, 0x0C0C, 4), Ok(2));
    // The first SPI's ICFGR field is programmable (only SGIs are fixed).
    g.dist_v2_write(0, 0x0C08, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x0C08, 4), Ok(0xAAAA_AAAA));
    // INTIDs 96.. do not exist with 64 SPIs.
    g.dist_v2_write(0, 0x10C, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x10C, 4), Ok(0));
    g.dist_v2_write(0, 0x860, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x860, 4), Ok(0));
}

#[test]
fn reserved_offsets_are_raz_wi_including_the_v3_igrpmodr() {
    let mut g = Vgic::new_v2(2, 32);
    for off in [
        0x00Cu64,
        0x040,
        0xD00,
        0xD04,
        0xE00,
        0xF04,
        0xF30,
        0xFD0,
        0xFFC - 0x10,
    ] {
        assert_eq!(g.dist_v2_write(0, off, 4, 0xFFFF_FFFF), Ok(Kick::NONE));
        assert_eq!(g.dist_v2_read(0, off, 4), Ok(0), "offset {off:#x}");
    }
    // Reserved locations take any aligned access.
    assert_eq!(g.dist_v2_read(0, 0xD01, 1), Ok(0));
    assert_eq!(g.dist_v2_read(0, 0xD08, 8), Ok(0));
}

#[test]
fn itargetsr_private_bytes_read_the_accessors_bit() {
    let mut g = Vgic::new_v2(4, 32);
    assert_eq!(g.dist_v2_read(0, 0x800, 4), Ok(0x0101_0101));
    assert_eq!(g.dist_v2_read(2, 0x800, 4), Ok(0x0404_0404));
    assert_eq!(g.dist_v2_read(3, 0x81F, 1), Ok(0x08));
    // Read-only.
    assert_eq!(g.dist_v2_write(2, 0x81C, 4, 0), Ok(Kick::NONE));
    assert_eq!(g.dist_v2_write(2, 0x81D, 1, 0xFF), Ok(Kick::NONE));
    assert_eq!(g.dist_v2_read(2, 0x81C, 4), Ok(0x0404_0404));
}

#[test]
fn itargetsr_spi_bytes_read_back_existing_cpus() {
    let mut g = Vgic::new_v2(3, 64);
    // Reset: no target.
    assert_eq!(g.dist_v2_read(0, 0x820, 4), Ok(0));
    g.dist_v2_write(0, 0x821, 1, 0x02).unwrap(); // INTID 33
    assert_eq!(g.dist_v2_read(1, 0x820, 4), Ok(0x0000_0200));
    // CPU interfaces 3..7 do not exist: their bits are not kept.
    g.dist_v2_write(1, 0x824, 4, 0xFF08_0403).unwrap(); // INTIDs 36..39
    assert_eq!(g.dist_v2_read(2, 0x824, 4), Ok(0x0700_0403));
    assert_eq!(g.dist_v2_read(2, 0x827, 1), Ok(0x07));
    assert_eq!(g.dist_v2_read(2, 0x826, 1), Ok(0));
}

#[test]
fn spi_route_is_what_itargetsr_says() {
    let mut g = Vgic::new_v2(3, 64);
    assert_eq!(g.spi_route(40), Kick::NONE); // reset: no target
    g.dist_v2_write(0, 0x828, 1, 0b110).unwrap(); // INTID 40
    assert_eq!(g.spi_route(40), Kick::vcpu(1) | Kick::vcpu(2));
}

#[test]
fn itargetsr_reroutes_spis() {
    let mut g = Vgic::new_v2(2, 64);
    g.dist_v2_write(0, 0x000, 4, 1).unwrap();
    g.dist_v2_write(0, 0x104, 4, 1 << 8).unwrap(); // enable INTID 40
                                                   // Targets reset to none: a pending SPI goes nowhere.
    assert_eq!(g.pulse_spi(40), Kick::NONE);
    assert!(!g.pending_irq(0, 0xFF) && !g.pending_irq(1, 0xFF));
    // To CPU 1: it is kicked and gets it.
    assert_eq!(g.dist_v2_write(0, 0x828, 1, 0x02), Ok(Kick::vcpu(1)));
    assert!(!g.pending_irq(0, 0xFF) && g.pending_irq(1, 0xFF));
    let mut lrs = [0u64; 4];
    assert_eq!(g.flush(0, &mut lrs).used, 0);
    assert_eq!(g.flush(1, &mut lrs).used, 1);
    assert_eq!(ListRegister(lrs[0]).vintid(), 40);
    // Moved to CPU 0 while in vCPU 1's LR: vCPU 1 holds it (kicked), and
    // when it gives it back still pending, vCPU 0 is kicked to take it.
    assert_eq!(g.dist_v2_write(1, 0x828, 4, 0x01), Ok(Kick::vcpu(1)));
    assert_eq!(g.sync(1, &lrs[..1]), Kick::vcpu(0));
    assert!(g.pending_irq(0, 0xFF) && !g.pending_irq(1, 0xFF));
    // An empty mask delivers nowhere.
    assert_eq!(g.dist_v2_write(0, 0x828, 1, 0), Ok(Kick::vcpu(0)));
    assert!(!g.pending_irq(0, 0xFF) && !g.pending_irq(1, 0xFF));
    assert_eq!(g.flush(0, &mut lrs).used, 0);
    assert_eq!(g.flush(1, &mut lrs).used, 0);
}

#[test]
fn itargetsr_with_several_cpus_offers_the_spi_to_each() {
    let mut g = linux_like_v2(3, &[40]);
    g.pulse_spi(40);
    assert_eq!(
        g.dist_v2_write(0, 0x828, 1, 0b110),
        Ok(Kick::vcpu(0) | Kick::vcpu(1) | Kick::vcpu(2))
    );
    assert!(!g.pending_irq(0, 0xFF));
    assert!(g.pending_irq(1, 0xFF) && g.pending_irq(2, 0xFF));
    // Whoever enters first takes it; then the other no longer sees it.
    let mut lrs = [0u64; 4];
    assert_eq!(g.flush(2, &mut lrs).used, 1);
    assert_eq!(ListRegister(lrs[0]).vintid(), 40);
    assert!(!g.pending_irq(1, 0xFF));
    assert_eq!(g.flush(1, &mut [0u64; 4]).used, 0);
}

#[test]
fn uniprocessor_spis_go_to_the_one_cpu_whatever_is_written() {
    let mut g = Vgic::new_v2(1, 32);
    g.dist_v2_write(0, 0x000, 4, 1).unwrap();
    g.dist_v2_write(0, 0x104, 4, 1).unwrap(); // INTID 32
    assert_eq!(g.dist_v2_read(0, 0x820, 4), Ok(0x0101_0101));
    g.dist_v2_write(0, 0x820, 4, 0).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x820, 4), Ok(0x0101_0101));
    g.dist_v2_write(0, 0x820, 1, 0xFE).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x820, 1), Ok(0x01));
    assert_eq!(g.pulse_spi(32), Kick::vcpu(0));
    assert!(g.pending_irq(0, 0xFF));
}

#[test]
fn sgir_each_filter() {
    let mut g = linux_like_v2(4, &[3]);
    // Filter 0: CPUTargetList; CPU interfaces 5 and 7 do not exist.
    assert_eq!(
        g.dist_v2_write(0, 0xF00, 4, sgir(0, 0b1010_0110, 3)),
        Ok(Kick::vcpu(1) | Kick::vcpu(2))
    );
    let pending = |g: &mut Vgic| -> Vec<u64> {
        (0..4)
            .map(|v| g.dist_v2_read(v, 0x200, 4).unwrap())
            .collect()
    };
    assert_eq!(pending(&mut g), [0, 1 << 3, 1 << 3, 0]);
    // Filter 1: everyone but the sender (vCPU 2).
    let mut g = linux_like_v2(4, &[3]);
    assert_eq!(
        g.dist_v2_write(2, 0xF00, 4, sgir(1, 0xFF, 3)),
        Ok(Kick::vcpu(0) | Kick::vcpu(1) | Kick::vcpu(3))
    );
    assert_eq!(pending(&mut g), [1 << 3, 1 << 3, 0, 1 << 3]);
    // Filter 2: the sender only, whatever the list says.
    let mut g = linux_like_v2(4, &[3]);
    assert_eq!(
        g.dist_v2_write(3, 0xF00, 4, sgir(2, 0x01, 3)),
        Ok(Kick::vcpu(3))
    );
    assert_eq!(pending(&mut g), [0, 0, 0, 1 << 3]);
    // Filter 3 is reserved: nothing happens.
    let mut g = linux_like_v2(4, &[3]);
    assert_eq!(
        g.dist_v2_write(0, 0xF00, 4, sgir(3, 0xFF, 3)),
        Ok(Kick::NONE)
    );
    assert_eq!(pending(&mut g), [0; 4]);
    // Only SGIINTID [3:0] counts; SGIR reads as zero.
    assert_eq!(
        g.dist_v2_write(0, 0xF00, 4, sgir(0, 0b10, 0x3F3)),
        Ok(Kick::vcpu(1))
    );
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(1 << 3));
    assert_eq!(g.dist_v2_read(0, 0xF00, 4), Ok(0));
}

#[test]
fn sgir_to_a_disabled_sgi_pends_without_a_kick_and_flushes_as_group_0() {
    let mut g = linux_like_v2(2, &[]);
    assert_eq!(
        g.dist_v2_write(0, 0xF00, 4, sgir(0, 0b10, 5)),
        Ok(Kick::NONE)
    );
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(1 << 5));
    assert_eq!(g.dist_v2_write(1, 0x100, 4, 1 << 5), Ok(Kick::vcpu(1)));
    let mut lrs = [0u64; 4];
    assert_eq!(
        g.flush(1, &mut lrs),
        FlushResult {
            used: 1,
            underflow: false
        }
    );
    // GICH_LR: Group 0, pending (01), priority 0xA0 >> 3, CPUID 0, SGI 5.
    assert_eq!(ListRegister(lrs[0]).to_gich_lr(), 0x1A00_0005);
    // The guest takes it; read back through GICH_LR, it is active.
    let back = ListRegister::from_gich_lr(0x2A00_0005);
    assert_eq!(back.state(), LrState::Active);
    g.sync(1, &[back.0]);
    assert_eq!(g.dist_v2_read(1, 0x300, 4), Ok(1 << 5));
}

#[test]
fn spendsgir_and_cpendsgir_set_and_clear_the_accessors_sgis() {
    let mut g = Vgic::new_v2(2, 32);
    // Source CPU 7 for SGI 2 on vCPU 1 (sources are not kept).
    assert_eq!(g.dist_v2_write(1, 0xF22, 1, 0x80), Ok(Kick::NONE));
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(1 << 2));
    assert_eq!(g.dist_v2_read(0, 0x200, 4), Ok(0));
    assert_eq!(g.dist_v2_read(1, 0xF20, 4), Ok(0x0001_0000));
    assert_eq!(g.dist_v2_read(1, 0xF10, 4), Ok(0x0001_0000));
    assert_eq!(g.dist_v2_read(1, 0xF22, 1), Ok(0x01));
    assert_eq!(g.dist_v2_read(0, 0xF20, 4), Ok(0));
    // A word sets the SGIs of its nonzero bytes: 4 and 7.
    g.dist_v2_write(1, 0xF24, 4, 0x0300_0001).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(0b1001_0100));
    assert_eq!(g.dist_v2_read(1, 0xF24, 4), Ok(0x0100_0001));
    // Clearing: a zero byte does nothing, a nonzero one clears.
    g.dist_v2_write(1, 0xF14, 4, 0x0000_0100).unwrap(); // SGI 5: not pending
    g.dist_v2_write(1, 0xF17, 1, 0).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(0b1001_0100));
    g.dist_v2_write(1, 0xF17, 1, 0x02).unwrap();
    g.dist_v2_write(1, 0xF12, 1, 0xFF).unwrap();
    assert_eq!(g.dist_v2_read(1, 0x200, 4), Ok(0b0001_0000));
    // Last word: SGIs 12..15.
    g.dist_v2_write(0, 0xF2C, 4, 0x0100_0000).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x200, 4), Ok(1 << 15));
}

#[test]
fn sgi_bits_of_ispendr0_and_icpendr0_ignore_writes() {
    let mut g = Vgic::new_v2(1, 32);
    g.dist_v2_write(0, 0x200, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x200, 4), Ok(0xFFFF_0000));
    g.dist_v2_write(0, 0xF20, 1, 1).unwrap(); // SGI 0
    g.dist_v2_write(0, 0x280, 4, 0xFFFF_FFFF).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x200, 4), Ok(1));
    assert_eq!(g.dist_v2_read(0, 0x280, 4), Ok(1));
    // Active state has no such restriction.
    g.dist_v2_write(0, 0x300, 4, 0b10).unwrap();
    assert_eq!(g.dist_v2_read(0, 0x300, 4), Ok(0b10));
}

#[test]
fn wrong_sizes_alignment_and_vcpus_are_errors() {
    let mut g = Vgic::new_v2(2, 32);
    let bad = |offset, size| Err(VgicError::BadSize { offset, size });
    assert_eq!(g.dist_v2_read(0, 0x000, 1), bad(0x000, 1));
    assert_eq!(g.dist_v2_read(0, 0x000, 8), bad(0x000, 8));
    assert_eq!(
        g.dist_v2_write(0, 0xF00, 2, 0),
        bad(0xF00, 2).map(|_: u64| Kick::NONE)
    );
    assert_eq!(g.dist_v2_read(0, 0x100, 1), bad(0x100, 1));
    assert_eq!(g.dist_v2_read(0, 0x802, 2), bad(0x802, 2));
    assert_eq!(g.dist_v2_read(0, 0x800, 8), bad(0x800, 8));
    assert_eq!(g.dist_v2_read(0, 0xF12, 2), bad(0xF12, 2));
    assert_eq!(g.dist_v2_read(0, 0xFE9, 1), bad(0xFE9, 1));
    assert_eq!(g.dist_v2_read(0, 0x400, 2), bad(0x400, 2));
    assert_eq!(g.dist_v2_read(0, 0x000, 3), bad(0x000, 3));
    assert_eq!(
        g.dist_v2_read(0, 0x802, 4),
        Err(VgicError::Misaligned {
            offset: 0x802,
            size: 4
        })
    );
    assert_eq!(
        g.dist_v2_read(0, 0x1000, 4),
        Err(VgicError::OutOfRange { offset: 0x1000 })
    );
    assert_eq!(
        g.dist_v2_read(0, u64::MAX - 1, 2),
        Err(VgicError::OutOfRange {
            offset: u64::MAX - 1
        })
    );
    assert_eq!(
        g.dist_v2_write(2, 0x000, 4, 1),
        Err(VgicError::NoSuchVcpu { vcpu: 2 })
    );
    assert_eq!(
        g.dist_v2_read(usize::MAX, 0x000, 4),
        Err(VgicError::NoSuchVcpu { vcpu: usize::MAX })
    );
    // Byte-accessible registers take bytes and words.
    assert_eq!(g.dist_v2_read(0, 0x423, 1), Ok(0));
    assert_eq!(g.dist_v2_read(0, 0x823, 1), Ok(0));
    assert_eq!(g.dist_v2_read(0, 0xF2F, 1), Ok(0));
}

#[test]
fn calls_for_the_other_version_are_refused() {
    let mut v3 = Vgic::new(2, 32);
    let v3_err = Err(VgicError::WrongVersion { version: 3 });
    assert_eq!(v3.dist_v2_read(0, 0x000, 4), v3_err);
    assert_eq!(
        v3.dist_v2_write(0, 0x000, 4, 3),
        v3_err.map(|_: u64| Kick::NONE)
    );
    assert!(!v3.is_v2());

    let mut v2 = Vgic::new_v2(2, 32);
    let v2_err = Err(VgicError::WrongVersion { version: 2 });
    assert_eq!(v2.dist_read(0x000, 4), v2_err);
    assert_eq!(v2.dist_write(0x000, 4, 3), v2_err.map(|_: u64| Kick::NONE));
    assert_eq!(v2.redist_read(0x1_0100, 4), v2_err);
    assert_eq!(
        v2.redist_write(0x1_0100, 4, 1),
        v2_err.map(|_: u64| Kick::NONE)
    );
    assert_eq!(v2.redist_size(), 0);
    // Nothing changed.
    assert_eq!(v2.dist_v2_read(0, 0x000, 4), Ok(0));
    assert_eq!(v2.dist_v2_read(0, 0x100, 4), Ok(0));
    assert_eq!(
        VgicError::WrongVersion { version: 2 }.to_string(),
        "access for the other GIC version on a GICv2 vGIC"
    );
}

#[test]
fn reset_keeps_v2_and_hardware_mappings() {
    let mut g = linux_like_v2(2, &[27, 40]);
    g.set_hw_mapping(1, 27, 27).unwrap();
    g.pulse_spi(40);
    g.dist_v2_write(0, 0x828, 1, 0x03).unwrap();
    g.reset();
    assert!(g.is_v2());
    assert_eq!(g.dist_v2_read(0, 0x004, 4), Ok((1 << 5) | 2));
    assert_eq!(g.dist_v2_read(0, 0x000, 4), Ok(0));
    assert_eq!(g.dist_v2_read(0, 0x828, 4), Ok(0));
    assert_eq!(g.dist_v2_read(1, 0x100, 4), Ok(0));
    assert_eq!(g.dist_v2_read(0, 0x204, 4), Ok(0));
    assert_eq!(
        g.dist_read(0x000, 4),
        Err(VgicError::WrongVersion { version: 2 })
    );
    // The timer mapping survived: an enabled, pending PPI 27 goes out HW.
    g.dist_v2_write(1, 0x000, 4, 1).unwrap();
    g.dist_v2_write(1, 0x100, 4, 1 << 27).unwrap();
    g.set_ppi_pending(1, 27);
    let mut lrs = [0u64; 1];
    assert_eq!(g.flush(1, &mut lrs).used, 1);
    // HW, Group 0, pending, priority 0, PhysicalID 27, VirtualID 27.
    assert_eq!(ListRegister(lrs[0]).to_gich_lr(), 0x9000_6C1B);
}

#[test]
fn shapes_and_hw_mappings_a_gicv2_cannot_have_are_refused() {
    assert_eq!(
        Vgic::try_new_v2(9, 32).unwrap_err(),
        VgicError::BadConfig { vcpus: 9, spis: 32 }
    );
    assert!(Vgic::try_new_v2(0, 32).is_err());
    assert!(Vgic::try_new_v2(2, 40).is_err());
    assert!(Vgic::try_new_v2(2, 992).is_err());
    assert!(Vgic::try_new_v2(8, 0).is_ok());
    assert!(Vgic::try_new_v2(1, 960).is_ok());
    // GICH_LR.PhysicalID has 10 bits, and 1020..1023 are special.
    let mut g = Vgic::new_v2(1, 32);
    assert_eq!(
        g.set_hw_mapping(0, 27, 1020),
        Err(VgicError::BadIntid { intid: 1020 })
    );
    assert_eq!(g.set_hw_mapping(0, 27, 1019), Ok(()));
    // The GICv3 personality keeps its 13-bit pINTIDs.
    assert_eq!(Vgic::new(1, 32).set_hw_mapping(0, 27, 8191), Ok(()));
}
