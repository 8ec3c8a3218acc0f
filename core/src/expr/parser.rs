//! Parses expression text into a syntax tree laid out flat, in postfix order.
//!
//! A precedence-climbing (Pratt) parser writes each node after its operands, so
//! the "tree" is a `Vec<Node>` that the type checker walks with a stack and
//! never recurses over. Only the parser itself recurses, and only once per
//! parenthesis, call argument or unary operator, which [`MAX_DEPTH`] bounds; a
//! hostile `((((((...` is a parse error, not a stack overflow.
//!
//! Precedence, loosest first: `or` < `and` < `not` < comparisons < `+ -` <
//! `* /` < unary `-` < element access `a[i]` (so `-a[0]` is `-(a[0])`).
//! Binary operators are left-associative; comparisons do not
//! chain (`a < b < c` is an error). A `not` inside a tighter operator must be
//! parenthesised (`a == (not b)`), as in Python.

use alloc::string::String;
use alloc::vec::Vec;

use super::lexer::{LexError, Lexer, Tok, Token};
use crate::Error;

/// The longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;

/// The deepest nesting of parentheses, call arguments, indexes and unary operators accepted.
pub const MAX_DEPTH: usize = 64;

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    /// `-x`.
    Neg,
    /// `not x`.
    Not,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    /// The operator as written, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// A reference to an input by name.
    Name(&'a str),
    /// Applies to the one node before it.
    Unary(UnOp),
    /// Applies to the two values before it.
    Binary(BinOp),
    /// Applies a function to the `argc` values before it.
    Call { name: &'a str, argc: usize },
    /// Element access `a[i]`: the array, then the index, come before it.
    Index,
}

/// One node of the postfix syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node<'a> {
    /// What it is.
    pub kind: NodeKind<'a>,
    /// Byte offset of its token (the operator, the name, the literal).
    pub offset: usize,
}

// Binding powers: a binary operator binds its right operand at one more than its own.
const BP_OR: u8 = 1;
const BP_AND: u8 = 2;
const BP_NOT: u8 = 3;
const BP_CMP: u8 = 4;
const BP_ADD: u8 = 5;
const BP_MUL: u8 = 6;
const BP_UNARY: u8 = 7;

fn binary(tok: &Tok<'_>) -> Option<(BinOp, u8)> {
    Some(match tok {
        Tok::Or => (BinOp::Or, BP_OR),
        Tok::And => (BinOp::And, BP_AND),
        Tok::EqEq => (BinOp::Eq, BP_CMP),
        Tok::Ne => (BinOp::Ne, BP_CMP),
        Tok::Lt => (BinOp::Lt, BP_CMP),
        Tok::Le => (BinOp::Le, BP_CMP),
        Tok::Gt => (BinOp::Gt, BP_CMP),
        Tok::Ge => (BinOp::Ge, BP_CMP),
        Tok::Plus => (BinOp::Add, BP_ADD),
        Tok::Minus => (BinOp::Sub, BP_ADD),
        Tok::Star => (BinOp::Mul, BP_MUL),
        Tok::Slash => (BinOp::Div, BP_MUL),
        _ => return None,
    })
}

