//! Memory sizes: `"64M"`, `"1G"`, `"512K"` (binary units) or a plain byte count.

/// Smallest guest RAM accepted: room for a kernel, its DT and initrd.
pub const MEMORY_MIN: u64 = 16 << 20;
/// Guest RAM must be a multiple of this so stage 2 can map it with 2 MiB blocks.
pub const MEMORY_ALIGN: u64 = 2 << 20;

/// Parses `digits[K|M|G]` (either case; K = 1024). Returns `None` for anything
/// else, including overflow.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' | b'm' => (&text[..text.len() - 1], 20),
        b'G' | b'g' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_units() {
        assert_eq!(parse_size("64M"), Some(64 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512k"), Some(512 * 1024));
        assert_eq!(parse_size("64G"), Some(64 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
    }

    #[test]
    fn rejects_non_sizes() {
        for bad in [
            "12Q",
            "",
            "M",
            "-1M",
            "1.5G",
            "1 G",
            "0x100",
            "1MB",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
        // Overflow on the multiply.
        assert_eq!(parse_size("17179869184G"), None);
    }
}
