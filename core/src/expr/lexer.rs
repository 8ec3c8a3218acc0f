//! Turns expression text into tokens, one at a time.
//!
//! The lexer is the only place that looks at characters: number and string
//! literal syntax, keywords and operators live here so the parser only sees
//! tokens with the byte offset they started at (for error messages).

use alloc::string::{String, ToString};
use core::fmt;

/// A byte offset and a message, turned into [`crate::Error::Parse`] by the parser.
pub(crate) type LexError = (usize, String);

/// One token of expression text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    /// An integer literal that fits an `i64`.
    Int(i64),
    /// A float literal (has a `.` or an exponent), always finite.
    Float(f64),
    /// A string literal with its escapes resolved.
    Str(String),
    /// A feature, request field or function name.
    Ident(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `not`.
    Not,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `+`.
    Plus,
    /// `-`.
    Minus,
    /// `*`.
    Star,
    /// `/`.
    Slash,
    /// `==`.
    EqEq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// The end of the text.
    End,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Int(i) => return write!(f, "number `{i}`"),
            Tok::Float(x) => return write!(f, "number `{x:?}`"),
            Tok::Str(_) => "a string",
            Tok::Ident(name) => return write!(f, "name `{name}`"),
            Tok::Bool(true) => "`true`",
            Tok::Bool(false) => "`false`",
            Tok::Null => "`null`",
            Tok::And => "`and`",
            Tok::Or => "`or`",
            Tok::Not => "`not`",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::Comma => "`,`",
            Tok::LBracket => "`[`",
            Tok::RBracket => "`]`",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Star => "`*`",
            Tok::Slash => "`/`",
            Tok::EqEq => "`==`",
            Tok::Ne => "`!=`",
            Tok::Lt => "`<`",
            Tok::Le => "`<=`",
            Tok::Gt => "`>`",
            Tok::Ge => "`>=`",
            Tok::End => "the end of the expression",
        };
        f.write_str(s)
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    /// What was read.
    pub tok: Tok<'a>,
    /// Byte offset of its first character.
    pub offset: usize,
}

