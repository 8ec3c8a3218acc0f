//! RFC 3339 timestamps in and out, without a date-time crate.
//!
//! verge keeps time as microseconds since the Unix epoch (UTC). Sources and entity
//! tables spell time as text in a handful of shapes, and training sets are written
//! back as RFC 3339 with `Z`. Everything needed for that is two small calendar
//! functions (Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for
//! the whole proleptic Gregorian calendar), so a dependency on `chrono` or `time`
//! would buy nothing but compile time.
//!
//! Accepted input shapes (leading and trailing spaces are ignored):
//!
//! | shape | example | meaning |
//! |---|---|---|
//! | RFC 3339 | `2021-06-25T16:36:27.5+02:00` | as written, converted to UTC |
//! | RFC 3339, `Z` | `2021-06-25T16:36:27Z` | UTC |
//! | naive date-time | `2021-06-25 16:36:27[.ffffff]` or `T` | taken as UTC |
//! | date | `2021-06-25` | midnight UTC |
//!
//! Fractions may have 1 to 9 digits; digits beyond microseconds are truncated
//! (towards the past). Offsets may be `±HH:MM` or `±HHMM`. A leap second (`:60`)
//! is rejected rather than silently folded into the next minute.

use alloc::format;
use alloc::string::String;
use core::fmt::Write as _;

/// Microseconds in one second.
const MICROS_PER_SEC: i64 = 1_000_000;
/// Seconds in one day.
const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
///
/// `month` is 1..=12 and `day` 1..=31; the caller checks the day fits the month.
#[must_use]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March so the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11], March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of `days` since 1970-01-01.
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction; the fallbacks are never taken.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

/// A cursor over ASCII bytes for the fixed-width fields of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let field = self.bytes.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &b in field {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        self.pos += n;
        Some(v)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Parses a timestamp in one of the shapes in the module docs into microseconds
