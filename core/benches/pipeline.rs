//! Pipeline benchmark: one prediction through an 8-feature horse-colic pipeline
//! (mean imputation, k = 7 selection, Gaussian naive Bayes), the edge hot path.
//!
//! Run: `cargo bench -p verge-core --bench pipeline`. The target is ≤ 200 ns per
//! `predict_into` with a warm [`Scratch`]. `pipeline_batch_1000` scores 1,000
//! training rows (NaN for missing) through the batch path
//! (`predict_batch_into`, what `verge_score_batch` runs) and, beside it, row by
//! row through `predict_into` (reported per row).

// Test and benchmark code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verge_core::definition::{EstimatorSpec, Imputation};
use verge_core::pipeline::{BatchScratch, ColumnMeta, PipelineParams, Scratch, fit_pipeline};
use verge_core::{DType, Value};

const TRAIN: &str = verge_test_kit::horse_colic::DATA;
/// UCI columns of the Feast view's 8 features, and the label (surgical lesion).
const COLUMNS: [usize; 8] = [4, 20, 8, 13, 14, 23, 19, 16];
const LABEL: usize = 24;

fn parse(text: &str) -> (Vec<Vec<Value>>, Vec<Value>) {
    let cell = |s: &str| s.parse().map_or(Value::Null, Value::Float64);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Value::Float64(y) = cell(fields[LABEL - 1]) else {
            continue;
        };
        rows.push(COLUMNS.iter().map(|&c| cell(fields[c - 1])).collect());
        labels.push(Value::Int64(y as i64));
    }
    (rows, labels)
}

fn predict(c: &mut Criterion) {
    let (rows, labels) = parse(TRAIN);
    let columns: Vec<ColumnMeta> = (0..8)
        .map(|i| ColumnMeta::new(format!("f{i}"), DType::Float64))
        .collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .impute(Some(Imputation::Mean))
    .select_k_best(Some(7));
    let pipeline = fit_pipeline(&params, &columns, &rows, &labels).unwrap();
    // A row with nulls, so imputation does real work.
    let row = &rows[1];
    let mut scratch = Scratch::new();
    c.bench_function("pipeline_predict_into_gnb_8", |b| {
        b.iter(|| {
            let p = pipeline.predict_into(black_box(row), &mut scratch).unwrap();
            black_box(p.label_value().is_some())
        })
    });
    c.bench_function("pipeline_predict_gnb_8", |b| {
        b.iter(|| pipeline.predict(black_box(row)).unwrap())
    });

    let batch: Vec<&Vec<Value>> = rows.iter().cycle().take(1000).collect();
    let flat: Vec<f64> = batch
        .iter()
        .flat_map(|r| r.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)))
        .collect();
    let mut group = c.benchmark_group("pipeline_batch_1000");
    group.throughput(Throughput::Elements(1000));
    let (mut batch_scratch, mut out) = (BatchScratch::new(), Vec::new());
    group.bench_function("predict_batch_into", |b| {
        b.iter(|| {
            pipeline
                .predict_batch_into(black_box(&flat), 8, &mut batch_scratch, &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    group.bench_function("predict_into_row_by_row", |b| {
        b.iter(|| {
            for row in &batch {
                let p = pipeline.predict_into(black_box(row), &mut scratch).unwrap();
                black_box(p.label_value().is_some());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, predict);
criterion_main!(benches);
