//! The raw C ABI (being built).