/// since the epoch (UTC). Returns `None` for anything else, including dates that
/// do not exist (`2021-02-30`) and results outside `i64` microseconds.
///
/// # Examples
///
/// ```
/// use verge_core::time::rfc3339::parse_timestamp;
/// assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
/// assert_eq!(parse_timestamp("1970-01-01T02:00:00.5+02:00"), Some(500_000));
/// assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
/// assert_eq!(parse_timestamp("1624638987"), None);
/// ```
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let mut c = Cursor {
        bytes: text.trim().as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if c.done() {
        return days.checked_mul(SECS_PER_DAY * MICROS_PER_SEC);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let second = c.digits(2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut micros = 0i64;
    if c.eat(b'.') {
        let mut n = 0;
        while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
            if n < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
            n += 1;
            c.pos += 1;
        }
        if !(1..=9).contains(&n) {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if sign == b'+' { secs } else { -secs }
        }
        Some(_) => return None,
    };
    if !c.done() {
        return None;
    }
    let secs = days
        .checked_mul(SECS_PER_DAY)?
        .checked_add(i64::from(hour * 3600 + minute * 60 + second))?
        .checked_sub(offset_secs)?;
    secs.checked_mul(MICROS_PER_SEC)?.checked_add(micros)
}

/// Formats seconds and nanoseconds since the epoch as RFC 3339 in UTC with `Z`.
///
/// The fraction is left out when zero, printed with 6 digits when the time is a
/// whole microsecond, and with 9 otherwise, so every value prints exactly.
/// Years outside 0000..=9999 (which RFC 3339 cannot spell) print with as many
/// digits as they need and a sign when negative, rather than failing.
///
/// # Examples
///
/// ```
/// use verge_core::time::rfc3339::format_nanos;
/// assert_eq!(format_nanos(1_624_638_987_000_000_000), "2021-06-25T16:36:27Z");
/// assert_eq!(format_nanos(-1), "1969-12-31T23:59:59.999999999Z");
/// ```
#[must_use]
pub fn format_nanos(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    // Below one second: fits u32.
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    // i128 nanoseconds from any i64 µs/ms/s value divide down to well inside i64 days.
    let days = i64::try_from(secs.div_euclid(i128::from(SECS_PER_DAY))).unwrap_or(i64::MAX);
    let sod = secs.rem_euclid(i128::from(SECS_PER_DAY)) as u32;
    format_parts(days, sod, sub)
}

/// `days` since the epoch, `sod` seconds of that day and `sub` nanoseconds,
/// as [`format_nanos`] prints them. Digits are pushed by hand: this runs for
/// every timestamp an answer carries, and `core::fmt` cost most of it.
fn format_parts(days: i64, sod: u32, sub: u32) -> String {
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(32);
    match u32::try_from(year) {
        Ok(year @ 0..=9999) => push_digits(&mut out, year, 4),
        _ => {
            let _ = write!(out, "{year:+05}");
        }
    }
    out.push('-');
    push_digits(&mut out, month, 2);
    out.push('-');
    push_digits(&mut out, day, 2);
    out.push('T');
    push_digits(&mut out, sod / 3600, 2);
    out.push(':');
    push_digits(&mut out, sod % 3600 / 60, 2);
    out.push(':');
    push_digits(&mut out, sod % 60, 2);
    if sub != 0 {
        out.push('.');
        if sub.is_multiple_of(1000) {
            push_digits(&mut out, sub / 1000, 6);
        } else {
            push_digits(&mut out, sub, 9);
        }
    }
    out.push('Z');
    out
}

/// `n`'s last `width` decimal digits, zero-padded (`width` ≤ 10).
fn push_digits(out: &mut String, mut n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &d in &digits[..width] {
        out.push(char::from(d));
    }
}

/// Formats microseconds since the epoch as RFC 3339 in UTC with `Z`
/// (see [`format_nanos`] for the fraction rules).
///
/// # Examples
///
/// ```
/// use verge_core::time::rfc3339::format_micros;
/// assert_eq!(format_micros(1_500_000), "1970-01-01T00:00:01.500000Z");
/// ```
#[must_use]
pub fn format_micros(micros: i64) -> String {
    // In i64 (as format_nanos would compute in i128): whole seconds, then days.
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let sub = (micros.rem_euclid(MICROS_PER_SEC) * 1000) as u32;
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
    format_parts(days, sod, sub)
}

/// Formats days since the epoch as `YYYY-MM-DD`.
#[must_use]
pub fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:+05}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn civil_round_trips_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn parses_every_shape() {
        let t = 1_624_638_987_000_000; // 2021-06-25T16:36:27Z
        assert_eq!(parse_timestamp("2021-06-25T16:36:27Z"), Some(t));
        assert_eq!(parse_timestamp("2021-06-25t16:36:27z"), Some(t));
        assert_eq!(parse_timestamp(" 2021-06-25 16:36:27 "), Some(t));
        assert_eq!(parse_timestamp("2021-06-25T18:36:27+02:00"), Some(t));
        assert_eq!(parse_timestamp("2021-06-25T14:06:27-0230"), Some(t));
        assert_eq!(
            parse_timestamp("2021-06-25T16:36:27.25Z"),
            Some(t + 250_000)
        );
        assert_eq!(
            parse_timestamp("2021-06-25 16:36:27.123456789"),
            Some(t + 123_456)
        );
        assert_eq!(parse_timestamp("2021-06-25"), Some(t - 59_787_000_000));
        assert_eq!(
            parse_timestamp("1969-12-31T23:59:59.5Z"),
            Some(-500_000),
            "fractions add to the (negative) second"
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "1624638987",
            "2021-6-25",
            "2021-02-29",
            "2021-13-01",
            "2021-06-25T24:00:00Z",
            "2021-06-25T23:59:60Z",
            "2021-06-25T16:36",
            "2021-06-25T16:36:27.",
            "2021-06-25T16:36:27.1234567890Z",
            "2021-06-25T16:36:27+2",
            "2021-06-25T16:36:27Zjunk",
            "2021-06-25X16:36:27",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert!(parse_timestamp("2020-02-29").is_some());
    }

    #[test]
    fn formats_fractions_exactly() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(format_nanos(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(format_micros(i64::MIN), "-290308-12-21T19:59:05.224192Z");
        assert_eq!(format_date(-1), "1969-12-31");
    }

    /// The formatter as first written, with `core::fmt`: what the digits
    /// pushed by hand must print.
    fn reference_format_nanos(nanos: i128) -> String {
        let secs = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000);
        let days = i64::try_from(secs.div_euclid(i128::from(SECS_PER_DAY))).unwrap_or(i64::MAX);
        let sod = secs.rem_euclid(i128::from(SECS_PER_DAY));
        let (year, month, day) = civil_from_days(days);
        let mut out = String::new();
        if (0..=9999).contains(&year) {
            let _ = write!(out, "{year:04}");
        } else {
            let _ = write!(out, "{year:+05}");
        }
        let _ = write!(
            out,
            "-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        );
        if sub != 0 {
            if sub % 1000 == 0 {
                let _ = write!(out, ".{:06}", sub / 1000);
            } else {
                let _ = write!(out, ".{sub:09}");
            }
        }
        out.push('Z');
        out
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -1_000_000_000i64..1_000_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn formatting_by_hand_equals_formatting_with_core_fmt(micros in any::<i64>(), nanos in any::<i64>()) {
            prop_assert_eq!(format_micros(micros), reference_format_nanos(i128::from(micros) * 1000));
            let wide = i128::from(nanos) * 1000 + i128::from(nanos % 1000);
            prop_assert_eq!(format_nanos(wide), reference_format_nanos(wide));
            prop_assert_eq!(format_nanos(i128::from(nanos)), reference_format_nanos(i128::from(nanos)));
        }

        #[test]
        fn format_then_parse_is_identity(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
            // The range is 0001-01-01 ..= 9999-12-31, what four-digit years spell.
            prop_assert_eq!(parse_timestamp(&format_micros(micros)), Some(micros));
        }
    }
}
