extern crate std;
use super::*;
use alloc::vec;

const SRC_IP: [u8; 4] = [10, 0, 0, 1];
const DST_IP: [u8; 4] = [10, 0, 0, 2];

/// A TCP/IPv4 frame as Linux hands it over with TSO: the IPv4 checksum
/// done, the TCP checksum field holding the pseudo header's sum (length
/// left out, as for CHECKSUM_PARTIAL with GSO), `payload` behind the
/// headers. `vlan`: one 802.1Q tag.
pub(crate) fn tcp_frame(payload: &[u8], flags: u8, vlan: bool) -> Vec<u8> {
    let mut f = vec![0x52, 0x54, 0, 0xae, 0, 2, 0x52, 0x54, 0, 0xae, 0, 1];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let ip = f.len();
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
    put16(&mut f, ip + 2, total);
    f.extend_from_slice(&SRC_IP);
    f.extend_from_slice(&DST_IP);
    let ip_sum = fold(sum16(&f[ip..ip + 20], 0));
    put16(&mut f, ip + 10, ip_sum);
    let tcp = f.len();
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]); // ports 12345 -> 80
    f.extend_from_slice(&0xffff_f000u32.to_be_bytes()); // seq, wraps
    f.extend_from_slice(&1u32.to_be_bytes()); // ack
    f.extend_from_slice(&[0x50, flags, 0x10, 0x00, 0, 0, 0, 0]);
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&SRC_IP);
    pseudo[4..8].copy_from_slice(&DST_IP);
    pseudo[9] = 6;
    put16(&mut f, tcp + 16, !fold(sum16(&pseudo, 0)));
    f.extend_from_slice(payload);
    f
}

fn header(flags: u8, gso: u8, hdr_len: u16, mss: u16, start: u16, offset: u16) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = flags;
    h[1] = gso;
    h[2..4].copy_from_slice(&hdr_len.to_le_bytes());
    h[4..6].copy_from_slice(&mss.to_le_bytes());
    h[6..8].copy_from_slice(&start.to_le_bytes());
    h[8..10].copy_from_slice(&offset.to_le_bytes());
    h
}

const ALL: u64 = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4;

/// A received segment's checksums verify, as a receiving stack checks them.
fn assert_checksums_valid(seg: &[u8], ip: usize) {
    let tcp = ip + 20;
    assert_eq!(fold(sum16(&seg[ip..tcp], 0)), 0, "IPv4 header checksum");
    let mut pseudo = [0u8; 12];
    pseudo[..8].copy_from_slice(&seg[ip + 12..ip + 20]);
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&((seg.len() - tcp) as u16).to_be_bytes());
    assert_eq!(
        fold(sum16(&seg[tcp..], sum16(&pseudo, 0))),
        0,
        "TCP checksum"
    );
}

#[test]
fn a_tso_packet_becomes_checksummed_segments() {
    for vlan in [false, true] {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let frame = tcp_frame(&payload, TCP_FIN | TCP_PSH | TCP_CWR | 0x10, vlan);
        let ip = if vlan { 18 } else { 14 };
        let h = header(1, 1, (ip + 40) as u16, 1448, (ip + 20) as u16, 16);
        let offload = Offload::parse(&h, ALL, &frame).unwrap();
        assert_eq!(
            offload.needs(),
            VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4
        );
        let packet = Packet {
            frame: frame.clone(),
            offload,
        };
        let mut segs: Vec<Vec<u8>> = Vec::new();
        finish(&packet, |s| segs.push(s.to_vec()));
        assert_eq!(segs.len(), 3, "4000 bytes at 1448 per segment");
        let mut joined = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            let tcp = ip + 20;
            let len = s.len() - (tcp + 20);
            assert_eq!(len, [1448, 1448, 1104][i]);
            assert!(s.len() <= FRAME_MAX);
            assert_eq!(be16(s, ip + 2) as usize, s.len() - ip, "IPv4 total length");
            assert_eq!(be16(s, ip + 4), 0x1234 + i as u16, "identification");
            let seq = u32::from_be_bytes([s[tcp + 4], s[tcp + 5], s[tcp + 6], s[tcp + 7]]);
            assert_eq!(seq, 0xffff_f000u32.wrapping_add(1448 * i as u32));
            let flags = s[tcp + 13];
            assert_eq!(
                flags & (TCP_FIN | TCP_PSH) != 0,
                i == 2,
                "FIN/PSH on the last"
            );
            assert_eq!(flags & TCP_CWR != 0, i == 0, "CWR on the first");
            assert_eq!(flags & 0x10, 0x10, "ACK on all");
            assert_eq!(&s[..ip], &frame[..ip], "Ethernet header kept");
            assert_checksums_valid(s, ip);
            joined.extend_from_slice(&s[tcp + 20..]);
        }
        assert_eq!(joined, payload);
    }
}

