//! The optional `[vm.net]` table: the VM's network card, a virtio-net device
//! on Aerie's switch.
//!
//! ```toml
//! [vm.net]
//! mac = "02:00:00:12:34:56"   # optional; default 52:54:00:ae:00:<n>, n = VM index + 1
//! network = "lab"             # optional, default "default": cards exchange
//!                             # frames only with cards on the same network
//! uplink = true               # optional, default true: the card reaches the
//!                             # machine's own network card; false keeps it inside
//! ```
//!
//! The address must be unicast (first octet even) and not all zeros, and no
//! two VMs may share one: the switch delivers by address and drops frames
//! whose source is not the sender's own address. Network names follow the
//! VM name rule.

use toml::Value;

use crate::error::ErrorKind;
use crate::table::check_name;
use aerie_bootmodule::{mac_is_unicast, Mac};

const FIELDS: [&str; 3] = ["mac", "network", "uplink"];

/// The network a card is on when its table names none.
pub const DEFAULT_NETWORK: &str = "default";

/// A VM's `[vm.net]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    pub mac: Mac,
    /// The network's name.
    pub network: String,
    /// The card reaches the uplink.
    pub uplink: bool,
}

/// An error about one key of the table: (`net.<key>` or `net`, what).
pub(crate) type NetError = (String, ErrorKind);

/// The address a card gets when its table names none: QEMU's
/// locally-administered prefix, then `ae:00` and the VM's position.
pub fn default_mac(vm_index: usize) -> Mac {
    let n = (vm_index + 1) as u16;
    [0x52, 0x54, 0x00, 0xae, (n >> 8) as u8, n as u8]
}

/// Parses the value of VM `vm_index`'s `net` key.
pub(crate) fn parse_net(vm_index: usize, value: &Value) -> Result<NetConfig, NetError> {
    let Value::Table(table) = value else {
        return Err((
            "net".into(),
            ErrorKind::WrongType {
                expected: "a table ([vm.net], optionally with mac)",
                found: value.type_str(),
            },
        ));
    };
    if let Some(key) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err((format!("net.{key}"), ErrorKind::UnknownNetField));
    }
    let wrong = |field: &str, expected, v: &Value| {
        (
            format!("net.{field}"),
            ErrorKind::WrongType {
                expected,
                found: v.type_str(),
            },
        )
    };
    let mac = match table.get("mac") {
        None => default_mac(vm_index),
        Some(Value::String(s)) => {
            parse_mac(s).ok_or_else(|| ("net.mac".into(), ErrorKind::BadMac(s.clone())))?
        }
        Some(v) => return Err(wrong("mac", "a string like \"02:00:00:12:34:56\"", v)),
    };
    let network = match table.get("network") {
        None => DEFAULT_NETWORK.to_string(),
        Some(Value::String(s)) => {
            check_name(s).map_err(|why| ("net.network".into(), ErrorKind::BadName(why)))?;
            s.clone()
        }
        Some(v) => return Err(wrong("network", "a string", v)),
    };
    let uplink = match table.get("uplink") {
        None => true,
        Some(Value::Boolean(b)) => *b,
        Some(v) => return Err(wrong("uplink", "true or false", v)),
    };
    Ok(NetConfig {
        mac,
        network,
        uplink,
    })
}

/// Six two-digit hex octets separated by colons, unicast and not zero.
fn parse_mac(s: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for octet in &mut mac {
        let part = parts.next()?;
        // from_str_radix alone would take a sign ("+2").
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *octet = u8::from_str_radix(part, 16).ok()?;
    }
    (parts.next().is_none() && mac_is_unicast(&mac)).then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::{default_mac, parse_mac};

    #[test]
    fn addresses() {
        assert_eq!(
            parse_mac("52:54:00:AB:cd:01"),
            Some([0x52, 0x54, 0, 0xab, 0xcd, 1])
        );
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:01:02",
            "52-54-00-ab-cd-01",
            "5:54:00:ab:cd:01",
            "52:54:00:ab:cd:0g",
            "+2:54:00:ab:cd:01",
            "00:00:00:00:00:00",
            "01:00:5e:00:00:01",
            "ff:ff:ff:ff:ff:ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
        assert_eq!(default_mac(0), [0x52, 0x54, 0, 0xae, 0, 1]);
        assert_eq!(default_mac(255), [0x52, 0x54, 0, 0xae, 1, 0]);
    }
}
