//! Behaviour tests through the public API, values from the GICv3 and
//! GICv2 specs.

mod dist_regs;
mod dist_v2_regs;
mod flush_sync;
mod inputs;
mod quiet;
mod redist_regs;
mod storm;

use crate::Vgic;

/// Offset of a vCPU's SGI_base frame in the redistributor region.
pub(crate) fn sgi_base(vcpu: u64) -> u64 {
    vcpu * 0x2_0000 + 0x1_0000
}

/// A 2-vCPU, 64-SPI vGIC with both groups enabled and the given INTIDs
/// enabled, in Group 1, at priority 0xA0, as Linux sets them up.
pub(crate) fn linux_like(enabled: &[u32]) -> Vgic {
    let mut g = Vgic::new(2, 64);
    g.dist_write(0x0000, 4, 0b11).unwrap();
    for v in 0..2u64 {
        g.redist_write(sgi_base(v) + 0x0080, 4, 0xFFFF_FFFF)
            .unwrap();
        for i in 0..8 {
            g.redist_write(sgi_base(v) + 0x0400 + 4 * i, 4, 0xA0A0_A0A0)
                .unwrap();
        }
    }
    for w in 1..3u64 {
        g.dist_write(0x0080 + 4 * w, 4, 0xFFFF_FFFF).unwrap();
    }
    for i in 32..96u64 {
        g.dist_write(0x0400 + i, 1, 0xA0).unwrap();
    }
    for &intid in enabled {
        let bit = 1u64 << (intid % 32);
        if intid < 32 {
            for v in 0..2 {
                g.redist_write(sgi_base(v) + 0x0100, 4, bit).unwrap();
            }
        } else {
            g.dist_write(0x0100 + 4 * u64::from(intid / 32), 4, bit)
                .unwrap();
        }
    }
    g
}
