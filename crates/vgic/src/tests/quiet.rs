//! The registers `dist_access_is_quiet` and `redist_access_is_quiet` name:
//! what Aerie serves without syncing or flushing list registers must leave
//! every interrupt as it was.

use super::{linux_like, sgi_base};
use crate::{dist_access_is_quiet, redist_access_is_quiet, Kick, Vgic};

/// The RD_base registers a Linux vCPU touches around a power-down.
const RD_QUIET: [u64; 6] = [0x0000, 0x0004, 0x0008, 0x000C, 0x0014, 0xFFE8];
/// GICD_TYPER, IIDR, TYPER2, PIDR2 (GICD_CTLR only for reads).
const DIST_ID: [u64; 4] = [0x0004, 0x0008, 0x000C, 0xFFE8];

/// The list registers vCPU `v` would get now, from a copy.
fn would_flush(g: &Vgic, v: usize) -> [u64; 4] {
    let mut lrs = [0u64; 4];
    g.clone().flush(v, &mut lrs);
    lrs
}

#[test]
fn identification_and_waker_are_quiet_interrupt_registers_are_not() {
    for v in 0..3u64 {
        for off in RD_QUIET {
            assert!(redist_access_is_quiet(v * 0x2_0000 + off), "{v} {off:#x}");
        }
        // SGI_base: ISENABLER0, ISPENDR0, IPRIORITYR0, ICFGR1.
        for off in [0x0100u64, 0x0200, 0x0400, 0x0C04] {
            assert!(!redist_access_is_quiet(sgi_base(v) + off), "{v} {off:#x}");
        }
    }
    assert!(dist_access_is_quiet(0x0000, false));
    assert!(!dist_access_is_quiet(0x0000, true)); // the group enables
    for off in DIST_ID {
        assert!(dist_access_is_quiet(off, false) && dist_access_is_quiet(off, true));
    }
    // ISENABLER1, ISPENDR1, ISACTIVER1, IPRIORITYR32, IROUTER32.
    for off in [0x0104u64, 0x0204, 0x0304, 0x0420, 0x6100] {
        assert!(!dist_access_is_quiet(off, false), "{off:#x}");
    }
}

#[test]
fn quiet_accesses_leave_every_interrupt_as_it_was() {
    let mut g = linux_like(&[1, 27, 40, 41]);
    g.pulse_spi(40);
    g.pulse_spi(41);
    g.set_ppi_pending(1, 27);
    g.send_sgi(0, (1 << 24) | (1 << 16) | 1);
    let before = [would_flush(&g, 0), would_flush(&g, 1)];
    assert_ne!(before[0], [0; 4]);
    assert_ne!(before[1], [0; 4]);
    for v in 0..2u64 {
        for off in RD_QUIET {
            let at = v * 0x2_0000 + off;
            let size = if off == 0x0008 { 8 } else { 4 };
            for value in [0, u64::from(u32::MAX)] {
                assert_eq!(g.redist_write(at, size, value), Ok(Kick::NONE), "{at:#x}");
                g.redist_read(at, size).unwrap();
            }
        }
    }
    for off in DIST_ID {
        assert_eq!(g.dist_write(off, 4, u64::from(u32::MAX)), Ok(Kick::NONE));
        g.dist_read(off, 4).unwrap();
    }
    g.dist_read(0x0000, 4).unwrap();
    assert_eq!([would_flush(&g, 0), would_flush(&g, 1)], before);
}
