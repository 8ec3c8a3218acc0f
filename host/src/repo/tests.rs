//! Parsing tests: the issue's example file, defaults, aliases, and problem messages.

use verge_core::definition::{
    Encoding, EstimatorSpec, FeatureRef, Imputation, Scaling, SourceFormat,
};
use verge_core::{DType, Duration};

use super::parse_str;

/// The example from the project's issue, verbatim.
const ISSUE_EXAMPLE: &str = r#"
project = "horse_colic"

[[entity]]
name = "horse"
join_keys = ["hospital_number"]

[[source]]
name = "colic_records"
path = "data/horse_colic.db"          # .csv, .parquet, or .db/.sqlite with `table`
table = "data"
timestamp_field = "timestamp"
created_timestamp_field = "created"   # optional
field_mapping = { "Hospital Number" = "hospital_number", "rectal temperature" = "rectal_temperature" }

[[feature_view]]
name = "horse_colic_stats"
entities = ["horse"]
source = "colic_records"
ttl = "1d"                            # s, m, h, d; 0 = no limit
online = true
fields = [
  { name = "rectal_temperature", dtype = "float64" },
  { name = "total_protein", dtype = "float64" },
]

[[on_demand_feature_view]]
name = "derived"
sources = ["horse_colic_stats"]
request = [{ name = "ambient_temperature", dtype = "float64" }]
fields = [{ name = "fever", dtype = "float64", expr = "max(rectal_temperature - 38.5, 0)" }]

[[feature_service]]
name = "surgical_lesion_v1"
features = ["horse_colic_stats:rectal_temperature", "horse_colic_stats:total_protein", "derived:fever"]

[[model]]
name = "surgical_lesion"
feature_service = "surgical_lesion_v1"
label = "surgical_lesion"
impute = "mean"                       # mean | median | most_frequent | constant
select_k_best = 5                     # ANOVA F; omit to keep all
estimator = "gaussian_nb"             # gaussian_nb | logistic_regression | linear_regression
"#;

#[test]
fn the_issue_example_parses() {
    // As written it asks for the 5 best of 3 features: that parses and applies;
    // `verge train` is where the column count is known and k is checked.
    let defs = parse_str(ISSUE_EXAMPLE, "verge.toml").unwrap();
    assert_eq!(defs.models[0].select_k_best, Some(5));
    assert_eq!(defs.project, "horse_colic");
    let key = &defs.entities[0].join_keys[0];
    assert_eq!(
        (key.name.as_str(), key.dtype),
        ("hospital_number", DType::String)
    );
    let source = &defs.sources[0];
    assert_eq!(
        source.format,
        SourceFormat::Sqlite {
            table: "data".into()
        }
    );
    assert_eq!(source.created_timestamp_field.as_deref(), Some("created"));
    assert_eq!(
        source.field_mapping,
        vec![
            ("Hospital Number".into(), "hospital_number".into()),
            ("rectal temperature".into(), "rectal_temperature".into()),
        ]
    );
    let view = &defs.feature_views[0];
    assert_eq!(view.ttl, Duration::from_days(1));
    assert!(view.online);
    let odfv = &defs.on_demand_views[0];
    assert_eq!(odfv.fields[0].program.output_type(), DType::Float64);
    assert_eq!(odfv.request[0].name, "ambient_temperature");
    assert_eq!(
        defs.feature_services[0].features[2],
        FeatureRef::parse("derived:fever").unwrap()
    );
    let model = &defs.models[0];
    assert_eq!(model.impute, Imputation::Mean);
    assert_eq!(model.scale, Scaling::None);
    assert_eq!(model.encode, Encoding::OneHot);
    assert_eq!(model.select_k_best, Some(5));
    assert_eq!(
        model.estimator,
        EstimatorSpec::GaussianNb {
            var_smoothing: 1e-9
        }
    );
}

const MINIMAL: &str = r#"
project = "p"
[[entity]]
name = "e"
join_keys = ["k"]
value_type = "int64"
[[source]]
name = "s"
path = "s.parquet"
timestamp_field = "ts"
[[feature_view]]
name = "v"
entities = ["e"]
source = "s"
ttl = 0
fields = [{ name = "x", dtype = "bool" }]
"#;