#[test]
fn a_partial_checksum_is_filled_in() {
    let frame = tcp_frame(b"hello, offload", 0x18, false);
    let h = header(1, 0, 0, 0, 34, 16);
    let packet = Packet {
        offload: Offload::parse(&h, VIRTIO_NET_F_CSUM, &frame).unwrap(),
        frame,
    };
    assert_eq!(packet.offload.needs(), VIRTIO_NET_F_GUEST_CSUM);
    let mut out = Vec::new();
    finish(&packet, |f| out.push(f.to_vec()));
    assert_eq!(out.len(), 1);
    // The pseudo header's length was left out of the partial sum above, so
    // fill it in the way the stack would have for a non-GSO frame first.
    let mut expected = packet.frame.clone();
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&SRC_IP);
    pseudo[4..8].copy_from_slice(&DST_IP);
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&((expected.len() - 34) as u16).to_be_bytes());
    put16(&mut expected, 50, !fold(sum16(&pseudo, 0)));
    let packet = Packet {
        frame: expected,
        offload: packet.offload,
    };
    let mut out = Vec::new();
    finish(&packet, |f| out.push(f.to_vec()));
    assert_checksums_valid(&out[0], 14);
}

#[test]
fn whole_frames_pass_unchanged() {
    let frame = tcp_frame(b"plain", 0x18, false);
    let offload = Offload::parse(&[0; 12], 0, &frame).unwrap();
    assert_eq!(offload, Offload::default());
    assert_eq!(offload.needs(), 0);
    assert_eq!(offload.rx_header(1), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    let mut out = Vec::new();
    finish(&Packet::whole(frame.clone()), |f| out.push(f.to_vec()));
    assert_eq!(out, vec![frame]);
}

#[test]
fn the_receive_header_repeats_the_senders_fields() {
    let frame = tcp_frame(&[7; 3000], 0x18, false);
    let h = header(1, 1, 54, 1448, 34, 16);
    let offload = Offload::parse(&h, ALL, &frame).unwrap();
    let mut expected = h;
    expected[10] = 1; // num_buffers
    assert_eq!(offload.rx_header(1), expected);
    // Spread over 300 mergeable buffers: num_buffers is little-endian.
    expected[10..12].copy_from_slice(&[0x2c, 0x01]);
    assert_eq!(offload.rx_header(300), expected);
}

#[test]
fn offloads_not_negotiated_or_malformed_are_refused() {
    let tcp = tcp_frame(&[1; 3000], 0x18, false);
    let small = tcp_frame(&[1; 100], 0x18, false);
    let refused = [
        // NEEDS_CSUM without CSUM.
        (header(1, 0, 0, 0, 34, 16), 0, &small),
        // The checksum field past the end.
        (header(1, 0, 0, 0, 34, 200), ALL, &small),
        // Unknown flags (DATA_VALID is for receiving).
        (header(2, 0, 0, 0, 0, 0), ALL, &small),
        // TSO without HOST_TSO4, without NEEDS_CSUM, with no MSS, with
        // segments larger than the MTU.
        (header(1, 1, 54, 1448, 34, 16), VIRTIO_NET_F_CSUM, &tcp),
        (header(0, 1, 54, 1448, 34, 16), ALL, &tcp),
        (header(1, 1, 54, 0, 34, 16), ALL, &tcp),
        (header(1, 1, 54, 1500, 34, 16), ALL, &tcp),
        // GSO types not offered: UDP, TCPv6, the ECN bit.
        (header(1, 3, 54, 1448, 34, 16), ALL, &tcp),
        (header(1, 4, 54, 1448, 34, 16), ALL, &tcp),
        (header(1, 0x81, 54, 1448, 34, 16), ALL, &tcp),
        // A whole frame longer than the MTU allows.
        (header(0, 0, 0, 0, 0, 0), ALL, &tcp),
    ];
    for (i, (h, features, frame)) in refused.iter().enumerate() {
        assert_eq!(Offload::parse(h, *features, frame), None, "case {i}");
    }
    // TSO of something that is not unfragmented TCP/IPv4.
    let h = header(1, 1, 54, 1448, 34, 16);
    let mut udp = tcp.clone();
    udp[23] = 17;
    let mut fragment = tcp.clone();
    fragment[20] = 0x20; // MF
    let mut ipv6 = tcp.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let huge = vec![0u8; GSO_FRAME_MAX + 1];
    for frame in [&udp, &fragment, &ipv6, &huge, &tcp[..40].to_vec()] {
        assert_eq!(Offload::parse(&h, ALL, frame), None);
    }
}