/// A cursor over expression text that yields [`Token`]s.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0 }
    }

    fn peek_byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_byte_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    /// Reads the next token; [`Tok::End`] at the end, forever.
    pub fn next_token(&mut self) -> Result<Token<'a>, LexError> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek_byte() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(b) = self.peek_byte() else {
            return Ok(Token {
                tok: Tok::End,
                offset: start,
            });
        };
        let single = |tok| Some((tok, 1));
        let double = |tok| Some((tok, 2));
        let next = self.peek_byte_at(1);
        let op = match (b, next) {
            (b'(', _) => single(Tok::LParen),
            (b')', _) => single(Tok::RParen),
            (b',', _) => single(Tok::Comma),
            (b'[', _) => single(Tok::LBracket),
            (b']', _) => single(Tok::RBracket),
            (b'+', _) => single(Tok::Plus),
            (b'-', _) => single(Tok::Minus),
            (b'*', _) => single(Tok::Star),
            (b'/', _) => single(Tok::Slash),
            (b'=', Some(b'=')) => double(Tok::EqEq),
            (b'!', Some(b'=')) => double(Tok::Ne),
            (b'<', Some(b'=')) => double(Tok::Le),
            (b'>', Some(b'=')) => double(Tok::Ge),
            (b'<', _) => single(Tok::Lt),
            (b'>', _) => single(Tok::Gt),
            (b'=', _) => return Err((start, "found `=`; write `==` to compare".into())),
            (b'!', _) => return Err((start, "found `!`; write `not` to negate".into())),
            (b'&', _) => return Err((start, "found `&`; write `and`".into())),
            (b'|', _) => return Err((start, "found `|`; write `or`".into())),
            _ => None,
        };
        if let Some((tok, len)) = op {
            self.pos += len;
            return Ok(Token { tok, offset: start });
        }
        let tok = match b {
            b'0'..=b'9' => self.number()?,
            b'"' => self.string()?,
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => self.word(),
            _ => {
                let c = self.text[start..].chars().next().unwrap_or('?');
                return Err((start, alloc::format!("unexpected character `{c}`")));
            }
        };
        Ok(Token { tok, offset: start })
    }

    fn eat_digits(&mut self) -> usize {
        let from = self.pos;
        while let Some(b'0'..=b'9') = self.peek_byte() {
            self.pos += 1;
        }
        self.pos - from
    }

    /// `digits [. digits] [(e|E) [+|-] digits]`; a `.` or an exponent makes a float.
    fn number(&mut self) -> Result<Tok<'a>, LexError> {
        let start = self.pos;
        self.eat_digits();
        let mut is_float = false;
        if self.peek_byte() == Some(b'.') {
            self.pos += 1;
            if self.eat_digits() == 0 {
                return Err((self.pos, "expected a digit after `.`".into()));
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek_byte() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek_byte() {
                self.pos += 1;
            }
            if self.eat_digits() == 0 {
                return Err((self.pos, "expected a digit in the exponent".into()));
            }
            is_float = true;
        }
        if let Some(b'A'..=b'Z' | b'a'..=b'z' | b'_' | b'.') = self.peek_byte() {
            return Err((
                self.pos,
                "expected an operator after a number (names cannot start with a digit)".into(),
            ));
        }
        let text = &self.text[start..self.pos];
        if is_float {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
                _ => Err((
                    start,
                    alloc::format!("float literal `{text}` is out of range"),
                )),
            }
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| {
                (
                    start,
                    alloc::format!(
                        "integer literal `{text}` does not fit int64 (write it as a float, e.g. `{text}.0`)"
                    ),
                )
            })
        }
    }

    /// A double-quoted string with `\" \\ \n \t \r \0 \u{...}` escapes.
    fn string(&mut self) -> Result<Tok<'a>, LexError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err((open, "string literal is not closed; add a `\"`".into()));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(Tok::Str(out));
                }
                '\\' => {
                    let at = self.pos;
                    self.pos += 1;
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        return Err((open, "string literal is not closed; add a `\"`".into()));
                    };
                    self.pos += e.len_utf8();
                    let resolved = match e {
                        '"' => '"',
                        '\\' => '\\',
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        'u' => self.unicode_escape(at)?,
                        other => {
                            return Err((
                                at,
                                alloc::format!(
                                    "unknown escape `\\{other}` (known: \\\" \\\\ \\n \\t \\r \\0 \\u{{...}})"
                                ),
                            ));
                        }
                    };
                    out.push(resolved);
                }
                c => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// The `{XXXX}` part of a `\u{XXXX}` escape that started at `at`.
    fn unicode_escape(&mut self, at: usize) -> Result<char, LexError> {
        let bad = || {
            (
                at,
                "expected a Unicode escape like `\\u{e9}` (1 to 6 hex digits)".to_string(),
            )
        };
        if self.peek_byte() != Some(b'{') {
            return Err(bad());
        }
        self.pos += 1;
        let from = self.pos;
        while let Some(b) = self.peek_byte() {
            if b.is_ascii_hexdigit() {
                self.pos += 1;
            } else {
                break;
            }
        }
        let digits = &self.text[from..self.pos];
        if digits.is_empty() || digits.len() > 6 || self.peek_byte() != Some(b'}') {
            return Err(bad());
        }
        self.pos += 1;
        u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| {
                (
                    at,
                    alloc::format!("`\\u{{{digits}}}` is not a Unicode scalar value"),
                )
            })
    }

    /// A name or keyword: `[A-Za-z_][A-Za-z0-9_]*`.
    fn word(&mut self) -> Tok<'a> {
        let start = self.pos;
        while let Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_') = self.peek_byte() {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            "null" => Tok::Null,
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            name => Tok::Ident(name),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn lex(text: &str) -> Result<Vec<Tok<'_>>, LexError> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?;
            if t.tok == Tok::End {
                return Ok(out);
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(
            lex("0 42 1.5 1e-3 2E+2 3.25e1").unwrap(),
            [
                Tok::Int(0),
                Tok::Int(42),
                Tok::Float(1.5),
                Tok::Float(1e-3),
                Tok::Float(200.0),
                Tok::Float(32.5)
            ]
        );
        assert_eq!(lex("9223372036854775807").unwrap(), [Tok::Int(i64::MAX)]);
        let (off, msg) = lex("1 + 9223372036854775808").unwrap_err();
        assert_eq!(off, 4);
        assert!(msg.contains("does not fit int64"), "{msg}");
        assert!(lex("1e400").unwrap_err().1.contains("out of range"));
        assert_eq!(
            lex("1.").unwrap_err(),
            (2, "expected a digit after `.`".into())
        );
        assert_eq!(lex("1e").unwrap_err().0, 2);
        assert!(
            lex("3x")
                .unwrap_err()
                .1
                .contains("cannot start with a digit")
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            lex(r#""a\"b\\c\n\t\r\0\u{e9}\u{1F600}" "héllo""#).unwrap(),
            [
                Tok::Str("a\"b\\c\n\t\r\0é😀".into()),
                Tok::Str("héllo".into())
            ]
        );
        assert_eq!(lex(r#""""#).unwrap(), [Tok::Str(String::new())]);
        assert_eq!(lex(r#"x == "abc"#).unwrap_err().0, 5);
        assert_eq!(lex(r#""abc\"#).unwrap_err().0, 0);
        let (off, msg) = lex(r#""a\qb""#).unwrap_err();
        assert_eq!(off, 2);
        assert!(msg.contains("unknown escape `\\q`"), "{msg}");
        assert!(
            lex(r#""\u{110000}""#)
                .unwrap_err()
                .1
                .contains("not a Unicode")
        );
        assert!(lex(r#""\u{d800}""#).is_err());
        assert!(lex(r#""\u12""#).is_err());
        assert!(lex(r#""\u{}""#).is_err());
        assert!(lex(r#""\u{1234567}""#).is_err());
    }

    #[test]
    fn operators_keywords_and_names() {
        assert_eq!(
            lex("(a_1,_b)[]+-*/ == != < <= > >= and or not true false null abs").unwrap(),
            [
                Tok::LParen,
                Tok::Ident("a_1"),
                Tok::Comma,
                Tok::Ident("_b"),
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Plus,
                Tok::Minus,
                Tok::Star,
                Tok::Slash,
                Tok::EqEq,
                Tok::Ne,
                Tok::Lt,
                Tok::Le,
                Tok::Gt,
                Tok::Ge,
                Tok::And,
                Tok::Or,
                Tok::Not,
                Tok::Bool(true),
                Tok::Bool(false),
                Tok::Null,
                Tok::Ident("abs"),
            ]
        );
        assert!(lex("a = b").unwrap_err().1.contains("`==`"));
        assert!(lex("!a").unwrap_err().1.contains("`not`"));
        assert!(lex("a && b").unwrap_err().1.contains("`and`"));
        assert_eq!(
            lex("a # b").unwrap_err(),
            (2, "unexpected character `#`".into())
        );
        assert_eq!(lex("a é").unwrap_err().0, 2);
    }
}