/// Parses `text` into postfix nodes.
///
/// # Errors
///
/// [`Error::Parse`] with the byte offset and what was expected.
pub(crate) fn parse(text: &str) -> Result<Vec<Node<'_>>, Error> {
    let err = |(offset, message): LexError| Error::Parse {
        source_text: text.into(),
        offset,
        message,
    };
    if text.len() > MAX_LEN {
        return Err(err((
            MAX_LEN,
            alloc::format!(
                "expression is {} bytes long; the limit is {MAX_LEN} (split it into several on-demand fields)",
                text.len()
            ),
        )));
    }
    let mut lexer = Lexer::new(text);
    let current = lexer.next_token().map_err(err)?;
    let mut p = Parser {
        lexer,
        current,
        out: Vec::new(),
        depth: 0,
    };
    p.expr(0).map_err(err)?;
    if p.current.tok != Tok::End {
        return Err(err((
            p.current.offset,
            alloc::format!(
                "expected an operator or the end of the expression, found {}",
                p.current.tok
            ),
        )));
    }
    Ok(p.out)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Token<'a>,
    out: Vec<Node<'a>>,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// Moves past the current token and returns it.
    fn advance(&mut self) -> Result<Token<'a>, LexError> {
        let next = self.lexer.next_token()?;
        Ok(core::mem::replace(&mut self.current, next))
    }

    fn emit(&mut self, kind: NodeKind<'a>, offset: usize) {
        self.out.push(Node { kind, offset });
    }

    /// Parses an operand one nesting level down; the only way the parser recurses.
    /// `opener` is the offset of the token that opened the level, for the error.
    fn nested(&mut self, min_bp: u8, opener: usize) -> Result<(), LexError> {
        if self.depth >= MAX_DEPTH {
            return Err((
                opener,
                alloc::format!(
                    "expression nests deeper than {MAX_DEPTH} levels of parentheses, calls and unary operators"
                ),
            ));
        }
        self.depth += 1;
        let r = self.expr(min_bp);
        self.depth -= 1;
        r
    }

    /// An expression whose binary operators all bind at least `min_bp`.
    fn expr(&mut self, min_bp: u8) -> Result<(), LexError> {
        self.prefix(min_bp)?;
        let mut previous_was_comparison = false;
        while let Some((op, bp)) = binary(&self.current.tok) {
            if bp < min_bp {
                break;
            }
            if bp == BP_CMP && previous_was_comparison {
                return Err((
                    self.current.offset,
                    "comparisons cannot be chained; join them with `and` (e.g. `a < b and b < c`)"
                        .into(),
                ));
            }
            let token = self.advance()?;
            // Precedence climbing: the right operand only takes tighter operators,
            // so this recursion is at most one frame per precedence level.
            self.expr(bp + 1)?;
            self.emit(NodeKind::Binary(op), token.offset);
            previous_was_comparison = bp == BP_CMP;
        }
        Ok(())
    }

    /// A literal, a name, a call, a parenthesised expression or a unary
    /// operator, with any `[i]` after it.
    fn prefix(&mut self, min_bp: u8) -> Result<(), LexError> {
        let token = self.advance()?;
        let offset = token.offset;
        let kind = match token.tok {
            Tok::Null => NodeKind::Null,
            Tok::Bool(b) => NodeKind::Bool(b),
            Tok::Int(i) => NodeKind::Int(i),
            Tok::Float(x) => NodeKind::Float(x),
            Tok::Str(s) => NodeKind::Str(s),
            Tok::Ident(name) if self.current.tok == Tok::LParen => {
                self.advance()?;
                let argc = self.arguments(name)?;
                NodeKind::Call { name, argc }
            }
            Tok::Ident(name) => NodeKind::Name(name),
            Tok::LParen => {
                self.nested(0, offset)?;
                self.expect_close(offset, Tok::RParen, "`)` to close the `(`")?;
                return self.indexes();
            }
            Tok::Minus => {
                self.nested(BP_UNARY, offset)?;
                self.emit(NodeKind::Unary(UnOp::Neg), offset);
                return Ok(());
            }
            Tok::Not if min_bp > BP_NOT => {
                return Err((
                    offset,
                    "`not` binds looser than this operator; put it in parentheses, e.g. `(not x)`"
                        .into(),
                ));
            }
            Tok::Not => {
                self.nested(BP_NOT, offset)?;
                self.emit(NodeKind::Unary(UnOp::Not), offset);
                return Ok(());
            }
            other => {
                return Err((
                    offset,
                    alloc::format!(
                        "expected a value (a number, a string, a name, a call or `(`), found {other}"
                    ),
                ));
            }
        };
        self.emit(kind, offset);
        // Only a primary (literal, name, call, parentheses) takes `[i]`: a
        // unary operator's operand has taken its own already.
        self.indexes()
    }

    /// Any `[i]` after a primary, left to right (`a[0][1]` is `(a[0])[1]`).
    fn indexes(&mut self) -> Result<(), LexError> {
        while self.current.tok == Tok::LBracket {
            let open = self.advance()?.offset;
            self.nested(0, open)?;
            self.expect_close(open, Tok::RBracket, "`]` to close the `[`")?;
            self.emit(NodeKind::Index, open);
        }
        Ok(())
    }

    /// The arguments after `name(`, through the closing `)`; returns how many.
    fn arguments(&mut self, name: &str) -> Result<usize, LexError> {
        if self.current.tok == Tok::RParen {
            self.advance()?;
            return Ok(0);
        }
        let mut argc = 0;
        loop {
            self.nested(0, self.current.offset)?;
            argc += 1;
            match self.current.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => {
                    self.advance()?;
                    return Ok(argc);
                }
                ref other => {
                    return Err((
                        self.current.offset,
                        alloc::format!(
                            "expected `,` or `)` in the arguments of `{name}`, found {other}"
                        ),
                    ));
                }
            }
        }
    }

    fn expect_close(&mut self, open: usize, close: Tok<'_>, what: &str) -> Result<(), LexError> {
        if self.current.tok == close {
            self.advance()?;
            Ok(())
        } else {
            Err((
                self.current.offset,
                alloc::format!(
                    "expected {what} opened at byte {open}, found {}",
                    self.current.tok
                ),
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// Renders postfix nodes back into a fully parenthesised infix string.
    fn show(text: &str) -> String {
        let nodes = parse(text).unwrap();
        let mut stack: Vec<String> = Vec::new();
        for n in nodes {
            let s = match n.kind {
                NodeKind::Null => "null".into(),
                NodeKind::Bool(b) => b.to_string(),
                NodeKind::Int(i) => i.to_string(),
                NodeKind::Float(x) => alloc::format!("{x:?}"),
                NodeKind::Str(s) => alloc::format!("{s:?}"),
                NodeKind::Name(n) => n.into(),
                NodeKind::Unary(UnOp::Neg) => alloc::format!("(-{})", stack.pop().unwrap()),
                NodeKind::Unary(UnOp::Not) => alloc::format!("(not {})", stack.pop().unwrap()),
                NodeKind::Binary(op) => {
                    let b = stack.pop().unwrap();
                    let a = stack.pop().unwrap();
                    alloc::format!("({a} {} {b})", op.symbol())
                }
                NodeKind::Call { name, argc } => {
                    let args = stack.split_off(stack.len() - argc);
                    alloc::format!("{name}({})", args.join(", "))
                }
                NodeKind::Index => {
                    let i = stack.pop().unwrap();
                    let a = stack.pop().unwrap();
                    alloc::format!("{a}[{i}]")
                }
            };
            stack.push(s);
        }
        assert_eq!(stack.len(), 1);
        stack.pop().unwrap()
    }

    fn parse_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(Error::Parse {
                offset, message, ..
            }) => (offset, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(show("a + b * c"), "(a + (b * c))");
        assert_eq!(show("a * b + c"), "((a * b) + c)");
        assert_eq!(show("a - b - c"), "((a - b) - c)");
        assert_eq!(show("a / b / c"), "((a / b) / c)");
        assert_eq!(show("(a - b) * c"), "((a - b) * c)");
        assert_eq!(show("-a * b"), "((-a) * b)");
        assert_eq!(show("- -a"), "(-(-a))");
        assert_eq!(show("a - -b"), "(a - (-b))");
        assert_eq!(show("a + b < c * d"), "((a + b) < (c * d))");
        assert_eq!(
            show("a < b and c or d and not e"),
            "(((a < b) and c) or (d and (not e)))"
        );
        assert_eq!(show("not a == b"), "(not (a == b))");
        assert_eq!(show("not a and b"), "((not a) and b)");
        assert_eq!(show("not not a"), "(not (not a))");
        assert_eq!(show("a or b or c"), "((a or b) or c)");
        assert_eq!(show("a == (not b)"), "(a == (not b))");
        assert_eq!(
            show("max(a - 1.5, 0, b) + f()"),
            "(max((a - 1.5), 0, b) + f())"
        );
        assert_eq!(show("if(x, \"a\\n\", null)"), "if(x, \"a\\n\", null)");
        assert_eq!(show("  ( ( x ) )  "), "x");
    }

    #[test]
    fn element_access_binds_tightest() {
        assert_eq!(show("a[0]"), "a[0]");
        assert_eq!(show("-a[0]"), "(-a[0])");
        assert_eq!(show("not a[0]"), "(not a[0])");
        assert_eq!(show("a[i + 1] * 2"), "(a[(i + 1)] * 2)");
        assert_eq!(show("a[b[0]]"), "a[b[0]]");
        assert_eq!(show("a[0][1]"), "a[0][1]");
        assert_eq!(show("(a)[0]"), "a[0]");
        assert_eq!(show("(x + y)[0]"), "(x + y)[0]");
        assert_eq!(
            show("coalesce(a, b)[len(a) - 1]"),
            "coalesce(a, b)[(len(a) - 1)]"
        );
        assert_eq!(show("1[0]"), "1[0]");
        let offsets: Vec<usize> = parse("ab[1]").unwrap().iter().map(|n| n.offset).collect();
        assert_eq!(offsets, [0, 3, 2]);
    }

    #[test]
    fn element_access_errors() {
        assert_eq!(
            parse_err("a[0"),
            (
                3,
                "expected `]` to close the `[` opened at byte 1, found the end of the expression"
                    .into()
            )
        );
        assert_eq!(
            parse_err("a[0)").1,
            "expected `]` to close the `[` opened at byte 1, found `)`"
        );
        assert!(parse_err("a[]").1.starts_with("expected a value"));
        assert!(parse_err("a[0, 1]").1.contains("`]`"));
        assert_eq!(parse_err("[0]").0, 0);
        assert_eq!(parse_err("a]").0, 1);
        let deep = alloc::format!(
            "{}0{}",
            "a[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(parse_err(&deep).1.contains("deeper"));
        let ok = alloc::format!("{}0{}", "a[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn offsets_point_at_operators() {
        let nodes = parse("ab + cd").unwrap();
        let offsets: Vec<usize> = nodes.iter().map(|n| n.offset).collect();
        assert_eq!(offsets, [0, 5, 3]);
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        assert_eq!(
            parse_err("a +"),
            (
                3,
                "expected a value (a number, a string, a name, a call or `(`), found the end of the expression".into()
            )
        );
        assert_eq!(
            parse_err("(a + b"),
            (
                6,
                "expected `)` to close the `(` opened at byte 0, found the end of the expression"
                    .into()
            )
        );
        assert_eq!(
            parse_err("a b").1,
            "expected an operator or the end of the expression, found name `b`"
        );
        assert_eq!(parse_err("max(a b)").0, 6);
        assert!(parse_err("max(a,)").1.starts_with("expected a value"));
        assert!(parse_err("a < b < c").1.contains("cannot be chained"));
        assert!(parse_err("a == b != c").1.contains("cannot be chained"));
        assert_eq!(parse_err("a == not b").0, 5);
        assert!(parse_err("- not b").1.contains("parentheses"));
        assert_eq!(parse_err("").0, 0);
        assert_eq!(parse_err(")").0, 0);
        assert_eq!(parse_err("a ) ").0, 2);
        assert_eq!(parse_err("1 + #").0, 4);
    }

    #[test]
    fn depth_limit() {
        let ok = alloc::format!("{}x{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(show(&ok), "x");
        let deep = alloc::format!(
            "{}x{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let (offset, message) = parse_err(&deep);
        assert_eq!(offset, MAX_DEPTH);
        assert!(message.contains("deeper than 64"), "{message}");
        // Unary operators and calls nest too.
        assert!(parse_err(&"-".repeat(MAX_DEPTH + 1)).1.contains("deeper"));
        assert!(
            parse_err(&"not ".repeat(MAX_DEPTH + 1))
                .1
                .contains("deeper")
        );
        assert!(
            parse_err(&"abs(".repeat(MAX_DEPTH + 1))
                .1
                .contains("deeper")
        );
        // A huge unclosed prefix within the length limit fails cleanly too.
        assert!(parse_err(&"(".repeat(MAX_LEN)).1.contains("deeper"));
    }

    #[test]
    fn long_flat_expressions_are_fine() {
        // Left-associative chains do not nest, so they are limited by length only.
        let sum = alloc::vec!["a"; 1000].join("+");
        assert_eq!(parse(&sum).unwrap().len(), 1999);
    }

    #[test]
    fn length_limit() {
        let long = "1".repeat(MAX_LEN + 1);
        let (offset, message) = parse_err(&long);
        assert_eq!(offset, MAX_LEN);
        assert!(message.contains("limit is 4096"), "{message}");
        let spaces = alloc::format!("{}1", " ".repeat(MAX_LEN - 1));
        assert!(parse(&spaces).is_ok());
    }
}
