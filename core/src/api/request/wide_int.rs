//! The words for an integer join key beyond int64's range, quoted as the
//! client wrote it: serde_json reads such an integer as a float (`1e+20`),
//! which is not what the client sent, so the literal is recovered from the body.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::decode::Cell;

/// For a JSON number that int64 cannot hold but that was written as an
/// integer, the words for an error: the literal as the client wrote it (not
/// serde_json's `1e+20`, which is how a too-wide integer comes back as a
/// float) and int64's range. `None` for anything else.
pub(super) fn beyond_int64(cell: &Cell<'_>, body: &[u8]) -> Option<String> {
    let Cell::Number(n) = cell else {
        return None;
    };
    if n.as_i64().is_some() {
        return None;
    }
    let written = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => u.to_string(),
        (None, Some(f)) if f.is_finite() && f == libm::trunc(f) => integer_literals(body)
            .into_iter()
            // serde_json's own parser, which made `f`: the same rounding, and
            // no second float parser (core's carries a 10 KB table) in the Wasm.
            .find(|t| serde_json::from_str::<f64>(t).ok() == Some(f))?
            .to_string(),
        _ => return None,
    };
    Some(format!(
        "{written}, which is beyond int64's range ({} to {})",
        i64::MIN,
        i64::MAX
    ))
}

/// Every number token of `body` written as a plain integer (`-?[0-9]+`), in
/// order, skipping the insides of strings. A token scanner, not a parser: the
/// body has already been parsed, this only recovers how numbers were written.
fn integer_literals(body: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = body.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while body
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let token = body.get(start..i).unwrap_or_default();
                if token.iter().skip(1).all(u8::is_ascii_digit)
                    && let Ok(text) = core::str::from_utf8(token)
                {
                    out.push(text);
                }
            }
            _ => i += 1,
        }
    }
    out
}
