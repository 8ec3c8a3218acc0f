//! On-demand expressions (placeholder API; the implementation lands with the expression work).

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::value::{DType, Value};
use crate::{Error, Result};

/// Names and types an expression may read, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    fields: Vec<(String, DType)>,
}

impl Schema {
    /// A schema with these fields, in input order.
    #[must_use]
    pub fn new(fields: Vec<(String, DType)>) -> Self {
        Schema { fields }
    }

    /// The fields, in input order.
    #[must_use]
    pub fn fields(&self) -> &[(String, DType)] {
        &self.fields
    }
}

/// A compiled, typed expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    source: String,
    output: DType,
}

impl Program {
    /// Parses and type-checks `text` against `schema`.
    ///
    /// # Errors
    ///
    /// Parse and type errors.
    pub fn compile(text: &str, _schema: &Schema) -> Result<Program> {
        Err(Error::Parse {
            source_text: text.into(),
            offset: 0,
            message: "expressions are not implemented yet".into(),
        })
    }

    /// The type of the result.
    #[must_use]
    pub fn output_type(&self) -> DType {
        self.output
    }

    /// The text the program was compiled from.
    #[must_use]
    pub fn source_text(&self) -> &str {
        &self.source
    }

    /// Evaluates the program on one row of inputs laid out as the schema.
    ///
    /// # Errors
    ///
    /// [`Error::Eval`] when an input has the wrong type.
    pub fn eval(&self, _inputs: &[Value]) -> Result<Value> {
        Err(Error::Eval("not implemented".into()))
    }
}
