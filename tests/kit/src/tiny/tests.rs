//! The presets hold what the tests built on them rely on.

use verge_core::Error;
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::{FeatureStatus, Predictor};

use super::{Tiny, key, now};

#[test]
fn every_preset_loads_as_a_compatible_pair() {
    for tiny in [Tiny::rich(), Tiny::plain(), Tiny::many(0), Tiny::many(1)] {
        let p = tiny.predictor();
        assert_eq!(
            p.bundle().contents().require_model().unwrap().training.rows,
            tiny.training_rows as u64
        );
    }
}

#[test]
fn the_rich_rows_reach_every_status() {
    let p = Tiny::rich().predictor();
    let read = |id: i64| {
        p.read(key(id).parts(), &[verge_core::Value::Null], now())
            .unwrap()
    };
    assert_eq!(read(1)[0].status, FeatureStatus::Present);
    assert_eq!(read(2)[1].status, FeatureStatus::NullValue);
    assert_eq!(read(3)[0].status, FeatureStatus::OutsideMaxAge);
    assert_eq!(read(99)[0].status, FeatureStatus::NotFound);
}

#[test]
fn an_extra_field_makes_an_incompatible_twin_and_variants_differ() {
    let bundle = Bundle::load(&Tiny::plain().bundle_bytes()).unwrap();
    let other = Snapshot::load(Tiny::plain().with_field("extra").snapshot_bytes()).unwrap();
    assert!(matches!(
        Predictor::new(bundle, other),
        Err(Error::Incompatible { .. })
    ));
    let (a, b) = (Tiny::many(0).predictor(), Tiny::many(1).predictor());
    assert_ne!(a.bundle().id(), b.bundle().id());
    assert_ne!(a.snapshot().id(), b.snapshot().id());
}
