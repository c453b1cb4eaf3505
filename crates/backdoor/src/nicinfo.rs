//! The tools' network report: what vmtoolsd's guestInfo plugin sends at
//! every poll (and `vmware-toolbox-cmd info update network` on demand) so
//! that the host knows the guest's NICs, addresses, routes and resolver.
//!
//! On the wire it is an RPCI request `SetGuestInfo  10 ` (INFO_IPADDRESS_V3;
//! the tools' first fallback sends the same body as type 9) followed by the
//! XDR encoding (RFC 4506) of a `GuestNicProto` of version 3, as
//! open-vm-tools' `nicinfo.x` defines it. The body is binary, so it never
//! reaches the text commands. Version 2 (fixed `char` arrays) is refused:
//! the tools only fall back to it when version 3 fails.
//!
//! Decoding walks the whole message with the protocol's own bounds (16
//! NICs, 2,048 addresses a NIC, 100 routes, strings as `nicinfo.x` bounds
//! them) and keeps a digest of bounded size: every NIC's MAC and up to
//! [`MAX_ADDRS`] addresses, the default routes, the resolver's names and
//! servers. A message that breaks a bound, ends early or has bytes left
//! over (but zero padding) is refused whole.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The RPCI command and the two information types that carry a NicInfoV3.
pub const COMMAND: &[u8] = b"SetGuestInfo";
pub const INFO_IPADDRESS_V2: u32 = 9;
pub const INFO_IPADDRESS_V3: u32 = 10;

/// `nicinfo.x`'s bounds.
const NICINFO_MAX_NICS: u32 = 16;
const NICINFO_MAX_IPS: u32 = 2048;
const NICINFO_MAC_LEN: u32 = 18;
const NICINFO_MAX_ROUTES: u32 = 100;
const INET_ADDRESS_MAX_LEN: u32 = 255;
const DNSINFO_MAX_ADDRLEN: u32 = 255;
const DNSINFO_MAX_SERVERS: u32 = 16;
const DNSINFO_MAX_SUFFIXES: u32 = 10;
const DHCP_MAX_CONFIG_SIZE: u32 = 16384;
/// `NicInfoVersion`: the only version decoded.
const NIC_INFO_V3: u32 = 3;

/// What is kept of a report: addresses a NIC, default routes, DNS servers.
pub const MAX_ADDRS: usize = 8;
pub const MAX_ROUTES: usize = 4;
pub const MAX_SERVERS: usize = 4;

/// An address as the report gives it (`TypedIpAddress`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// Another type (zoned, DNS, unknown) or a length that does not fit
    /// its type: its type number.
    Other(i32),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::V4(a) => write!(f, "{a}"),
            Address::V6(a) => write!(f, "{a}"),
            Address::Other(t) => write!(f, "(address type {t})"),
        }
    }
}

/// One NIC: its MAC address as the guest wrote it, and its addresses with
/// their prefix lengths (the first [`MAX_ADDRS`]; `more` counts the rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    pub mac: String,
    pub addrs: Vec<(Address, u32)>,
    pub more: usize,
}

/// A default route (prefix length 0): its next hop, if it names one, and
/// the index of its NIC in [`NicReport::nics`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultRoute {
    pub via: Option<Address>,
    pub nic: u32,
}

/// The digest of one report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NicReport {
    pub nics: Vec<Nic>,
    pub routes: usize,
    pub default_routes: Vec<DefaultRoute>,
    pub host_name: Option<String>,
    pub domain_name: Option<String>,
    pub dns_servers: Vec<Address>,
}

/// Why a report was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicInfoError {
    /// The message ended inside a field.
    Truncated,
    /// A count or length beyond `nicinfo.x`'s bound for that field.
    TooLong { field: &'static str, len: u32 },
    /// A union's version other than 3, or a bool or pointer flag not 0 or 1.
    Unsupported { field: &'static str, value: u32 },
    /// Nonzero bytes after the message.
    TrailingBytes,
}

impl fmt::Display for NicInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicInfoError::Truncated => write!(f, "nic info ends early"),
            NicInfoError::TooLong { field, len } => {
                write!(f, "nic info {field} of {len} is over its bound")
            }
            NicInfoError::Unsupported { field, value } => {
                write!(f, "nic info {field} {value} is not supported")
            }
            NicInfoError::TrailingBytes => write!(f, "nic info has bytes after its end"),
        }
    }
}

/// If `request` is `SetGuestInfo  <9|10> <body>`, its body.
pub fn body(request: &[u8]) -> Option<&[u8]> {
    let rest = request.strip_prefix(COMMAND)?;
    // "%s  %d ": two spaces, the type, one space.
    let rest = rest.strip_prefix(b"  ")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    let kind = core::str::from_utf8(&rest[..end])
        .ok()?
        .parse::<u32>()
        .ok()?;
    matches!(kind, INFO_IPADDRESS_V2 | INFO_IPADDRESS_V3).then_some(&rest[end + 1..])
}

/// Decodes a `GuestNicProto` body.
pub fn decode(body: &[u8]) -> Result<NicReport, NicInfoError> {
    let mut x = Xdr { rest: body };
    let version = x.u32()?;
    if version != NIC_INFO_V3 {
        return Err(NicInfoError::Unsupported {
            field: "version",
            value: version,
        });
    }
    let mut report = NicReport::default();
    if x.flag("nicInfoV3")? {
        let nics = x.count("nics", NICINFO_MAX_NICS)?;
        for _ in 0..nics {
            let nic = nic(&mut x)?;
            report.nics.push(nic);
        }
        let routes = x.count("routes", NICINFO_MAX_ROUTES)?;
        for _ in 0..routes {
            route(&mut x, &mut report)?;
        }
        report.routes = routes as usize;
        if x.flag("dnsConfigInfo")? {
            dns(&mut x, &mut report)?;
        }
        skip_nic_extras(&mut x)?;
    }
    if x.rest.iter().any(|&b| b != 0) {
        return Err(NicInfoError::TrailingBytes);
    }
    Ok(report)
}

