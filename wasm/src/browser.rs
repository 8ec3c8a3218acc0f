//! The browser package (being built).
