//! The firmware's time of day (UEFI GetTime) as seconds since the Unix
//! epoch, which Aerie takes as its wall clock on machines whose tree names
//! no PL031 (servers and QEMU's firmware with ACPI describe none).

/// A calendar time as UEFI's EFI_TIME gives it (UEFI 2.10 section 8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// EFI_TIME.TimeZone: minutes, with local time = UTC - TimeZone (UEFI
    /// 2.10 section 8.3; so UTC+1 is -60), or None where the firmware
    /// leaves it unspecified: the clock is then taken as UTC, as Linux's
    /// EFI RTC driver takes it.
    pub zone_minutes: Option<i16>,
}

/// Seconds since 1970-01-01 00:00 UTC, or None for a time before the epoch
/// or with a field out of its range.
pub fn unix_seconds(t: &FirmwareTime) -> Option<u64> {
    let (year, month) = (u64::from(t.year), u64::from(t.month));
    let days_in_month = aerie_civil::days_in_month(year, month)?;
    if year < 1970 || t.day == 0 || u64::from(t.day) > days_in_month || t.hour > 23 || t.minute > 59
    {
        return None;
    }
    if t.second > 59 || t.zone_minutes.is_some_and(|z| !(-1440..=1440).contains(&z)) {
        return None;
    }
    let days = aerie_civil::days_since_epoch(year, month, u64::from(t.day)) as i64;
    let local =
        days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second);
    let utc = local + 60 * i64::from(t.zone_minutes.unwrap_or(0));
    u64::try_from(utc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: u16, month: u8, day: u8, hms: (u8, u8, u8), zone: Option<i16>) -> Option<u64> {
        unix_seconds(&FirmwareTime {
            year,
            month,
            day,
            hour: hms.0,
            minute: hms.1,
            second: hms.2,
            zone_minutes: zone,
        })
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(1970, 1, 1, (0, 0, 0), None), Some(0));
        // `date -u -d '2000-02-29 12:34:56' +%s`
        assert_eq!(at(2000, 2, 29, (12, 34, 56), None), Some(951_827_696));
        // `date -u -d '2026-11-26 22:05:00' +%s`
        assert_eq!(at(2026, 11, 26, (22, 5, 0), Some(0)), Some(1_795_730_700));
        assert_eq!(at(2038, 1, 19, (3, 14, 8), None), Some(1 << 31));
        // The last second of a year, and the first of the next.
        assert_eq!(
            at(2024, 12, 31, (23, 59, 59), None).map(|s| s + 1),
            at(2025, 1, 1, (0, 0, 0), None)
        );
    }

    #[test]
    fn a_zone_is_taken_off_to_reach_utc() {
        let utc = at(2026, 11, 26, (22, 5, 0), None).unwrap();
        // 23:05 at UTC+1 (TimeZone -60) and 17:05 at UTC-5 (TimeZone
        // 300) are both 22:05 UTC.
        assert_eq!(at(2026, 11, 26, (23, 5, 0), Some(-60)), Some(utc));
        assert_eq!(at(2026, 11, 26, (17, 5, 0), Some(300)), Some(utc));
    }

    #[test]
    fn impossible_times_are_refused() {
        assert_eq!(at(1969, 12, 31, (23, 59, 59), None), None);
        assert_eq!(
            at(1970, 1, 1, (0, 30, 0), Some(-60)),
            None,
            "before the epoch in UTC"
        );
        assert_eq!(at(2023, 2, 29, (0, 0, 0), None), None);
        assert_eq!(
            at(1900, 2, 29, (0, 0, 0), None),
            None,
            "1900 was not a leap year"
        );
        assert!(at(2000, 2, 29, (0, 0, 0), None).is_some());
        assert_eq!(at(2026, 13, 1, (0, 0, 0), None), None);
        assert_eq!(at(2026, 4, 31, (0, 0, 0), None), None);
        assert_eq!(at(2026, 1, 1, (24, 0, 0), None), None);
        assert_eq!(at(2026, 1, 1, (0, 0, 60), None), None);
        assert_eq!(at(2026, 1, 1, (0, 0, 0), Some(1441)), None);
    }
}
