//! A guest driver gone wrong: seeded pseudo-random descriptor tables, ring
//! indices, request headers and lengths thrown at the block device. Aerie
//! runs this device model in EL2 on the guest's behalf, so whatever the ring
//! holds it must not panic, must never hand the backend a sector range
//! outside the disk (`MemDisk` asserts that), and must recover after the
//! driver resets the device.

use super::*;
use crate::status::DEVICE_NEEDS_RESET;
use crate::testutil::storm::{self as ring, address};
use aerie_testrng::Rng;

/// A buffer length: a few sectors, an odd size, or anything.
fn length(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => 512 * (1 + rng.below(8) as u32),
        1 => rng.below(600) as u32,
        2 => 16,
        _ => rng.next_u64() as u32,
    }
}

/// Scribbles over part of the ring the way a broken driver might.
fn scribble(rng: &mut Rng, r: &mut Rig) {
    ring::scribble_descriptors(rng, &mut r.q, &mut r.mem, length);
    // A header the chain may point at: any type, any sector.
    let mut hdr = [0u8; 16];
    let kinds = [
        request::VIRTIO_BLK_T_IN,
        request::VIRTIO_BLK_T_OUT,
        request::VIRTIO_BLK_T_FLUSH,
        request::VIRTIO_BLK_T_GET_ID,
        rng.next_u64() as u32,
    ];
    hdr[..4].copy_from_slice(&kinds[rng.below(kinds.len() as u64) as usize].to_le_bytes());
    let sector = match rng.below(3) {
        0 => rng.below(SECTORS),
        1 => SECTORS - rng.below(4),
        _ => rng.next_u64(),
    };
    hdr[8..].copy_from_slice(&sector.to_le_bytes());
    r.mem.put(HDR, &hdr);
    ring::scribble_avail(rng, &mut r.q, &mut r.mem);
}

/// Reset the device and probe it again with zeroed rings, as Linux does on
/// NEEDS_RESET (its new vring memory is zeroed; stale ring contents would be
/// consumed as soon as DRIVER_OK is set).
fn reset_and_probe(r: &mut Rig) {
    let _ = wr(&mut r.t, &mut r.mem, regs::STATUS, 0);
    assert_eq!(rd(&mut r.t, regs::INTERRUPT_STATUS), 0, "reset clears it");
    let ring = r.q.desc;
    r.mem.put(ring, &[0; 0xc000]);
    r.q = bring_up(&mut r.t, &mut r.mem, &[128]).remove(0);
    assert_eq!(rd(&mut r.t, regs::STATUS) & DEVICE_NEEDS_RESET, 0);
}

/// A request shaped the way Linux frames one (header, data, status), with
/// the type, sector, segment addresses and lengths drawn at random: many
/// reach the backend, some out of range or misaligned.
fn plausible(rng: &mut Rng, r: &mut Rig) {
    let kinds = [
        request::VIRTIO_BLK_T_IN,
        request::VIRTIO_BLK_T_OUT,
        request::VIRTIO_BLK_T_FLUSH,
        request::VIRTIO_BLK_T_GET_ID,
    ];
    let kind = kinds[rng.below(kinds.len() as u64) as usize];
    let sector = match rng.below(3) {
        0 | 1 => rng.below(SECTORS),
        _ => SECTORS - rng.below(8),
    };
    let mut hdr = [0u8; 16];
    hdr[..4].copy_from_slice(&kind.to_le_bytes());
    hdr[8..].copy_from_slice(&sector.to_le_bytes());
    r.mem.put(HDR, &hdr);
    let device_writes = kind != request::VIRTIO_BLK_T_OUT;
    let mut bufs = vec![(HDR, 16, false)];
    for _ in 0..rng.below(4) {
        let len = if rng.chance(90) {
            512 * (1 + rng.below(8) as u32)
        } else {
            length(rng)
        };
        bufs.push((address(rng), len, device_writes ^ rng.chance(5)));
    }
    bufs.push((STATUS, 1, true));
    r.q.add(&mut r.mem, &bufs);
}

#[test]
fn a_storm_of_broken_rings_never_panics_and_recovers_after_reset() {
    for seed in [0x0b10_c001, 0x0b10_c002, 0x0b10_c003] {
        let mut rng = Rng::new(seed);
        let mut r = Rig::new();
        let (mut faults, mut resets) = (0u32, 0u32);
        for _ in 0..4000 {
            if rng.chance(70) {
                plausible(&mut rng, &mut r);
            } else {
                scribble(&mut rng, &mut r);
            }
            let n = r.notify();
            faults += u32::from(n.fault.is_some());
            if rd(&mut r.t, regs::STATUS) & DEVICE_NEEDS_RESET != 0 || rng.chance(1) {
                reset_and_probe(&mut r);
                resets += 1;
            }
        }
        assert!(faults > 0, "seed {seed:#x}: the storm never broke the ring");
        assert!(resets > 0);
        assert!(
            r.disk().calls > 100,
            "seed {seed:#x}: too few requests got through"
        );
        // A reset device serves a well-formed driver again.
        reset_and_probe(&mut r);
        r.mem.put(DATA, &[0x5a; 512]);
        let (st, _) = r.request(request::VIRTIO_BLK_T_OUT, 7, &[(DATA, 512)]);
        assert_eq!(st, request::VIRTIO_BLK_S_OK, "seed {seed:#x}");
        let (st, _) = r.request(request::VIRTIO_BLK_T_IN, 7, &[(DATA + 0x1000, 512)]);
        assert_eq!(st, request::VIRTIO_BLK_S_OK);
        assert_eq!(r.mem.slice(DATA + 0x1000, 512), &[0x5a; 512][..]);
    }
}
