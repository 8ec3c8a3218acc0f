//! Wasm ABI benchmark (being written).
fn main() {}
