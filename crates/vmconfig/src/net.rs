//! The optional `[vm.net]` table: the VM's network card, a virtio-net device
//! on Aerie's switch, which connects every VM that has one.
//!
//! ```toml
//! [vm.net]
//! mac = "02:00:00:12:34:56"   # optional; default 52:54:00:ae:00:<n>, n = VM index + 1
//! ```
//!
//! The address must be unicast (first octet even) and not all zeros, and no
//! two VMs may share one: the switch delivers by address and drops frames
//! whose source is not the sender's own address.

use toml::Value;

use crate::error::ErrorKind;
use aerie_bootmodule::{mac_is_unicast, Mac};

const FIELDS: [&str; 1] = ["mac"];

/// An error about one key of the table: (`net.<key>` or `net`, what).
pub(crate) type NetError = (String, ErrorKind);

/// The address a card gets when its table names none: QEMU's
/// locally-administered prefix, then `ae:00` and the VM's position.
pub fn default_mac(vm_index: usize) -> Mac {
    let n = (vm_index + 1) as u16;
    [0x52, 0x54, 0x00, 0xae, (n >> 8) as u8, n as u8]
}

/// Parses the value of VM `vm_index`'s `net` key into its card's address.
pub(crate) fn parse_net(vm_index: usize, value: &Value) -> Result<Mac, NetError> {
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
    match table.get("mac") {
        None => Ok(default_mac(vm_index)),
        Some(Value::String(s)) => {
            parse_mac(s).ok_or_else(|| ("net.mac".into(), ErrorKind::BadMac(s.clone())))
        }
        Some(v) => Err((
            "net.mac".into(),
            ErrorKind::WrongType {
                expected: "a string like \"02:00:00:12:34:56\"",
                found: v.type_str(),
            },
        )),
    }
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
