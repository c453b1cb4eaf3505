//! The optional `[vm.backdoor]` and `[vm.guestinfo]` tables: whether and how
//! the VM may use the VMware-compatible backdoor, and the guestinfo keys it
//! starts with.
//!
//! ```toml
//! [vm.backdoor]
//! enabled = true         # default true; false = no backdoor (as without the table)
//! el0 = true             # default true: guest user space may use it too
//! brk = 0x5658           # optional: the BRK transport's immediate (0..=0xffff); absent = off
//! high_bandwidth = true  # default true: offer the high-bandwidth port
//!
//! [vm.guestinfo]         # needs an enabled [vm.backdoor]
//! greeting = "hello"     # the guest reads key "guestinfo.greeting"
//! net.ip = "10.0.0.2"    # dotted keys flatten: "guestinfo.net.ip"
//! ```
//!
//! Guestinfo limits are the backdoor's own (`aerie_backdoor::guestinfo`): at
//! most [`GUESTINFO_MAX_KEYS`] keys, each at most [`GUESTINFO_MAX_KEY_LEN`]
//! bytes including the `guestinfo.` prefix, values at most
//! [`GUESTINFO_MAX_VALUE_LEN`] bytes.

use aerie_bootmodule::BackdoorPolicy;
use toml::Value;

use crate::error::ErrorKind;

/// Most guestinfo keys one VM may have.
pub const GUESTINFO_MAX_KEYS: usize = aerie_backdoor::guestinfo::MAX_KEYS;
/// Longest guestinfo key in bytes, `guestinfo.` prefix included.
pub const GUESTINFO_MAX_KEY_LEN: usize = aerie_backdoor::guestinfo::MAX_KEY_LEN;
/// Longest guestinfo value in bytes.
pub const GUESTINFO_MAX_VALUE_LEN: usize = aerie_backdoor::guestinfo::MAX_VALUE_LEN;
/// What every guestinfo key starts with.
pub const GUESTINFO_PREFIX: &str = aerie_backdoor::guestinfo::GUESTINFO_PREFIX;

/// The keys `[vm.backdoor]` may have.
pub(crate) const BACKDOOR_FIELDS: [&str; 4] = ["enabled", "el0", "brk", "high_bandwidth"];

/// An error about one key: (`backdoor.<key>`, `guestinfo.<name>`, ..., what).
pub(crate) type FieldError = (String, ErrorKind);

fn wrong_type(field: String, expected: &'static str, v: &Value) -> FieldError {
    (
        field,
        ErrorKind::WrongType {
            expected,
            found: v.type_str(),
        },
    )
}

/// Parses the value of a VM's `backdoor` key: `None` when `enabled = false`.
pub(crate) fn parse_backdoor(value: &Value) -> Result<Option<BackdoorPolicy>, FieldError> {
    let Value::Table(table) = value else {
        return Err(wrong_type(
            "backdoor".into(),
            "a table ([vm.backdoor])",
            value,
        ));
    };
    if let Some(key) = table
        .keys()
        .find(|k| !BACKDOOR_FIELDS.contains(&k.as_str()))
    {
        return Err((format!("backdoor.{key}"), ErrorKind::UnknownBackdoorField));
    }
    let flag = |key: &str| match table.get(key) {
        None => Ok(true),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(v) => Err(wrong_type(format!("backdoor.{key}"), "true or false", v)),
    };
    let enabled = flag("enabled")?;
    let el0 = flag("el0")?;
    let high_bandwidth = flag("high_bandwidth")?;
    let brk_imm = match table.get("brk") {
        None => None,
        Some(Value::Integer(n)) => Some(
            u16::try_from(*n)
                .map_err(|_| ("backdoor.brk".to_string(), ErrorKind::BrkOutOfRange(*n)))?,
        ),
        Some(v) => {
            return Err(wrong_type(
                "backdoor.brk".into(),
                "an integer 0..=0xffff (e.g. brk = 0x5658)",
                v,
            ))
        }
    };
    Ok(enabled.then_some(BackdoorPolicy {
        el0,
        brk_imm,
        high_bandwidth,
    }))
}

/// Parses the value of a VM's `guestinfo` key into `("guestinfo.<name>",
/// value)` pairs, nested tables flattened with dots, in key order.
pub(crate) fn parse_guestinfo(value: &Value) -> Result<Vec<(String, String)>, FieldError> {
    let Value::Table(table) = value else {
        return Err(wrong_type(
            "guestinfo".into(),
            "a table ([vm.guestinfo] with string values)",
            value,
        ));
    };
    let mut out = Vec::new();
    flatten(table, GUESTINFO_PREFIX, &mut out)?;
    if out.len() > GUESTINFO_MAX_KEYS {
        return Err(("guestinfo".into(), ErrorKind::GuestinfoTooMany(out.len())));
    }
    Ok(out)
}

/// Appends the string values of `table` as `<prefix><key>` (`prefix` ends in a
/// dot), descending into sub-tables.
fn flatten(
    table: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), FieldError> {
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        if name.is_empty() {
            return Err((key, ErrorKind::GuestinfoEmptyName));
        }
        match value {
            Value::String(s) => {
                if key.len() > GUESTINFO_MAX_KEY_LEN {
                    let len = key.len();
                    return Err((key, ErrorKind::GuestinfoKeyTooLong(len)));
                }
                if s.len() > GUESTINFO_MAX_VALUE_LEN {
                    return Err((key, ErrorKind::GuestinfoValueTooLong(s.len())));
                }
                // `"a.b" = ..` and `a.b = ..` are different TOML keys but the
                // same guestinfo key.
                if out.iter().any(|(k, _)| *k == key) {
                    return Err((key, ErrorKind::GuestinfoDuplicate));
                }
                out.push((key, s.clone()));
            }
            Value::Table(inner) => flatten(inner, &format!("{key}."), out)?,
            v => {
                return Err(wrong_type(
                    key,
                    "a string (guestinfo values are text: quote numbers and booleans)",
                    v,
                ))
            }
        }
    }
    Ok(())
}