#[test]
fn defaults_and_aliases() {
    let defs = parse_str(MINIMAL, "verge.toml").unwrap();
    assert_eq!(defs.entities[0].join_keys[0].dtype, DType::Int64);
    assert_eq!(defs.sources[0].format, SourceFormat::Parquet);
    assert_eq!(defs.feature_views[0].ttl, Duration::ZERO);
    assert!(defs.feature_views[0].online);
    let no_ttl = parse_str(&MINIMAL.replace("ttl = 0\n", ""), "verge.toml").unwrap();
    assert_eq!(no_ttl, defs);
    let zero_text = parse_str(&MINIMAL.replace("ttl = 0", "ttl = \"0\""), "verge.toml").unwrap();
    assert_eq!(zero_text, defs);
}

#[test]
fn declaration_order_does_not_matter() {
    let extra = "\n[[entity]]\nname = \"a\"\njoin_keys = [\"k2\"]\n";
    let last = format!("{MINIMAL}{extra}");
    let first = MINIMAL.replacen("\n[[entity]]", &format!("{extra}\n[[entity]]"), 1);
    assert_ne!(first, last);
    let (a, b) = (
        parse_str(&last, "f").unwrap(),
        parse_str(&first, "f").unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.entities[0].name, "a", "lists are sorted by name");
}

fn problems(text: &str) -> Vec<String> {
    parse_str(text, "verge.toml").unwrap_err().problems
}

#[test]
fn model_options_are_checked() {
    let base = format!(
        "{MINIMAL}\n[[feature_service]]\nname = \"fs\"\nfeatures = [\"v:x\"]\n[[model]]\nname = \"m\"\nfeature_service = \"fs\"\nlabel = \"y\"\n"
    );
    let defs = parse_str(
        &format!("{base}impute = \"constant\"\nimpute_value = 3\n"),
        "f",
    )
    .unwrap();
    assert_eq!(defs.models[0].impute, Imputation::Constant(3.0));
    let p = problems(&format!("{base}impute = \"constant\"\n"));
    assert_eq!(
        p,
        [
            "verge.toml: [[model]] \"m\": key \"impute_value\": impute = \"constant\" needs `impute_value = <number>`"
        ]
    );
    let p = problems(&format!(
        "{base}c = 2.0\nscale = \"robust\"\nencode = \"binary\"\n"
    ));
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].contains("key \"scale\""), "{p:?}");
    assert!(p[1].contains("key \"encode\""), "{p:?}");
    assert!(
        p[2].contains("estimator \"gaussian_nb\" does not take `c`"),
        "{p:?}"
    );
    let defs = parse_str(
        &format!("{base}estimator = \"logistic_regression\"\nmax_iter = 50\n"),
        "f",
    )
    .unwrap();
    assert_eq!(
        defs.models[0].estimator,
        EstimatorSpec::LogisticRegression {
            c: 1.0,
            max_iter: 50
        }
    );
}

#[test]
fn sources_are_checked() {
    let p = problems(&MINIMAL.replace("path = \"s.parquet\"", "path = \"s.csv\"\ntable = \"t\""));
    assert!(
        p[0].contains("[[source]] \"s\": key \"table\": only SQLite"),
        "{p:?}"
    );
    let p = problems(&MINIMAL.replace("\"s.parquet\"", "\"s\""));
    assert!(
        p[0].contains("key \"path\": \"s\" has extension \"\""),
        "{p:?}"
    );
    let p = problems(&MINIMAL.replace("value_type = \"int64\"", "value_type = \"float64\""));
    assert!(
        p[0].contains("[[entity]] \"e\": key \"dtype\": \"float64\" cannot type a join key"),
        "{p:?}"
    );
}

