//! The per-VM guestinfo store behind `info-set` / `info-get`.
//!
//! Keys are stored whole, including the `guestinfo.` prefix, exactly as they
//! appear in the VM config (`guestinfo.foo = "bar"`) and in RPCI requests.
//! Matching is byte-exact (VMware's config keys are case-insensitive; Aerie
//! does not fold case).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub const MAX_KEYS: usize = 64;
pub const MAX_KEY_LEN: usize = 128;
pub const MAX_VALUE_LEN: usize = 4096;
/// The namespace the guest may read and write.
pub const GUESTINFO_PREFIX: &str = "guestinfo.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestInfoError {
    /// The key does not start with `guestinfo.` or has nothing after it.
    BadKey,
    KeyTooLong {
        len: usize,
    },
    ValueTooLong {
        len: usize,
    },
    /// The store already holds `MAX_KEYS` keys and this one is new.
    Full,
}

impl fmt::Display for GuestInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestInfoError::BadKey => write!(f, "key must be guestinfo.<name>"),
            GuestInfoError::KeyTooLong { len } => {
                write!(f, "key of {len} bytes exceeds {MAX_KEY_LEN}")
            }
            GuestInfoError::ValueTooLong { len } => {
                write!(f, "value of {len} bytes exceeds {MAX_VALUE_LEN}")
            }
            GuestInfoError::Full => write!(f, "guestinfo store holds {MAX_KEYS} keys"),
        }
    }
}

/// Bounded key/value store, one per VM.
#[derive(Clone, Debug, Default)]
pub struct GuestInfo {
    entries: Vec<(String, String)>,
}

impl GuestInfo {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) `key`. Used both for config pre-load and `info-set`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), GuestInfoError> {
        let name = key
            .strip_prefix(GUESTINFO_PREFIX)
            .ok_or(GuestInfoError::BadKey)?;
        if name.is_empty() {
            return Err(GuestInfoError::BadKey);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(GuestInfoError::KeyTooLong { len: key.len() });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(GuestInfoError::ValueTooLong { len: value.len() });
        }
        if let Some(e) = self.entries.iter_mut().find(|(k, _)| k == key) {
            e.1 = String::from(value);
            return Ok(());
        }
        if self.entries.len() >= MAX_KEYS {
            return Err(GuestInfoError::Full);
        }
        self.entries.push((String::from(key), String::from(value)));
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All (key, value) pairs in insertion order, for the console.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn set_get_replace() {
        let mut g = GuestInfo::new();
        g.set("guestinfo.a", "1").unwrap();
        g.set("guestinfo.a", "2").unwrap();
        assert_eq!(g.get("guestinfo.a"), Some("2"));
        assert_eq!(g.len(), 1);
        assert_eq!(g.get("guestinfo.b"), None);
    }

    #[test]
    fn rejects_outside_namespace() {
        let mut g = GuestInfo::new();
        assert_eq!(g.set("vmx.x", "1"), Err(GuestInfoError::BadKey));
        assert_eq!(g.set("guestinfo.", "1"), Err(GuestInfoError::BadKey));
    }

    #[test]
    fn bounds() {
        let mut g = GuestInfo::new();
        let long_key = format!("guestinfo.{}", "k".repeat(MAX_KEY_LEN));
        assert!(matches!(
            g.set(&long_key, "v"),
            Err(GuestInfoError::KeyTooLong { .. })
        ));
        let big = "v".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(
            g.set("guestinfo.big", &big),
            Err(GuestInfoError::ValueTooLong {
                len: MAX_VALUE_LEN + 1
            })
        );
        g.set("guestinfo.max", &big[..MAX_VALUE_LEN]).unwrap();
        for i in 1..MAX_KEYS {
            g.set(&format!("guestinfo.k{i}"), "x").unwrap();
        }
        assert_eq!(g.set("guestinfo.overflow", "x"), Err(GuestInfoError::Full));
        // Replacing an existing key still works when full.
        g.set("guestinfo.k1", "y").unwrap();
        assert_eq!(g.get("guestinfo.k1"), Some("y"));
    }
}
