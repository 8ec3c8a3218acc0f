//! `verge.toml` parsing (being built).