#[test]
fn serde_errors_name_the_table() {
    let p = problems(&MINIMAL.replace("ttl = 0", "ttl = 0\nonline = \"yes\""));
    assert!(
        p[0].starts_with("verge.toml: [[feature_view]] \"v\": TOML parse error at line"),
        "{p:?}"
    );
    assert!(p[0].contains("online"), "{p:?}");
    let p = problems(&MINIMAL.replace("project = \"p\"", "project = \"p\"\nversion = 2"));
    assert!(p[0].starts_with("verge.toml: TOML parse error"), "{p:?}");
    assert!(p[0].contains("unknown field `version`"), "{p:?}");
    let p = problems("");
    assert!(p[0].contains("missing field `project`"), "{p:?}");
}

/// `[run]` holds `verge run`'s settings: accepted, and invisible to the
/// definitions, so adding or editing it never changes a registry id.
#[test]
fn run_table_is_accepted_and_not_a_definition() {
    let with_run = format!(
        "{ISSUE_EXAMPLE}\n[run]\ntrain_entities = \"train.csv\"\nnow = \"2021-06-25T12:00:00Z\"\n"
    );
    assert_eq!(
        parse_str(&with_run, "verge.toml").unwrap(),
        parse_str(ISSUE_EXAMPLE, "verge.toml").unwrap()
    );
    let p = problems(&format!("{ISSUE_EXAMPLE}\n[run]\nnow = [\n"));
    assert!(p[0].contains("TOML parse error"), "{p:?}");
}

#[test]
fn type_names_are_feasts_case_insensitively() {
    let lower = parse_str(
        &MINIMAL.replace("dtype = \"bool\"", "dtype = \"float32\""),
        "verge.toml",
    )
    .unwrap();
    for spelling in ["Float32", "FLOAT32"] {
        let feast = parse_str(
            &MINIMAL
                .replace("dtype = \"bool\"", &format!("dtype = \"{spelling}\""))
                .replace("value_type = \"int64\"", "value_type = \"Int64\""),
            "verge.toml",
        )
        .unwrap();
        // The same definitions, so the same registry id.
        assert_eq!(feast, lower, "{spelling}");
    }
    let unknown = problems(&MINIMAL.replace("dtype = \"bool\"", "dtype = \"double\""));
    assert!(
        unknown.iter().any(|p| p.contains(
            "\"double\" is not a type; use one of bool, int32, int64, float32, float64, string, bytes, unix_timestamp, json"
        )),
        "{unknown:?}"
    );
    // Every Feast type reads, in Feast's spelling.
    for (feast, verge) in [
        ("Int32", "int32"),
        ("Bytes", "bytes"),
        ("UnixTimestamp", "unix_timestamp"),
        ("Json", "json"),
        ("Map", "json"),
        ("Array(Float32)", "array<float32>"),
        ("array<String>", "array<string>"),
    ] {
        let a = parse_str(
            &MINIMAL.replace("dtype = \"bool\"", &format!("dtype = \"{feast}\"")),
            "verge.toml",
        )
        .unwrap();
        let b = parse_str(
            &MINIMAL.replace("dtype = \"bool\"", &format!("dtype = \"{verge}\"")),
            "verge.toml",
        )
        .unwrap();
        assert_eq!(a, b, "{feast}");
    }
}

/// Feast's `FeatureService(features=[view])`: a view's name alone is every
/// field of it, in order, the same definitions as listing them.
#[test]
fn a_view_name_in_a_service_is_all_its_fields() {
    let two = MINIMAL.replace(
        r#"fields = [{ name = "x", dtype = "bool" }]"#,
        r#"fields = [{ name = "x", dtype = "bool" }, { name = "y", dtype = "int64" }]"#,
    );
    let whole = parse_str(
        &format!("{two}[[feature_service]]\nname = \"all\"\nfeatures = [\"v\"]\n"),
        "verge.toml",
    )
    .unwrap();
    let listed = parse_str(
        &format!("{two}[[feature_service]]\nname = \"all\"\nfeatures = [\"v:x\", \"v:y\"]\n"),
        "verge.toml",
    )
    .unwrap();
    assert_eq!(whole, listed);
    let p = problems(&format!(
        "{two}[[feature_service]]\nname = \"all\"\nfeatures = [\"nope\"]\n"
    ));
    assert!(
        p.iter()
            .any(|m| m.contains("\"nope\" is not a feature reference")),
        "{p:?}"
    );
}

