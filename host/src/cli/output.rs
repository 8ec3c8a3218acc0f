//! Small output helpers shared by the commands: times, change lists, JSON, progress.

use std::io::{IsTerminal as _, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value as Json, json};
use verge_core::registry::Change;
use verge_core::{ContentId, Timestamp};

/// RFC 3339 in UTC with whole seconds (`2021-06-25T16:36:27Z`), or with
/// microseconds when there are any.
///
/// # Examples
///
/// ```
/// use verge_core::Timestamp;
/// use verge_host::cli::output::rfc3339;
/// assert_eq!(rfc3339(Timestamp::from_secs(1_624_638_987)), "2021-06-25T16:36:27Z");
/// assert_eq!(rfc3339(Timestamp::from_micros(-1)), "1969-12-31T23:59:59.999999Z");
/// ```
#[must_use]
pub fn rfc3339(t: Timestamp) -> String {
    let micros = t.as_micros();
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub use verge_host::store::apply::{counts, counts_text};

/// One change as JSON: `{"op": "created", "kind": "feature_view", "name": "..."}`.
#[must_use]
pub fn change_json(change: &Change) -> Json {
    json!({ "op": change.op.name(), "kind": change.kind.table(), "name": change.name })
}

/// Warnings for `--json` output: `[{"message": ..., "count": ...}]`.
#[must_use]
pub fn warnings_json(warnings: &verge_host::warnings::Warnings) -> Json {
    warnings
        .iter()
        .map(|w| json!({"message": w.message, "count": w.count}))
        .collect()
}

/// An optional id as JSON: hex or null.
#[must_use]
pub fn id_json(id: Option<ContentId>) -> Json {
    id.map_or(Json::Null, |id| Json::String(id.to_string()))
}

/// Writes `text` and a newline to stdout: `println!` without its panic when
/// the reader has gone (`verge run | head`), which `main` treats as success.
///
/// # Errors
///
/// When stdout cannot be written.
pub fn print_line(text: impl std::fmt::Display) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")
}

/// Writes `value` as pretty JSON and a newline to stdout.
///
/// # Errors
///
/// When stdout cannot be written (a closed pipe is handled by `main`).
pub fn print_json(value: &Json) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes the changes as an indented list, one per line.
///
/// # Errors
///
/// When `out` cannot be written.
pub fn write_changes(out: &mut impl Write, changes: &[Change]) -> std::io::Result<()> {
    for c in changes {
        writeln!(out, "  {c}")?;
    }
    Ok(())
}

/// A spinner on stderr, but only when stderr is a terminal and not `--quiet`;
/// otherwise `None`, so logs and pipes stay clean.
#[must_use]
pub fn spinner(quiet: bool, message: &str) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_values() {
        assert_eq!(rfc3339(Timestamp::from_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Timestamp::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_micros(1_500_000)),
            "1970-01-01T00:00:01.500000Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_secs(-86_400)),
            "1969-12-31T00:00:00Z"
        );
    }
}
