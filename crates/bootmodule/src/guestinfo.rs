//! The guestinfo blob of a VM record (format version 4): entries of
//! `u32 key_len, u32 value_len, key, value`, little endian, no padding.
//!
//! Walking a blob never panics and never allocates: every length is checked
//! against what is left of the blob before a slice is taken.

use crate::error::VmFieldError;
use crate::format::GUESTINFO_ENTRY_HEADER;
use crate::parse::read_u32;

/// Walks a guestinfo blob, yielding `(key, value)` in blob order. An empty blob
/// yields nothing. A malformed entry yields one `Err` (naming the entry's byte
/// offset in the blob) and ends the walk.
pub fn guestinfo_entries(blob: &[u8]) -> GuestinfoEntries<'_> {
    GuestinfoEntries { blob, at: 0 }
}

/// The iterator [`guestinfo_entries`] returns.
#[derive(Clone, Debug)]
pub struct GuestinfoEntries<'a> {
    blob: &'a [u8],
    /// Where the next entry starts; `blob.len()` when done (or after an error).
    at: usize,
}

impl<'a> GuestinfoEntries<'a> {
    /// The entry at `at` (< blob.len()) and where the next one starts.
    fn entry(&self, at: usize) -> Result<((&'a str, &'a str), usize), VmFieldError> {
        let at64 = at as u64;
        let truncated = VmFieldError::GuestinfoTruncated { at: at64 };
        let rest = self.blob.get(at..).ok_or(truncated)?;
        let header = rest.get(..GUESTINFO_ENTRY_HEADER).ok_or(truncated)?;
        let key_len = read_u32(header, 0) as usize;
        let value_len = read_u32(header, 4) as usize;
        let body = &rest[GUESTINFO_ENTRY_HEADER..];
        let key = body.get(..key_len).ok_or(truncated)?;
        let value = body
            .get(key_len..)
            .and_then(|b| b.get(..value_len))
            .ok_or(truncated)?;
        if key.is_empty() {
            return Err(VmFieldError::GuestinfoEmptyKey { at: at64 });
        }
        let not_utf8 = VmFieldError::GuestinfoNotUtf8 { at: at64 };
        let key = core::str::from_utf8(key).map_err(|_| not_utf8)?;
        let value = core::str::from_utf8(value).map_err(|_| not_utf8)?;
        // Both lengths were sliced out of `rest`, so the sum cannot overflow.
        let next = at + GUESTINFO_ENTRY_HEADER + key.len() + value.len();
        Ok(((key, value), next))
    }
}

impl<'a> Iterator for GuestinfoEntries<'a> {
    type Item = Result<(&'a str, &'a str), VmFieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.blob.len() {
            return None;
        }
        let at = self.at;
        let result = self.entry(at);
        self.at = match result {
            Ok((_, next)) => next,
            Err(_) => self.blob.len(),
        };
        Some(result.map(|(entry, _)| entry))
    }
}

impl core::iter::FusedIterator for GuestinfoEntries<'_> {}

/// Encodes `(key, value)` pairs as a guestinfo blob (keys as the guest sees
/// them, `guestinfo.<name>`). No pairs give an empty blob.
///
/// # Panics
///
/// If a key is empty or a key or value is 4 GiB or longer (callers validate
/// first; the VM config loader enforces the backdoor's far smaller limits).
#[cfg(any(test, feature = "std"))]
pub fn encode_guestinfo<'e>(entries: impl IntoIterator<Item = (&'e str, &'e str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in entries {
        assert!(!key.is_empty(), "guestinfo: empty key");
        let len = |s: &str| {
            u32::try_from(s.len()).unwrap_or_else(|_| panic!("guestinfo {key:?}: too long"))
        };
        out.extend_from_slice(&len(key).to_le_bytes());
        out.extend_from_slice(&len(value).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}
