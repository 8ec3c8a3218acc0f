//! placeholder
/// Placeholder.
pub const FORMAT_VERSION: u16 = 1;
