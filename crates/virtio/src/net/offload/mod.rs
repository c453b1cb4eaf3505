//! Checksum and TCP segmentation offload (virtio 1.2 section 5.1.6.2): what
//! a sending driver may leave undone in a frame, and how it is finished in
//! software for a receiver that cannot take it unfinished.
//!
//! A driver that negotiated VIRTIO_NET_F_CSUM may leave a checksum for the
//! device (header flag NEEDS_CSUM: the ones'-complement sum from
//! `csum_start` to the end of the frame goes at `csum_start +
//! csum_offset`); with HOST_TSO4 it may hand over one TCP/IPv4 packet of up
//! to 64 KiB to be cut into segments of `gso_size` payload bytes. Between
//! Aerie's cards nothing needs finishing: a receiver that negotiated
//! GUEST_CSUM and GUEST_TSO4 gets the packet as it was sent, with the same
//! header, and one large copy replaces forty-odd small ones. Only a
//! receiver without them (and the uplink, whose driver negotiates no
//! offload) gets [`finish`]ed frames.
//!
//! [`Offload::parse`] checks everything [`finish`] relies on when the frame
//! is sent, so a packet in flight is always one that can be finished.

use super::{FRAME_MAX, HEADER_LEN, NUM_BUFFERS_OFFSET};
use alloc::vec::Vec;

/// Feature bit 0: the driver may leave checksums to the device.
pub const VIRTIO_NET_F_CSUM: u64 = 1 << 0;
/// Feature bit 1: the driver takes frames with checksums left partial.
pub const VIRTIO_NET_F_GUEST_CSUM: u64 = 1 << 1;
/// Feature bit 7: the driver takes TCP/IPv4 packets larger than the MTU.
pub const VIRTIO_NET_F_GUEST_TSO4: u64 = 1 << 7;
/// Feature bit 11: the driver may send TCP/IPv4 packets for the device to
/// segment.
pub const VIRTIO_NET_F_HOST_TSO4: u64 = 1 << 11;

/// Header `flags` bit: the checksum is left for the receiver of the header.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// Header `gso_type`: a whole frame.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// Header `gso_type`: a TCP/IPv4 packet to be segmented.
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;

/// The longest packet a sender may hand over for segmentation: an IPv4
/// packet of the largest total length behind an Ethernet header with one
/// 802.1Q tag.
pub const GSO_FRAME_MAX: usize = 18 + 65_535;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The offload fields of a frame's header, checked against the frame.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Offload {
    /// NEEDS_CSUM: (csum_start, csum_offset).
    pub csum: Option<(u16, u16)>,
    /// GSO TCPv4: the sender's hdr_len and the payload per segment.
    pub tso4: Option<Tso4>,
}

/// A TCP/IPv4 packet for segmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tso4 {
    pub hdr_len: u16,
    pub mss: u16,
}

/// A frame and what is left to finish in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub frame: Vec<u8>,
    pub offload: Offload,
}

impl Packet {
    /// A whole frame: nothing left to finish.
    pub fn whole(frame: Vec<u8>) -> Packet {
        Packet {
            frame,
            offload: Offload::default(),
        }
    }

    /// How many frames it makes on the wire: one, or as many TCP segments
    /// as [`finish`] cuts it into.
    pub fn segments(&self) -> usize {
        match (self.offload.tso4, tcp4_layout(&self.frame)) {
            (Some(t), Some(l)) if t.mss > 0 => {
                segment_count(self.frame.len() - l.payload, usize::from(t.mss))
            }
            _ => 1,
        }
    }
}

/// Where the headers of a TCP/IPv4 frame lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tcp4Layout {
    ip: usize,
    tcp: usize,
    payload: usize,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The headers of an unfragmented TCP/IPv4 frame, or None.
fn tcp4_layout(frame: &[u8]) -> Option<Tcp4Layout> {
    let mut ip = 14;
    let mut ethertype = be16(frame.get(..14)?, 12);
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame.get(..18)?, 16);
        ip = 18;
    }
    if ethertype != ETHERTYPE_IPV4 {
        return None;
    }
    let ip_header = frame.get(ip..ip + 20)?;
    let ihl = usize::from(ip_header[0] & 0xf) * 4;
    let fragmented = be16(ip_header, 6) & 0x3fff != 0; // MF or an offset
    if ip_header[0] >> 4 != 4 || ihl < 20 || ip_header[9] != IPPROTO_TCP || fragmented {
        return None;
    }
    let tcp = ip + ihl;
    let doff = usize::from(frame.get(tcp + 12)? >> 4) * 4;
    let payload = tcp + doff;
    if doff < 20 || payload > frame.len() {
        return None;
    }
    Some(Tcp4Layout { ip, tcp, payload })
}

