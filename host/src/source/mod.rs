//! Source readers (being built).
