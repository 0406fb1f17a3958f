//! Calendar dates as `YYYY-MM-DD` strings and months as `YYYY-MM`, with the little arithmetic
//! the rules need (days between dates, the local date of a device time).
//!
//! Dates are strings in documents because that is what every client language reads and writes
//! without a library, and they sort correctly as text. Times are Unix milliseconds (`i64`).
//! The department works in one time zone; its offset from UTC is passed in (China: +480 min).

/// Minutes east of UTC for China Standard Time, the default for a department.
pub const CHINA_UTC_OFFSET_MIN: i32 = 8 * 60;

const MS_PER_DAY: i64 = 86_400_000;

/// A valid calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year (1970–9999 accepted by `parse`).
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Date {
    /// Parses `YYYY-MM-DD`; `None` for anything else, including 2026-02-30.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year: i32 = text[0..4].parse().ok()?;
        let month: u32 = text[5..7].parse().ok()?;
        let day: u32 = text[8..10].parse().ok()?;
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (the civil-from-days algorithm, proleptic Gregorian).
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The local date of a Unix-millisecond time in a zone `offset_min` east of UTC.
    pub fn of_time(ms: i64, offset_min: i32) -> Date {
        let local = ms + i64::from(offset_min) * 60_000;
        Date::from_days_since_epoch(local.div_euclid(MS_PER_DAY))
    }

    /// Unix milliseconds of local midnight starting this date.
    pub fn start_ms(&self, offset_min: i32) -> i64 {
        self.days_since_epoch() * MS_PER_DAY - i64::from(offset_min) * 60_000
    }

    /// Whole days from `self` to `other` (positive when `other` is later).
    pub fn days_until(&self, other: &Date) -> i64 {
        other.days_since_epoch() - self.days_since_epoch()
    }

    /// This date plus `days`.
    pub fn add_days(&self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// `YYYY-MM` of this date.
    pub fn month_key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `text` is a month `YYYY-MM`.
pub fn is_month(text: &str) -> bool {
    text.len() == 7 && Date::parse(&format!("{text}-01")).is_some()
}

/// Minutes after local midnight of a Unix-millisecond time.
pub fn minute_of_day(ms: i64, offset_min: i32) -> i64 {
    (ms + i64::from(offset_min) * 60_000).rem_euclid(MS_PER_DAY) / 60_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert!(Date::parse("2026-02-28").is_some());
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2028-02-29").is_some());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("2026-1-01").is_none());
        assert!(is_month("2026-11"));
        assert!(!is_month("2026-00"));
    }

    #[test]
    fn day_arithmetic_round_trips() {
        for days in [-1000, 0, 1, 59, 365, 20_000, 30_000] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        let d = Date::parse("2026-11-22").unwrap_or_else(|| unreachable!());
        assert_eq!(d.add_days(10).to_string(), "2026-12-02");
        assert_eq!(d.days_until(&d.add_days(-3)), -3);
    }

    #[test]
    fn local_dates_in_china() {
        // 2026-11-22T16:30:00Z is 00:30 on the 23rd in Beijing.
        let d = Date::parse("2026-11-22").unwrap_or_else(|| unreachable!());
        let ms = d.start_ms(0) + (16 * 60 + 30) * 60_000;
        assert_eq!(Date::of_time(ms, CHINA_UTC_OFFSET_MIN).to_string(), "2026-11-23");
        assert_eq!(minute_of_day(ms, CHINA_UTC_OFFSET_MIN), 30);
    }
}
