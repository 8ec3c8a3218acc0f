//! The JSON writer every API answer is printed with: bytes go straight into
//! one buffer, with no tree of `serde_json::Value`s built first.
//!
//! Building that tree cost most of a small request's time (an allocation per
//! value, status and timestamp, and a sorted map per object). The writer
//! prints exactly what `serde_json::to_vec` prints for the same tree: floats
//! with zmij (serde_json's own formatter), integers with itoa, strings escaped
//! by serde_json's rules, non-finite floats as `null`. Callers write an
//! object's members in sorted key order, as serde_json's map prints them. The
//! tests hold it to serde_json byte for byte.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Timestamp;
use crate::value::{KeyPart, Value};

/// Whether any byte of `bytes` is one JSON escapes (`"`, `\\`, below U+0020),
/// tested eight bytes at a time: feature names are most of an answer's text.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero iff some byte of `x` is zero (the classic test; which high bits
    // are set can be off past the first zero byte, but never whether any is).
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // Below 0x20: the high three bits are zero; ASCII bytes of 0x80 and
        // more are UTF-8 pieces, which never need escaping.
        let control = zero_byte(x & u64::from_ne_bytes([0xe0; 8]));
        let quote = zero_byte(x ^ u64::from_ne_bytes([b'"'; 8]));
        let backslash = zero_byte(x ^ u64::from_ne_bytes([b'\\'; 8]));
        if control | quote | backslash != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// The buffer being written.
#[derive(Debug, Default)]
pub(crate) struct JsonOut {
    buf: Vec<u8>,
    /// The last timestamp printed and its text: the features of one view
    /// share their row's time, so most cells repeat the previous one.
    last_time: Option<(Timestamp, String)>,
}

impl JsonOut {
    pub(crate) fn with_capacity(n: usize) -> JsonOut {
        JsonOut {
            buf: Vec::with_capacity(n),
            last_time: None,
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The text written (valid UTF-8: every writer appends whole UTF-8 pieces).
    pub(crate) fn into_string(self) -> String {
        String::from_utf8(self.buf).unwrap_or_default()
    }

    /// Punctuation or a keyword, as is.
    pub(crate) fn raw(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// A comma before every element but the first.
    pub(crate) fn comma(&mut self, i: usize) {
        if i > 0 {
            self.buf.push(b',');
        }
    }

    /// A JSON string, escaped as serde_json escapes: `"`, `\` and the control
    /// characters below U+0020 (short forms where JSON has them), nothing else.
    pub(crate) fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        // Most text (names, ids, times) needs no escape: one copy, no per-byte branches.
        if !needs_escape(bytes) {
            self.buf.extend_from_slice(bytes);
            self.buf.push(b'"');
            return;
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => b"",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.buf.extend_from_slice(b"\\u00");
                self.buf.push(HEX[usize::from(b >> 4)]);
                self.buf.push(HEX[usize::from(b & 0xf)]);
            } else {
                self.buf.extend_from_slice(escape);
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }

    /// A JSON array of strings, each escaped as [`JsonOut::string`] escapes.
    pub(crate) fn strings<'s>(&mut self, items: impl IntoIterator<Item = &'s str>) {
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            self.comma(i);
            self.string(item);
        }
        self.buf.push(b']');
    }

    /// A content id as its quoted hex (nothing to escape, nothing to allocate).
    pub(crate) fn id(&mut self, id: &crate::ContentId) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(&id.to_hex());
        self.buf.push(b'"');
    }

    pub(crate) fn int(&mut self, i: i64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    }

    pub(crate) fn uint(&mut self, u: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    }

    /// A parsed JSON number, as serde_json prints it back.
    pub(crate) fn number(&mut self, n: &serde_json::Number) {
        if let Some(u) = n.as_u64() {
            self.uint(u);
        } else if let Some(i) = n.as_i64() {
            self.int(i);
        } else if let Some(x) = n.as_f64() {
            self.float(x);
        }
    }

    /// `"key":`, a member's name.
    pub(crate) fn key_name(&mut self, key: &str) {
        self.string(key);
        self.buf.push(b':');
    }

