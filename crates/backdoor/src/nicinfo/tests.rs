//! The network report against messages encoded as open-vm-tools' XDR
//! routines lay out `nicinfo.x` (RFC 4506: big-endian words, data padded
//! to 4, arrays as a count, optionals as a 0/1 word).

use super::*;
use crate::guestinfo::GuestInfo;
use crate::rpci::{dispatch, ToolsState};
use aerie_testrng::Rng;

/// An XDR writer.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn opaque(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
        self
    }
    fn v4(&mut self, a: [u8; 4]) -> &mut Self {
        self.u32(1).opaque(&a)
    }
    fn v6(&mut self, a: [u8; 16]) -> &mut Self {
        self.u32(2).opaque(&a)
    }
}

const LINK_LOCAL: [u8; 16] = [
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0xae, 0, 1,
];

/// What vmtoolsd sends for a guest with one NIC (an IPv4 address from DHCP
/// and an IPv6 link-local one), a default route and a link route, and a
/// resolver with a host name, a domain, one server and one search suffix.
fn guest_report() -> Vec<u8> {
    let mut w = W::default();
    w.u32(3).u32(1); // version 3, nicInfoV3 present
    w.u32(1); // one NIC
    w.opaque(b"52:54:00:ae:00:01");
    w.u32(2); // two addresses
    w.v4([10, 0, 2, 15]).u32(24).u32(1).u32(4).u32(1).u32(1); // origin DHCP, preferred
    w.v6(LINK_LOCAL).u32(64).u32(0).u32(0);
    w.u32(0).u32(0); // no DNS, no WINS of its own
    w.u32(1).u32(1).opaque(b"lease 86400"); // DHCPv4 on
    w.u32(0); // no DHCPv6
    w.u32(2); // two routes
    w.v4([0, 0, 0, 0]).u32(0).u32(1).v4([10, 0, 2, 2]); // default via 10.0.2.2
    w.u32(0).u32(4).u32(0xffff_ffff);
    w.v4([10, 0, 2, 0]).u32(24).u32(0).u32(0).u32(3).u32(0); // on-link
    w.u32(1); // the resolver
    w.u32(1).opaque(b"aerie").u32(1).opaque(b"example.org");
    w.u32(1).v4([10, 0, 2, 3]);
    w.u32(1).opaque(b"example.org");
    w.u32(0).u32(0).u32(0); // no WINS, no DHCP settings
    w.0
}