fn nic(x: &mut Xdr) -> Result<Nic, NicInfoError> {
    let mac = x.string("macAddress", NICINFO_MAC_LEN)?;
    let count = x.count("ips", NICINFO_MAX_IPS)?;
    let mut nic = Nic {
        mac,
        addrs: Vec::new(),
        more: 0,
    };
    for _ in 0..count {
        let addr = x.address()?;
        let prefix = x.u32()?;
        x.optional("ipAddressOrigin", |x| x.u32().map(drop))?;
        x.optional("ipAddressStatus", |x| x.u32().map(drop))?;
        if nic.addrs.len() < MAX_ADDRS {
            nic.addrs.push((addr, prefix));
        } else {
            nic.more += 1;
        }
    }
    // The NIC's own resolver, WINS and DHCP settings: walked, not kept.
    x.optional("dnsConfigInfo", |x| dns(x, &mut NicReport::default()))?;
    skip_nic_extras(x)?;
    Ok(nic)
}

/// WINS and the two DHCP settings, which NICs and the whole report end with.
fn skip_nic_extras(x: &mut Xdr) -> Result<(), NicInfoError> {
    x.optional("winsConfigInfo", |x| {
        x.address()?;
        x.address().map(drop)
    })?;
    for field in ["dhcpConfigInfov4", "dhcpConfigInfov6"] {
        x.optional(field, |x| {
            x.flag("enabled")?;
            x.opaque("dhcpSettings", DHCP_MAX_CONFIG_SIZE).map(drop)
        })?;
    }
    Ok(())
}

fn route(x: &mut Xdr, report: &mut NicReport) -> Result<(), NicInfoError> {
    x.address()?;
    let prefix = x.u32()?;
    let mut via = None;
    x.optional("inetCidrRouteNextHop", |x| {
        via = Some(x.address()?);
        Ok(())
    })?;
    let nic = x.u32()?;
    let _kind = x.u32()?;
    let _metric = x.u32()?;
    if prefix == 0 && report.default_routes.len() < MAX_ROUTES {
        report.default_routes.push(DefaultRoute { via, nic });
    }
    Ok(())
}

/// An optional `DnsHostname`.
fn host_name(x: &mut Xdr, field: &'static str) -> Result<Option<String>, NicInfoError> {
    let mut name = None;
    x.optional(field, |x| {
        name = Some(x.string(field, DNSINFO_MAX_ADDRLEN)?);
        Ok(())
    })?;
    Ok(name)
}

fn dns(x: &mut Xdr, report: &mut NicReport) -> Result<(), NicInfoError> {
    report.host_name = host_name(x, "hostName")?;
    report.domain_name = host_name(x, "domainName")?;
    let servers = x.count("serverList", DNSINFO_MAX_SERVERS)?;
    for _ in 0..servers {
        let a = x.address()?;
        if report.dns_servers.len() < MAX_SERVERS {
            report.dns_servers.push(a);
        }
    }
    let suffixes = x.count("searchSuffixes", DNSINFO_MAX_SUFFIXES)?;
    for _ in 0..suffixes {
        x.opaque("searchSuffixes", DNSINFO_MAX_ADDRLEN)?;
    }
    Ok(())
}

/// An XDR reader over a message: big-endian 4-byte units, variable-length
/// data as a length and the bytes padded to 4.
struct Xdr<'a> {
    rest: &'a [u8],
}

impl<'a> Xdr<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], NicInfoError> {
        if self.rest.len() < n {
            return Err(NicInfoError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, NicInfoError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A bool or an optional's presence flag.
    fn flag(&mut self, field: &'static str) -> Result<bool, NicInfoError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(NicInfoError::Unsupported { field, value }),
        }
    }

    /// An optional (`T *field`): `read` runs when it is present.
    fn optional(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Self) -> Result<(), NicInfoError>,
    ) -> Result<(), NicInfoError> {
        if self.flag(field)? {
            read(self)?;
        }
        Ok(())
    }

    /// An array's element count, at most `max`.
    fn count(&mut self, field: &'static str, max: u32) -> Result<u32, NicInfoError> {
        let len = self.u32()?;
        if len > max {
            return Err(NicInfoError::TooLong { field, len });
        }
        Ok(len)
    }

    /// Variable-length opaque data of at most `max` bytes.
    fn opaque(&mut self, field: &'static str, max: u32) -> Result<&'a [u8], NicInfoError> {
        let len = self.count(field, max)? as usize;
        let bytes = self.take(len)?;
        self.take((4 - len % 4) % 4)?;
        Ok(bytes)
    }

    /// A string of at most `max` bytes (bytes that are not UTF-8 replaced).
    fn string(&mut self, field: &'static str, max: u32) -> Result<String, NicInfoError> {
        let bytes = self.opaque(field, max)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    /// A `TypedIpAddress`.
    fn address(&mut self) -> Result<Address, NicInfoError> {
        const IAT_IPV4: u32 = 1;
        const IAT_IPV6: u32 = 2;
        let kind = self.u32()?;
        let bytes = self.opaque("ipAddressAddr", INET_ADDRESS_MAX_LEN)?;
        Ok(match (kind, bytes.len()) {
            (IAT_IPV4, 4) => Address::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
            (IAT_IPV6, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(bytes);
                Address::V6(Ipv6Addr::from(a))
            }
            _ => Address::Other(kind as i32),
        })
    }
}

#[cfg(test)]
mod tests;
