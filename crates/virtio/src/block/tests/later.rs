//! Requests the storage answers later (`Request::transfer`, `finish`,
//! `refuse`): Aerie's host virtio-blk takes a VM's request with the guest's
//! own buffers and returns it when its interrupt says so, possibly after
//! others, while the VM runs on. The device keeps what the storage had no
//! room for (`BlockDevice::put_back`).

use super::*;

const DMA_BASE: u64 = 0x9_0000_0000;

fn dma(ipa: u64) -> u64 {
    DMA_BASE + (ipa - RAM_BASE)
}

/// A rig whose memory gives DMA addresses; its disk is never called.
fn later_rig() -> Rig {
    let mut r = Rig::new();
    r.mem.dma_base = Some(DMA_BASE);
    r
}

/// Linux's framing of a request with one data segment at `data` (header
/// at `hdr`, status byte at `status`): posted, not yet notified.
fn post(r: &mut Rig, kind: u32, sector: u64, data: (u64, u32), hdr: u64, status: u64) -> u16 {
    let mut header = [0u8; 16];
    header[..4].copy_from_slice(&kind.to_le_bytes());
    header[8..].copy_from_slice(&sector.to_le_bytes());
    r.mem.put(hdr, &header);
    r.mem.put(status, &[0xff]);
    let mut bufs = vec![(hdr, 16, false)];
    if kind != request::VIRTIO_BLK_T_FLUSH {
        bufs.push((data.0, data.1, kind != request::VIRTIO_BLK_T_OUT));
    }
    bufs.push((status, 1, true));
    r.q.add(&mut r.mem, &bufs)
}

/// QueueNotify with nothing run: the requests the device took.
fn take(r: &mut Rig) -> Vec<Request> {
    let n = r.q.notify(&mut r.t, &mut r.mem);
    assert_eq!(n.fault, None);
    r.t.device_mut().take_requests()
}

#[test]
fn a_read_becomes_a_transfer_into_the_guest_buffers() {
    let mut r = later_rig();
    post(
        &mut r,
        request::VIRTIO_BLK_T_IN,
        9,
        (DATA, 2048),
        HDR,
        STATUS,
    );
    let taken = take(&mut r);
    assert_eq!(taken.len(), 1);
    let want = Transfer::Read {
        sector: 9,
        bufs: vec![DmaBuf {
            addr: dma(DATA),
            len: 2048,
        }],
    };
    assert_eq!(taken[0].transfer(&r.mem), Some(want));
    assert_eq!(taken[0].op().sector(), 9);
    assert_eq!(
        r.mem.slice(STATUS, 1),
        &[0xff],
        "not answered before it is over"
    );
    assert_eq!(r.disk().calls, 0);
}

#[test]
fn a_write_transfer_starts_after_the_header_and_a_flush_has_no_data() {
    let mut r = later_rig();
    post(
        &mut r,
        request::VIRTIO_BLK_T_OUT,
        4,
        (DATA, 512),
        HDR,
        STATUS,
    );
    let taken = take(&mut r);
    let want = Transfer::Write {
        sector: 4,
        bufs: vec![DmaBuf {
            addr: dma(DATA),
            len: 512,
        }],
    };
    assert_eq!(taken[0].transfer(&r.mem), Some(want));
    let status2 = STATUS + 0x10;
    post(
        &mut r,
        request::VIRTIO_BLK_T_FLUSH,
        0,
        (0, 0),
        HDR + 0x100,
        status2,
    );
    let taken = take(&mut r);
    assert_eq!(taken[0].transfer(&r.mem), Some(Transfer::Flush));
    assert_eq!(taken[0].op().sector(), 0, "a flush names no sector");
}

#[test]
fn finished_out_of_order_each_is_answered_with_its_own_length_and_status() {
    let mut r = later_rig();
    let status2 = STATUS + 0x10;
    let first = post(
        &mut r,
        request::VIRTIO_BLK_T_IN,
        0,
        (DATA, 4096),
        HDR,
        STATUS,
    );
    let second = post(
        &mut r,
        request::VIRTIO_BLK_T_OUT,
        8,
        (DATA + 0x2000, 512),
        HDR + 0x100,
        status2,
    );
    let generation = r.t.generation();
    let taken = take(&mut r);
    assert_eq!(taken.len(), 2);
    let failure = IoError {
        sector: 8,
        reason: "the host disk failed the request",
    };
    // The host disk returns the write first, failed; then the read.
    let w = taken[1].finish(&mut r.mem, Err(failure));
    assert_eq!((w.head, w.used, w.error), (second, Ok(1), Some(failure)));
    let rd = taken[0].finish(&mut r.mem, Ok(()));
    assert_eq!((rd.head, rd.used, rd.error), (first, Ok(4097), None));
    assert_eq!(r.mem.slice(STATUS, 1), &[request::VIRTIO_BLK_S_OK]);
    assert_eq!(r.mem.slice(status2, 1), &[request::VIRTIO_BLK_S_IOERR]);
    let before = r.q.used_idx(&r.mem);
    let used = [w, rd].map(|c| c.used.map(|len| (c.head, len)));
    let n = r.t.complete(0, generation, used, &mut r.mem);
    assert!(n.raise_irq);
    assert_eq!(r.q.used_idx(&r.mem), before.wrapping_add(2));
    assert_eq!(r.q.used_elem(&r.mem, before), (u32::from(second), 1));
    assert_eq!(
        r.q.used_elem(&r.mem, before.wrapping_add(1)),
        (u32::from(first), 4097)
    );
}

#[test]
fn a_buffer_outside_guest_ram_is_refused_without_the_storage() {
    let mut r = Rig::new(); // no DMA addresses at all
    post(
        &mut r,
        request::VIRTIO_BLK_T_IN,
        0,
        (DATA, 512),
        HDR,
        STATUS,
    );
    let taken = take(&mut r);
    assert_eq!(taken[0].transfer(&r.mem), None);
    let c = taken[0].refuse(&mut r.mem);
    assert_eq!((c.used, c.error), (Ok(1), None));
    assert_eq!(r.mem.slice(STATUS, 1), &[request::VIRTIO_BLK_S_IOERR]);
}

#[test]
fn requests_put_back_go_first_again_in_their_order() {
    let mut r = later_rig();
    for i in 0..3u64 {
        post(
            &mut r,
            request::VIRTIO_BLK_T_IN,
            i,
            (DATA + i * 0x1000, 512),
            HDR + i * 0x100,
            STATUS + i * 0x10,
        );
    }
    let n = r.q.notify(&mut r.t, &mut r.mem);
    assert_eq!(n.fault, None);
    let device = r.t.device_mut();
    let sent = device.take_request().expect("the first request");
    assert_eq!(sent.op().sector(), 0);
    // The storage had room for the first only; meanwhile another came.
    let unsent = device.take_request().expect("the second request");
    post(
        &mut r,
        request::VIRTIO_BLK_T_IN,
        7,
        (DATA + 0x8000, 512),
        HDR + 0x400,
        STATUS + 0x40,
    );
    let _ = r.q.notify(&mut r.t, &mut r.mem);
    r.t.device_mut().put_back(unsent);
    let order: Vec<u16> =
        r.t.device_mut()
            .take_requests()
            .iter()
            .map(|q| match q.op() {
                Op::Read { sector, .. } => sector as u16,
                _ => u16::MAX,
            })
            .collect();
    assert_eq!(order, [1, 2, 7], "the one put back first, then the rest");
}