impl Offload {
    /// The offload a transmit header asks for, given the features the driver
    /// negotiated; None when the frame must be dropped: an offload that was
    /// not negotiated, an unknown GSO type (the ECN bit included), a checksum
    /// field outside the frame, a GSO packet that is not unfragmented
    /// TCP/IPv4 or whose segments would not fit [`FRAME_MAX`], or a length
    /// outside what the offload allows.
    pub fn parse(header: &[u8; HEADER_LEN], features: u64, frame: &[u8]) -> Option<Offload> {
        let (flags, gso_type) = (header[0], header[1]);
        let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
        let mut offload = Offload::default();
        if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
            let (start, offset) = (field(6), field(8));
            let end = usize::from(start) + usize::from(offset) + 2;
            if features & VIRTIO_NET_F_CSUM == 0 || end > frame.len() {
                return None;
            }
            offload.csum = Some((start, offset));
        } else if flags != 0 {
            return None;
        }
        match gso_type {
            VIRTIO_NET_HDR_GSO_NONE => {
                if !super::frame_len_ok(frame.len()) {
                    return None;
                }
            }
            VIRTIO_NET_HDR_GSO_TCPV4 => {
                let mss = field(4);
                let layout = tcp4_layout(frame)?;
                let fits = layout.payload + usize::from(mss) <= FRAME_MAX;
                if features & VIRTIO_NET_F_HOST_TSO4 == 0
                    || offload.csum.is_none()
                    || mss == 0
                    || !fits
                    || frame.len() > GSO_FRAME_MAX
                {
                    return None;
                }
                offload.tso4 = Some(Tso4 {
                    hdr_len: field(2),
                    mss,
                });
            }
            _ => return None,
        }
        Some(offload)
    }

    /// The features a receiver must have negotiated to take this packet
    /// unfinished.
    pub fn needs(&self) -> u64 {
        let csum = if self.csum.is_some() {
            VIRTIO_NET_F_GUEST_CSUM
        } else {
            0
        };
        let tso = if self.tso4.is_some() {
            VIRTIO_NET_F_GUEST_TSO4
        } else {
            0
        };
        csum | tso
    }

    /// The receive header for a packet with this offload: its fields as the
    /// sender wrote them, and `num_buffers`, the receive buffers the packet
    /// takes (1 without MRG_RXBUF).
    pub fn rx_header(&self, num_buffers: u16) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        if let Some((start, offset)) = self.csum {
            h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
            h[6..8].copy_from_slice(&start.to_le_bytes());
            h[8..10].copy_from_slice(&offset.to_le_bytes());
        }
        if let Some(t) = self.tso4 {
            h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
            h[2..4].copy_from_slice(&t.hdr_len.to_le_bytes());
            h[4..6].copy_from_slice(&t.mss.to_le_bytes());
        }
        h[NUM_BUFFERS_OFFSET..NUM_BUFFERS_OFFSET + 2].copy_from_slice(&num_buffers.to_le_bytes());
        h
    }
}

/// The 16-bit ones'-complement sum of `bytes` (RFC 1071) added to `sum`,
/// not yet folded or complemented.
fn sum16(bytes: &[u8], mut sum: u64) -> u64 {
    let mut pairs = bytes.chunks_exact(2);
    for p in &mut pairs {
        sum += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds a sum to 16 bits and complements it: the value a checksum field
/// holds.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `packet` as whole frames, each given to `out` in order: the checksum
/// filled in, and a GSO packet cut into segments of at most `mss` payload
/// bytes (IPv4 length, identification and checksum per segment; TCP
/// sequence number, FIN and PSH on the last segment only, CWR on the first
/// only, and the checksum over each). A packet [`Offload::parse`] accepted
/// always finishes; one it did not is given to `out` as it is.
pub fn finish(packet: &Packet, mut out: impl FnMut(&[u8])) {
    let frame = &packet.frame;
    match (packet.offload.tso4, tcp4_layout(frame)) {
        (Some(tso), Some(layout)) => segment(frame, layout, usize::from(tso.mss), &mut out),
        _ => match packet.offload.csum {
            Some((start, offset)) => {
                let (start, at) = (usize::from(start), usize::from(start) + usize::from(offset));
                let mut f = frame.clone();
                if at + 2 <= f.len() {
                    let sum = fold(sum16(&f[start..], 0));
                    put16(&mut f, at, sum);
                }
                out(&f);
            }
            None => out(frame),
        },
    }
}

/// Segments of at most `mss` (not 0) bytes that `payload` bytes fill: at
/// least one, for a packet with no payload.
fn segment_count(payload: usize, mss: usize) -> usize {
    payload.div_ceil(mss).max(1)
}

/// Cuts a TCP/IPv4 packet into segments (see [`finish`]).
fn segment(frame: &[u8], l: Tcp4Layout, mss: usize, out: &mut impl FnMut(&[u8])) {
    let headers = &frame[..l.payload];
    let payload = &frame[l.payload..];
    let id = be16(frame, l.ip + 4);
    let seq = u32::from_be_bytes([
        frame[l.tcp + 4],
        frame[l.tcp + 5],
        frame[l.tcp + 6],
        frame[l.tcp + 7],
    ]);
    let flags = frame[l.tcp + 13];
    let count = segment_count(payload.len(), mss);
    let mut seg = Vec::with_capacity(l.payload + mss);
    for i in 0..count {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        seg.clear();
        seg.extend_from_slice(headers);
        seg.extend_from_slice(chunk);
        // IPv4: total length, identification, header checksum.
        let ip_len = seg.len() - l.ip;
        put16(&mut seg, l.ip + 2, ip_len as u16);
        put16(&mut seg, l.ip + 4, id.wrapping_add(i as u16));
        put16(&mut seg, l.ip + 10, 0);
        let ip_sum = fold(sum16(&seg[l.ip..l.tcp], 0));
        put16(&mut seg, l.ip + 10, ip_sum);
        // TCP: sequence number, flags, checksum over the pseudo header.
        let offset = (i * mss) as u32;
        seg[l.tcp + 4..l.tcp + 8].copy_from_slice(&seq.wrapping_add(offset).to_be_bytes());
        let mut f = flags;
        if i + 1 < count {
            f &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            f &= !TCP_CWR;
        }
        seg[l.tcp + 13] = f;
        put16(&mut seg, l.tcp + 16, 0);
        let tcp_len = seg.len() - l.tcp;
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&seg[l.ip + 12..l.ip + 20]); // source, destination
        pseudo[9] = IPPROTO_TCP;
        pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        let tcp_sum = fold(sum16(&seg[l.tcp..], sum16(&pseudo, 0)));
        put16(&mut seg, l.tcp + 16, tcp_sum);
        out(&seg);
    }
}

#[cfg(test)]
pub(crate) mod tests;