fn request(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut r = alloc::format!("SetGuestInfo  {kind} ").into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn a_guest_report_is_digested() {
    let r = decode(&guest_report()).unwrap();
    assert_eq!(
        r.nics,
        [Nic {
            mac: "52:54:00:ae:00:01".into(),
            addrs: vec![
                (Address::V4(Ipv4Addr::new(10, 0, 2, 15)), 24),
                (Address::V6(Ipv6Addr::from(LINK_LOCAL)), 64),
            ],
            more: 0,
        }]
    );
    assert_eq!(r.routes, 2);
    assert_eq!(
        r.default_routes,
        [DefaultRoute {
            via: Some(Address::V4(Ipv4Addr::new(10, 0, 2, 2))),
            nic: 0
        }]
    );
    assert_eq!(r.host_name.as_deref(), Some("aerie"));
    assert_eq!(r.domain_name.as_deref(), Some("example.org"));
    assert_eq!(r.dns_servers, [Address::V4(Ipv4Addr::new(10, 0, 2, 3))]);
    assert_eq!(
        alloc::format!("{}", r.nics[0].addrs[1].0),
        "fe80::5054:ff:feae:1"
    );
}

#[test]
fn the_rpci_command_keeps_it_under_either_type() {
    for kind in [INFO_IPADDRESS_V3, INFO_IPADDRESS_V2] {
        let (mut info, mut tools) = (GuestInfo::new(), ToolsState::default());
        // rpcout may add a NUL: zero bytes after the message are padding.
        let mut req = request(kind, &guest_report());
        req.push(0);
        assert_eq!(
            dispatch(&req, &mut info, &mut tools, crate::guestlib::Facts::default),
            b"1 "
        );
        assert_eq!(tools.network.unwrap().nics[0].mac, "52:54:00:ae:00:01");
        assert_eq!(tools.network_refused, 0);
        // Not a report kept verbatim, and no guestinfo key.
        assert!(tools.reports.is_empty());
        assert_eq!(info.len(), 0);
    }
}

#[test]
fn a_bad_report_is_refused_with_its_reason_and_the_last_good_one_stays() {
    let (mut info, mut tools) = (GuestInfo::new(), ToolsState::default());
    dispatch(
        &request(10, &guest_report()),
        &mut info,
        &mut tools,
        crate::guestlib::Facts::default,
    );
    let mut bad = guest_report();
    bad.truncate(bad.len() - 4);
    let reply = dispatch(
        &request(10, &bad),
        &mut info,
        &mut tools,
        crate::guestlib::Facts::default,
    );
    assert_eq!(reply, b"0 nic info ends early");
    assert_eq!(tools.network_refused, 1);
    assert_eq!(tools.network_error, Some(NicInfoError::Truncated));
    assert_eq!(tools.network.unwrap().nics.len(), 1);
}

#[test]
fn other_info_types_and_texts_are_not_network_reports() {
    assert_eq!(body(b"SetGuestInfo  7 335"), None);
    assert_eq!(body(b"SetGuestInfo  2 \x01\x00\x00\x00"), None); // V1's struct
    assert_eq!(body(b"SetGuestInfo 10 x"), None); // one space
    assert_eq!(body(b"info-get guestinfo.x"), None);
    assert_eq!(body(b"SetGuestInfo  10 \x00\x00"), Some(&b"\x00\x00"[..]));
}

#[test]
fn every_early_end_is_truncated() {
    let full = guest_report();
    for len in 0..full.len() {
        assert_eq!(
            decode(&full[..len]),
            Err(NicInfoError::Truncated),
            "{len} bytes"
        );
    }
}

#[test]
fn bounds_versions_and_flags_are_checked() {
    let mut w = W::default();
    w.u32(2).u32(1).u32(0);
    assert_eq!(
        decode(&w.0),
        Err(NicInfoError::Unsupported {
            field: "version",
            value: 2
        })
    );
    let mut w = W::default();
    w.u32(3).u32(2);
    assert_eq!(
        decode(&w.0),
        Err(NicInfoError::Unsupported {
            field: "nicInfoV3",
            value: 2
        })
    );
    let mut w = W::default();
    w.u32(3).u32(1).u32(17);
    assert_eq!(
        decode(&w.0),
        Err(NicInfoError::TooLong {
            field: "nics",
            len: 17
        })
    );
    let mut w = W::default();
    w.u32(3).u32(1).u32(1).opaque(b"52:54:00:ae:00:01:x");
    assert_eq!(
        decode(&w.0),
        Err(NicInfoError::TooLong {
            field: "macAddress",
            len: 19
        })
    );
    // A count within bounds with nothing behind it ends early; nothing is
    // allocated for what the count claims.
    let mut w = W::default();
    w.u32(3).u32(1).u32(1).opaque(b"m").u32(2048);
    assert_eq!(decode(&w.0), Err(NicInfoError::Truncated));
    let mut trailing = guest_report();
    trailing.extend_from_slice(&[0, 0, 0, 1]);
    assert_eq!(decode(&trailing), Err(NicInfoError::TrailingBytes));
    // No NicInfoV3 at all is an empty report.
    assert_eq!(decode(&[0, 0, 0, 3, 0, 0, 0, 0]), Ok(NicReport::default()));
}

#[test]
fn a_nic_keeps_its_first_addresses_and_counts_the_rest() {
    let mut w = W::default();
    w.u32(3).u32(1).u32(1).opaque(b"m");
    w.u32(MAX_ADDRS as u32 + 3);
    for i in 0..MAX_ADDRS as u8 + 3 {
        w.v4([10, 0, 0, i]).u32(8).u32(0).u32(0);
    }
    // An address of another type or length is kept as its type.
    w.u32(0).u32(0).u32(0).u32(0);
    w.u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
    let r = decode(&w.0).unwrap();
    assert_eq!(r.nics[0].addrs.len(), MAX_ADDRS);
    assert_eq!(r.nics[0].more, 3);
    let mut w = W::default();
    w.u32(3).u32(1).u32(1).opaque(b"m").u32(1);
    w.u32(1).opaque(&[1, 2, 3]).u32(8).u32(0).u32(0); // IPv4 of 3 bytes
    w.u32(0).u32(0).u32(0).u32(0);
    w.u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
    assert_eq!(decode(&w.0).unwrap().nics[0].addrs[0].0, Address::Other(1));
}

/// Seeded random damage to a real report: any outcome but a panic, and
/// what is kept stays within its bounds.
#[test]
fn storm_of_damaged_reports() {
    let mut rng = Rng::new(0x6e1c);
    let good = guest_report();
    for _ in 0..20_000 {
        let mut m = good.clone();
        for _ in 0..=rng.below(4) {
            let i = rng.below(m.len() as u64) as usize;
            m[i] = if rng.chance(50) {
                rng.next_u64() as u8
            } else {
                *[0u8, 1, 0xff].get(rng.below(3) as usize).unwrap()
            };
        }
        if rng.chance(20) {
            m.truncate(rng.below(m.len() as u64) as usize);
        }
        if let Ok(r) = decode(&m) {
            assert!(r.nics.len() <= NICINFO_MAX_NICS as usize);
            assert!(r.nics.iter().all(|n| n.addrs.len() <= MAX_ADDRS));
            assert!(r.default_routes.len() <= MAX_ROUTES);
            assert!(r.dns_servers.len() <= MAX_SERVERS);
        }
    }
}
