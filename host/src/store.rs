//! The on-disk registry (being built).
