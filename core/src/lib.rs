//! verge-core: everything verge computes, with no I/O, no clock and no randomness.
//!
//! The same functions run on the host (training sets, training, materialization)
//! and at the edge (Cloudflare Workers, browsers, any Wasm runtime), which is what
//! makes training/serving skew impossible by construction.
//!
//! A tour of the modules, in the order data flows through them:
//!
//! | module | what it holds |
//! |---|---|
//! | [`value`], [`time`] | typed values with an explicit null, entity keys, µs timestamps |
//! | [`definition`] | entities, sources, feature views, on-demand views, services, models |
//! | [`expr`] | the on-demand expression language: parser, type checker, evaluator |
//! | [`registry`] | an immutable, content-addressed registry version and its diff |
//! | [`transform`] | fitted transforms: imputers, scalers, encoders, univariate selection |
//! | [`model`] | estimators: Gaussian naive Bayes, logistic and linear regression |
//! | [`pipeline`] | fitted transforms followed by an estimator |
//! | [`artifact`] | the byte formats: header, bundle, snapshot (see `docs/format.md`) |
//! | [`online`] | online reads with statuses, and prediction |
//! | [`api`] | the HTTP API's JSON, the admin routes' rules, model info and version |
//! | [`abi`] | the raw Wasm ABI's version and return codes, shared by module and hosts |
//!
//! # Examples
//!
//! Parse and evaluate an on-demand expression:
//!
//! ```
//! use verge_core::expr::{Program, Schema};
//! use verge_core::value::{DType, Value};
//!
//! let schema = Schema::new(vec![("rectal_temperature".into(), DType::Float64)]);
//! let program = Program::compile("max(rectal_temperature - 38.5, 0)", &schema).unwrap();
//! assert_eq!(program.output_type(), DType::Float64);
//! let fever = program.eval(&[Value::Float64(39.25)]).unwrap();
//! assert_eq!(fever, Value::Float64(0.75));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod api;
pub mod artifact;
pub mod definition;
pub mod error;
pub mod expr;
pub mod id;
pub mod model;
pub mod online;
pub mod pipeline;
pub mod registry;
pub mod time;
pub mod transform;
pub mod value;

pub use error::{Error, Result};
pub use id::ContentId;
pub use time::{Duration, Timestamp};
pub use value::{Array, DType, ElemType, EntityKey, KeyPart, Value};
