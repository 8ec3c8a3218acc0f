//! Times on the command line: RFC 3339, a date, `now`, or `now` plus or minus a span.

use anyhow::{Result, bail};
use verge_core::{Duration, Timestamp};

use crate::source::timestamp::parse_timestamp;

/// Parses a time given on the command line, with `now` the current time.
///
/// Accepted: RFC 3339 (`2021-06-25T16:36:27Z`, any offset, fractions), the shapes
/// sources accept (`2021-06-25`, `2021-06-25 16:36:27`), `now`, and `now±N<unit>`
/// with unit `s`, `m`, `h`, `d` or `w` (`now-2000d`, `now+1h`).
///
/// # Examples
///
/// ```
/// use verge_core::Timestamp;
/// use verge_host::materialize::parse_time;
/// let now = Timestamp::from_secs(1_000_000);
/// assert_eq!(parse_time("now", now)?, now);
/// assert_eq!(parse_time("now-1d", now)?, Timestamp::from_secs(1_000_000 - 86_400));
/// assert_eq!(parse_time("1970-01-01T00:00:10Z", now)?, Timestamp::from_secs(10));
/// assert_eq!(parse_time("1970-01-02", now)?, Timestamp::from_secs(86_400));
/// assert!(parse_time("yesterday", now).is_err());
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// Anything else, with the accepted forms in the message.
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp> {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now);
        }
        if let Some(span) = parse_span(rest) {
            let micros = now.as_micros().checked_add(span);
            if let Some(m) = micros {
                return Ok(Timestamp(m));
            }
        }
    } else if let Some(ts) = Timestamp::parse_rfc3339(t) {
        return Ok(ts);
    } else if let Some(micros) = parse_timestamp(t) {
        return Ok(Timestamp(micros));
    }
    bail!(
        "`{text}` is not a time; give RFC 3339 (2021-06-25T16:36:27Z), a date (2021-06-25), `now`, or `now-30d` (units s, m, h, d, w)"
    )
}

/// `+N<unit>` or `-N<unit>` in µs.
fn parse_span(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1i64, &text[1..]),
        b'-' => (-1i64, &text[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let number: i64 = rest.get(..rest.len() - unit.len_utf8())?.parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let micros = number
        .checked_mul(secs)?
        .checked_mul(Duration::from_secs(1).as_micros())?;
    micros.checked_mul(sign)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_errors() {
        let now = Timestamp::from_secs(0);
        assert_eq!(
            parse_time("now+2h", now).unwrap(),
            Timestamp::from_secs(7200)
        );
        assert_eq!(
            parse_time("now-1w", now).unwrap(),
            Timestamp::from_secs(-7 * 86_400)
        );
        for bad in [
            "now-",
            "now-d",
            "now-5y",
            "now*2d",
            "",
            "2021-13-01",
            "now-99999999999999999d",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
