//! RFC 3339 timestamps in and out: the core's implementation, re-exported.
//!
//! Sources, entity tables and training sets use exactly the parser and formatter
//! that the edge uses for `now` and `event_timestamps`, so a time means the same
//! thing on both sides. The accepted shapes are listed in
//! [`verge_core::time::rfc3339`].

pub use verge_core::time::rfc3339::{
    civil_from_days, days_from_civil, format_date, format_micros, format_nanos, parse_timestamp,
};