#[test]
fn imported_tree_models_parse_with_their_defaults() {
    let base = format!(
        "{MINIMAL}\n[[feature_service]]\nname = \"fs\"\nfeatures = [\"v:x\"]\n[[model]]\nname = \"m\"\nfeature_service = \"fs\"\nlabel = \"y\"\n"
    );
    let defs = parse_str(
        &format!("{base}estimator = \"xgboost\"\nmodel_file = \"models/gbt.json\"\n"),
        "f",
    )
    .unwrap();
    let m = &defs.models[0];
    assert_eq!(
        m.estimator,
        EstimatorSpec::XgBoost {
            model_file: "models/gbt.json".into()
        }
    );
    assert_eq!(m.impute, Imputation::None, "trees route missing values");
    assert_eq!(m.encode, Encoding::Ordinal);
    let defs = parse_str(
        &format!("{base}estimator = \"lightgbm\"\nmodel_file = \"m.txt\"\nimpute = \"median\"\n"),
        "f",
    )
    .unwrap();
    assert_eq!(defs.models[0].impute, Imputation::Median);
    assert!(matches!(
        defs.models[0].estimator,
        EstimatorSpec::LightGbm { .. }
    ));

    let p = problems(&format!("{base}estimator = \"xgboost\"\n"));
    assert!(
        p[0].contains("add `model_file = \"path/to/model.json\"`"),
        "{p:?}"
    );
    let p = problems(&format!("{base}model_file = \"m.json\"\n"));
    assert!(p[0].contains("does not take `model_file`"), "{p:?}");
    let p = problems(&format!("{base}impute = \"none\"\n"));
    assert!(p[0].contains("is for tree models"), "{p:?}");
    let p = problems(&format!(
        "{base}estimator = \"lightgbm\"\nmodel_file = \"m.txt\"\nscale = \"standard\"\n"
    ));
    assert!(p[0].contains("remove `scale` and `select_k_best`"), "{p:?}");
}

#[test]
fn datasets_and_postgres_sources_parse_and_render_back() {
    let pg = MINIMAL.replace(
        "path = \"s.parquet\"",
        "format = \"postgres\"\ntable = \"public.stats\"\nurl_env = \"STATS_URL\"",
    );
    let defs = parse_str(&pg, "f").unwrap();
    assert_eq!(
        defs.sources[0].format,
        SourceFormat::Postgres {
            table: "public.stats".into(),
            url: None,
            url_env: Some("STATS_URL".into()),
        }
    );
    for path in ["data/stats/", "data/stats/*/*.parquet"] {
        let text = MINIMAL.replace("\"s.parquet\"", &format!("\"{path}\""));
        let d = parse_str(&text, "f").unwrap();
        assert_eq!(d.sources[0].format, SourceFormat::Parquet, "{path}");
    }
    let dir = MINIMAL.replace(
        "path = \"s.parquet\"",
        "path = \"data/stats\"\nformat = \"parquet\"",
    );
    for d in [defs, parse_str(&dir, "f").unwrap()] {
        let again = parse_str(&super::render::to_toml(&d), "f").unwrap();
        assert_eq!(again, d);
    }
    let with_password = pg.replace(
        "url_env = \"STATS_URL\"",
        "url = \"postgres://me:secret@127.0.0.1/db\"",
    );
    let p = problems(&with_password);
    assert!(
        p[0].contains("key \"url\": the URL holds a password"),
        "{p:?}"
    );
    let both = pg.replace("url_env", "url = \"postgres://h/db\"\nurl_env");
    assert!(problems(&both)[0].contains("exactly one of"));
    let p = problems(&pg.replace("table = \"public.stats\"", "table = \"a.b.c\""));
    assert!(p[0].contains("key \"table\""), "{p:?}");
    let p = problems(&MINIMAL.replace(
        "path = \"s.parquet\"",
        "path = \"s.parquet\"\nurl_env = \"X\"",
    ));
    assert!(p[0].contains("only PostgreSQL sources"), "{p:?}");
}
