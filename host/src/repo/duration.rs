//! Durations as written in `verge.toml`: `"1d"`, `"12h"`, `"30m"`, `"45s"`, `"1h30m"`, or `0`.
//!
//! TTLs are the one place users write a span of time, so the syntax is small and
//! strict: a number is always followed by its unit, and only `0` may stand alone
//! (it means "no limit"). A bare `86400` is refused rather than guessed at.

use verge_core::Duration;

/// Units accepted after a number, longest suffix first so `ms` wins over `m`.
const UNITS: [(&str, i64); 6] = [
    ("ms", 1_000),
    ("us", 1),
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
];

/// The hint shown whenever a duration does not parse.
pub const HINT: &str = "write e.g. \"1d\", \"12h\", \"30m\", \"45s\" or 0 (no limit)";

/// Parses a TTL string: one or more `<digits><unit>` parts (`d`, `h`, `m`, `s`,
/// `ms`, `us`), or `"0"`.
///
/// # Examples
///
/// ```
/// use verge_core::Duration;
/// use verge_host::repo::duration::parse;
/// assert_eq!(parse("1d"), Some(Duration::from_days(1)));
/// assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse("0"), Some(Duration::ZERO));
/// assert_eq!(parse("1 day"), None);
/// assert_eq!(parse("86400"), None);
/// ```
#[must_use]
pub fn parse(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let number: i64 = number.parse().ok()?;
        let (unit, micros) = UNITS.iter().find(|(u, _)| after.starts_with(u))?;
        total = total.checked_add(number.checked_mul(*micros)?)?;
        rest = &after[unit.len()..];
    }
    Some(Duration::from_micros(total))
}

/// Formats a duration the way [`parse`] reads it, in the largest exact unit.
///
/// # Examples
///
/// ```
/// use verge_core::Duration;
/// use verge_host::repo::duration::{format, parse};
/// assert_eq!(format(Duration::from_days(2)), "2d");
/// assert_eq!(format(Duration::from_secs(5400)), "90m");
/// assert_eq!(format(Duration::ZERO), "0");
/// assert_eq!(parse(&format(Duration::from_micros(1500))), Some(Duration::from_micros(1500)));
/// ```
#[must_use]
pub fn format(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros == 0 {
        return "0".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1_000),
    ] {
        if micros % size == 0 {
            return format!("{}{unit}", micros / size);
        }
    }
    format!("{micros}us")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse("2d12h"), Some(Duration::from_secs(216_000)));
        assert_eq!(parse("250ms"), Some(Duration::from_micros(250_000)));
        assert_eq!(parse("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn refuses_garbage_and_overflow() {
        for bad in [
            "",
            "d",
            "1",
            "1x",
            "1 d",
            "-1d",
            "1d ",
            "1.5h",
            "99999999999999999999d",
            "9223372036854775807d",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for micros in [
            1,
            999,
            1_000,
            1_000_000,
            61_000_000,
            3_600_000_000,
            86_400_000_000 * 7,
            i64::MAX,
        ] {
            let d = Duration::from_micros(micros);
            assert_eq!(parse(&format(d)), Some(d), "{micros}");
        }
    }
}