    /// A float in its shortest round-trip form; JSON has no NaN or infinity,
    /// so those are `null` (as `value_to_json` makes them).
    pub(crate) fn float(&mut self, x: f64) {
        if x.is_finite() {
            self.buf
                .extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
        } else {
            self.raw("null");
        }
    }

    /// A value exactly as [`super::value_to_json`] prints it.
    pub(crate) fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.raw("null"),
            Value::Bool(true) => self.raw("true"),
            Value::Bool(false) => self.raw("false"),
            Value::Int32(i) => self.int(i64::from(*i)),
            Value::Int64(i) => self.int(*i),
            Value::Float32(x) => self.float(f64::from(*x)),
            Value::Float64(x) => self.float(*x),
            Value::String(s) => self.string(s),
            Value::Bytes(b) => self.string(&super::base64_of(b)),
            Value::Timestamp(t) => self.time(*t),
            // Stored in canonical form (serde_json's compact output, keys
            // sorted), which is what printing the parsed value gives.
            Value::Json(text) => self.raw(text),
            Value::Array(a) => {
                self.raw("[");
                for i in 0..a.len() {
                    self.comma(i);
                    if let Some(v) = a.get(i) {
                        self.value(&v);
                    }
                }
                self.raw("]");
            }
        }
    }

    /// A key part exactly as [`super::key_to_json`] prints it.
    pub(crate) fn key(&mut self, part: &KeyPart) {
        match part {
            KeyPart::Int64(i) => self.int(*i),
            KeyPart::String(s) => self.string(s),
        }
    }

    /// A timestamp as an RFC 3339 string.
    pub(crate) fn time(&mut self, ts: Timestamp) {
        if self.last_time.as_ref().is_none_or(|(t, _)| *t != ts) {
            self.last_time = Some((ts, ts.to_rfc3339()));
        }
        if let Some((_, text)) = &self.last_time {
            self.buf.push(b'"');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.push(b'"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn serde(json: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(json).unwrap_or_default()
    }

    #[test]
    fn the_word_at_a_time_escape_test_agrees_with_the_byte_test() {
        let naive = |bytes: &[u8]| bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        // Every byte at every place of words and tails.
        for len in 0..=17 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(
                        needs_escape(&bytes),
                        naive(&bytes),
                        "{b:#x} at {at} of {len}"
                    );
                }
            }
        }
        // Pairs of the bytes next to each boundary, where a borrow could mislead.
        let edges = [
            0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xe0, 0xff,
        ];
        for len in 2..=17 {
            for (at, other) in (0..len).flat_map(|a| (0..len).map(move |o| (a, o))) {
                for (&b, &c) in edges.iter().flat_map(|b| edges.iter().map(move |c| (b, c))) {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    bytes[other] = c;
                    assert_eq!(needs_escape(&bytes), naive(&bytes), "{bytes:x?}");
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u8..0x80).map(char::from).collect();
        every.push_str("é€😀\u{7f}\u{2028}/");
        for s in [every.as_str(), "", "plain", "a\"b\\c", "\u{0}\u{1f}"] {
            let mut out = JsonOut::default();
            out.string(s);
            assert_eq!(
                out.into_bytes(),
                serde(&serde_json::Value::String(s.to_string())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers_print_as_serde_json_prints_them() {
        let floats = [
            0.0,
            -0.0,
            1.0,
            0.1,
            1e21,
            1e-7,
            123_456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::from(0.3f32),
            -2.5e300,
        ];
        for x in floats {
            let mut out = JsonOut::default();
            out.float(x);
            let want = serde(&crate::api::value_to_json(&Value::Float64(x)));
            assert_eq!(out.into_bytes(), want, "{x:e}");
        }
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut out = JsonOut::default();
            out.float(x);
            assert_eq!(out.into_bytes(), b"null");
        }
        for i in [0, -1, i64::MAX, i64::MIN, 42] {
            let mut out = JsonOut::default();
            out.int(i);
            assert_eq!(out.into_bytes(), serde(&serde_json::Value::from(i)));
        }
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Float32(0.1),
            Value::String("x\ny".into()),
        ];
        for v in values {
            let mut out = JsonOut::default();
            out.value(&v);
            assert_eq!(
                out.into_bytes(),
                serde(&crate::api::value_to_json(&v)),
                "{v:?}"
            );
        }
    }
}
