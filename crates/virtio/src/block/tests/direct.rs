//! Requests moved straight between the backend and the guest's buffers
//! (`BlockBackend::read_direct`, `write_direct`), where the backend and the
//! memory both allow it, and through the bounce buffer otherwise.

use super::*;

/// Where the fake memory says RAM is for DMA.
const DMA_BASE: u64 = 0x9_0000_0000;

fn dma(ipa: u64) -> u64 {
    DMA_BASE + (ipa - RAM_BASE)
}

/// A rig whose backend and memory both take direct transfers.
fn direct_rig() -> Rig {
    let mut r = Rig::new();
    r.t.device_mut().backend_mut().direct = Some(Vec::new());
    r.mem.dma_base = Some(DMA_BASE);
    r
}

fn direct_calls(r: &Rig) -> &[(u64, bool, Vec<DmaBuf>)] {
    r.disk().direct.as_deref().unwrap()
}

#[test]
fn a_read_goes_straight_into_every_data_buffer_in_order() {
    let mut r = direct_rig();
    let segments = [(DATA, 4096), (DATA + 0x3000, 512), (DATA + 0x1000, 1024)];
    let (status, len) = r.request(request::VIRTIO_BLK_T_IN, 8, &segments);
    assert_eq!((status, len), (request::VIRTIO_BLK_S_OK, 5632 + 1));
    let want: Vec<DmaBuf> = segments
        .iter()
        .map(|&(a, l)| DmaBuf {
            addr: dma(a),
            len: l,
        })
        .collect();
    assert_eq!(direct_calls(&r), &[(8, false, want)]);
    assert_eq!(r.disk().calls, 0, "nothing through the bounce buffer");
}

#[test]
fn a_write_hands_over_the_data_after_the_header() {
    let mut r = direct_rig();
    let (status, len) = r.request(request::VIRTIO_BLK_T_OUT, 3, &[(DATA, 1024)]);
    assert_eq!((status, len), (request::VIRTIO_BLK_S_OK, 1));
    let want = vec![DmaBuf {
        addr: dma(DATA),
        len: 1024,
    }];
    assert_eq!(direct_calls(&r), &[(3, true, want)]);
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn data_sharing_the_status_descriptor_leaves_the_status_byte_out() {
    let mut r = direct_rig();
    // One writable descriptor: 512 bytes of data, then the status byte.
    let mut hdr = [0u8; 16];
    hdr[..4].copy_from_slice(&request::VIRTIO_BLK_T_IN.to_le_bytes());
    r.mem.put(HDR, &hdr);
    r.q.add(&mut r.mem, &[(HDR, 16, false), (DATA, 513, true)]);
    let _ = r.notify();
    let want = vec![DmaBuf {
        addr: dma(DATA),
        len: 512,
    }];
    assert_eq!(direct_calls(&r), &[(0, false, want)]);
    assert_eq!(r.mem.slice(DATA + 512, 1), &[request::VIRTIO_BLK_S_OK]);
}

#[test]
fn without_dma_addresses_the_bounce_buffer_moves_the_data() {
    let mut r = Rig::new();
    r.t.device_mut().backend_mut().direct = Some(Vec::new());
    let pattern: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    r.t.device_mut().backend_mut().data[..1024].copy_from_slice(&pattern);
    let (status, _) = r.request(request::VIRTIO_BLK_T_IN, 0, &[(DATA, 1024)]);
    assert_eq!(status, request::VIRTIO_BLK_S_OK);
    assert!(direct_calls(&r).is_empty());
    assert_eq!(r.mem.slice(DATA, 1024), &pattern[..]);
}

#[test]
fn a_buffer_outside_guest_ram_is_ioerr_and_never_reaches_the_backend_directly() {
    let mut r = direct_rig();
    let outside = RAM_BASE + RAM_SIZE as u64;
    let (status, _) = r.request(request::VIRTIO_BLK_T_IN, 0, &[(DATA, 512), (outside, 512)]);
    assert_eq!(status, request::VIRTIO_BLK_S_IOERR);
    assert!(direct_calls(&r).is_empty());
}
