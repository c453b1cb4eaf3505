//! Calendar dates (proleptic Gregorian) as days since 1970-01-01: what the
//! UEFI loader turns the firmware's clock into, and what the xtask turns a
//! date a guest printed into.
#![cfg_attr(not(test), no_std)]

/// Whether `year` has a 29 February.
pub fn leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days in `month` (1..=12) of `year`, or None for no such month.
pub fn days_in_month(year: u64, month: u64) -> Option<u64> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// Days from 1970-01-01 to the given date, for a date from 1970 on with
/// `month` in 1..=12 (the caller checks them). Years are counted from
/// March, so that the leap day ends a year.
pub fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(1970, 3, 1), 59);
        // `date -u -d 2000-02-29 +%s` / 86400, and the day after.
        assert_eq!(days_since_epoch(2000, 2, 29), 11_016);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        assert_eq!(days_since_epoch(2026, 11, 26), 20_783);
        // A year's last day and the next one's first.
        assert_eq!(
            days_since_epoch(2024, 12, 31) + 1,
            days_since_epoch(2025, 1, 1)
        );
    }

    #[test]
    fn month_lengths_and_leap_years() {
        assert_eq!(days_in_month(2023, 2), Some(28));
        assert_eq!(days_in_month(2024, 2), Some(29));
        assert_eq!(days_in_month(1900, 2), Some(28), "1900 was not a leap year");
        assert_eq!(days_in_month(2000, 2), Some(29));
        assert_eq!(days_in_month(2026, 4), Some(30));
        assert_eq!(days_in_month(2026, 12), Some(31));
        assert_eq!(days_in_month(2026, 13), None);
        assert_eq!(days_in_month(2026, 0), None);
    }
}
