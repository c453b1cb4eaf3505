//! The SD Host Controller Simplified Specification's clock arithmetic
//! (version 4.20, section 2.2.14), for a standard SDHCI: the SD clock is
//! the base clock divided by 2N, N a 10-bit divisor (0: the base clock
//! itself), whose low 8 bits sit in Clock Control bits 15:8 and high 2 in
//! bits 7:6.

/// Transfer Mode (section 2.2.5), the low half of the Command register's
/// word; the i.MX uSDHC keeps the same bits in MIX_CTRL: the block count
/// counts, Auto CMD12 ends the transfer, the data comes from the card,
/// more than one block.
pub const TM_BLOCK_COUNT: u32 = 1 << 1;
pub const TM_AUTO_CMD12: u32 = 1 << 2;
pub const TM_READ: u32 = 1 << 4;
pub const TM_MULTIPLE: u32 = 1 << 5;

/// The transfer mode for `blocks` blocks (at least one) in the direction
/// `read` says: a multiple-block transfer counts its blocks and has the
/// controller send the CMD12 that stops it.
pub const fn transfer_mode(blocks: usize, read: bool) -> u32 {
    let direction = if read { TM_READ } else { 0 };
    if blocks > 1 {
        direction | TM_BLOCK_COUNT | TM_AUTO_CMD12 | TM_MULTIPLE
    } else {
        direction
    }
}

/// The divisor N giving at most `max_hz` from `base_hz`: 0 when the base
/// clock is slow enough already, else the smallest N that is, at most
/// 1023 (the slowest clock the field can say).
pub fn clock_divisor(base_hz: u64, max_hz: u64) -> u32 {
    if base_hz <= max_hz {
        return 0;
    }
    base_hz.div_ceil(2 * max_hz).min(0x3ff) as u32
}

/// N in Clock Control's layout: bits 15:8 its low 8 bits, 7:6 its high 2.
pub const fn clock_control_divisor(n: u32) -> u32 {
    ((n & 0xff) << 8) | (((n >> 8) & 3) << 6)
}

/// The SD clock divisor N gives from `base_hz`.
pub const fn clock_hz(base_hz: u64, n: u32) -> u64 {
    if n == 0 {
        base_hz
    } else {
        base_hz / (2 * n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_never_exceed_the_clock_asked_for() {
        // QEMU's SDHCI says 52 MHz; the Pi 4's EMMC2 runs at 100 MHz.
        for base in [52_000_000, 100_000_000, 200_000_000, 25_000_000] {
            for max in [400_000, 25_000_000] {
                let n = clock_divisor(base, max);
                assert!(clock_hz(base, n) <= max, "{base} {max} {n}");
                // And the next faster setting would be too fast.
                if n > 1 {
                    assert!(clock_hz(base, n - 1) > max, "{base} {max} {n}");
                }
            }
        }
        assert_eq!(clock_divisor(52_000_000, 400_000), 65);
        assert_eq!(clock_divisor(100_000_000, 25_000_000), 2);
        assert_eq!(clock_divisor(25_000_000, 25_000_000), 0);
    }

    #[test]
    fn multiple_blocks_count_and_stop_themselves() {
        assert_eq!(transfer_mode(1, true), TM_READ);
        assert_eq!(transfer_mode(1, false), 0);
        assert_eq!(transfer_mode(8, true), 0b11_0110);
        assert_eq!(transfer_mode(8, false), 0b10_0110);
    }

    #[test]
    fn a_base_too_fast_for_the_field_gets_its_slowest_clock() {
        assert_eq!(clock_divisor(1_000_000_000, 400_000), 0x3ff);
    }

    #[test]
    fn the_divisor_splits_across_clock_control() {
        assert_eq!(clock_control_divisor(65), 65 << 8);
        assert_eq!(clock_control_divisor(0x155), (0x55 << 8) | (1 << 6));
        assert_eq!(clock_control_divisor(0x3ff), 0xffc0);
    }
}
