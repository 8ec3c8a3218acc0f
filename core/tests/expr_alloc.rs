//! Evaluating an expression allocates nothing unless its result is text.
//!
//! `Program::eval` runs at every online read, so its cost per row is the
//! point: the stack lives in a fixed array, strings and arrays are borrowed
//! from the inputs, and the array reductions fold without a buffer. A counting
//! global allocator (thread-local counts, so the harness's other threads do
//! not disturb them) holds numeric, string-comparing and array programs,
//! embeddings of 4096 elements included, to zero allocations per evaluation.
#![allow(unsafe_code)] // the counting allocator: a test-only wrapper around `System`
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use verge_core::expr::{Program, Schema};
use verge_core::time::Timestamp;
use verge_core::value::{Array, ElemType};
use verge_core::{DType, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: allocations during thread teardown must not panic.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// the bookkeeping touches only a const-initialised thread-local and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `f` made on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn schema() -> Schema {
    Schema::new(vec![
        ("query".into(), DType::Array(ElemType::Float32)),
        ("item".into(), DType::Array(ElemType::Float32)),
        ("clicks".into(), DType::Array(ElemType::Int64)),
        ("tags".into(), DType::Array(ElemType::String)),
        ("seen".into(), DType::Array(ElemType::UnixTimestamp)),
        ("now".into(), DType::UnixTimestamp),
        ("age".into(), DType::Int32),
        ("name".into(), DType::String),
        ("x".into(), DType::Float64),
    ])
}

fn row() -> Vec<Value> {
    let embedding = |seed: f32| (0..4096).map(|i| (i as f32 * seed).sin()).collect();
    vec![
        Value::Array(Array::Float32(embedding(0.37))),
        Value::Array(Array::Float32(embedding(0.11))),
        Value::Array(Array::Int64((0..100).collect())),
        Value::Array(Array::String(vec!["new".into(), "sale".into()])),
        Value::Array(Array::Timestamp(vec![Timestamp(5), Timestamp(50)])),
        Value::Timestamp(Timestamp(60)),
        Value::Int32(41),
        Value::String("a long name that lives on the heap".into()),
        Value::Float64(0.5),
    ]
}

#[test]
fn evaluating_allocates_nothing_but_a_text_result() {
    let schema = schema();
    let row = row();
    // The common shapes of an on-demand feature over embeddings and lists.
    let free = [
        "cosine(query, item)",
        "dot(query, item) / (l2_norm(query) * l2_norm(item))",
        "if(len(clicks) > 10, mean(clicks), sum(clicks)) + x",
        "coalesce(query[len(query) - 1], item[0], 0.0) * age",
        "tags[0] == \"new\" and name < tags[1]",
        "seen[len(seen) - 1] < now",
        "coalesce(seen[7], now)",
        "is_null(coalesce(query, item)) or len(if(x > 0, query, item)) == 4096",
    ];
    for text in free {
        let p = Program::compile(text, &schema).unwrap();
        // Once outside the count, so nothing lazily initialised is measured.
        let first = p.eval(&row).unwrap();
        let mut again = None;
        let n = allocations(|| again = Some(p.eval(&row).unwrap()));
        assert_eq!(n, 0, "`{text}` allocated {n} time(s) per evaluation");
        assert_eq!(format!("{:?}", again.unwrap()), format!("{first:?}"));
    }
    // The one allocation: copying a text result out of the borrowed inputs.
    let p = Program::compile("coalesce(tags[1], name)", &schema).unwrap();
    let mut got = None;
    let n = allocations(|| got = Some(p.eval(&row).unwrap()));
    assert_eq!(n, 1);
    assert_eq!(got, Some(Value::String("sale".into())));
}
