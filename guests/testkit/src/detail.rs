//! A fixed-capacity text buffer for test details (no allocator in the testkit).

use core::fmt;

const CAPACITY: usize = 200;

/// Short text attached to a PASS or FAIL line. Overlong text is truncated.
pub struct Detail {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Detail {
    pub const fn empty() -> Self {
        Self {
            buf: [0; CAPACITY],
            len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn from_args(args: fmt::Arguments<'_>) -> Self {
        let mut detail = Self::empty();
        // write_str below truncates instead of failing.
        let _ = fmt::Write::write_fmt(&mut detail, args);
        detail
    }

    pub fn as_str(&self) -> &str {
        // Only whole `str`s are appended, but truncation can split a UTF-8
        // sequence: fall back to the valid prefix.
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl fmt::Write for Detail {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            if self.len == CAPACITY {
                break;
            }
            self.buf[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds a `Detail` with `format!` syntax.
macro_rules! detail {
    ($($arg:tt)*) => { $crate::detail::Detail::from_args(format_args!($($arg)*)) };
}

/// Returns early from a test with a FAIL detail.
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::detail::detail!($($arg)*)) };
}

pub(crate) use {detail, fail};
