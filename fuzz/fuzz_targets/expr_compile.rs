//! `Program::compile` on arbitrary text against a small schema, then `eval` on a
//! fixed row and on a row of nulls: the result must be null or of the program's
//! declared output type, and compiling must be deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verge_core::Value;
use verge_core::expr::Program;
use verge_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = fixture::expr_schema();
    let Ok(program) = Program::compile(text, &schema) else {
        return;
    };
    assert_eq!(Program::compile(text, &schema).ok(), Some(program.clone()));
    let row = fixture::expr_row();
    let nulls = vec![Value::Null; row.len()];
    for inputs in [row.as_slice(), nulls.as_slice()] {
        let value = program.eval(inputs).expect("a compiled program evaluates a row of its schema");
        if let Some(dtype) = value.dtype() {
            assert_eq!(dtype, program.output_type(), "`{text}` gave {value:?}");
        }
    }
});
