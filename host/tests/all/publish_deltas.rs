//! `verge publish --to` shipping delta snapshots: rows pushed after a publish
//! go out as a delta holding only the changed keys, the published chain reads
//! exactly as the repository does (`get-online-features`), an unchanged
//! republish keeps the manifest, a chain at `max_deltas` is compacted into a
//! new base, `max_deltas = 0` ships whole snapshots with the pushes folded
//! in, signatures cover every delta, and `verge serve --from` serves the chain.
use std::fs;
use std::path::Path;

use serde_json::{Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::Snapshot;
use verge_core::artifact::manifest::PublishManifest;
use verge_core::artifact::signature::PublicKey;
use verge_core::time::Timestamp;
use verge_host::publish::PublishDir;

use crate::push::{pushable, repo_pulse};
use crate::support::run_expect;

const NOW: &str = "2021-06-05T12:00:00Z";
const IDS: [i64; 4] = [530101, 534817, 777, 5290409];
const HEADER: &str =
    "hospital_number,event_timestamp,created,rectal_temperature,pulse,total_protein,pain";

fn push_rows(repo: &Path, name: &str, rows: &[&str]) {
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    fs::write(repo.join(name), text).unwrap();
    run_expect(repo, &["push", "vitals_push", name], 0);
}

/// The same features as the published directory serves them (base + deltas).
fn site_pulse(site: &Path, key: Option<&PublicKey>) -> Json {
    let dir = PublishDir::new(site);
    let manifest = dir.read_manifest().unwrap().unwrap();
    let (deployment, _) = dir.check_pair(&manifest.current, key).unwrap();
    let api = Api::serving(deployment, Limits::default());
    let body = json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": IDS}, "now": NOW});
    let answer = api.handle(
        "POST",
        "/get-online-features",
        body.to_string().as_bytes(),
        Timestamp(0),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let v: Json = serde_json::from_slice(&answer.body).unwrap();
    v["results"][1]["values"].clone()
}

fn manifest(site: &Path) -> PublishManifest {
    PublishManifest::parse(&fs::read(site.join("manifest.json")).unwrap()).unwrap()
}

fn publish(repo: &Path, extra: &[&str]) -> Json {
    let mut args = vec!["publish", "fresh", "--to", "site", "--json"];
    args.extend_from_slice(extra);
    let out: Json = serde_json::from_str(&run_expect(repo, &args, 0).stdout).unwrap();
    out["to"]["shipped"].clone()
}

fn rows_in(site: &Path, id: verge_core::ContentId) -> usize {
    let bytes = fs::read(site.join(format!("snapshots/{id}.bin"))).unwrap();
    let s = Snapshot::load(bytes).unwrap();
    (0..s.meta().views.len())
        .map(|t| s.table(t).unwrap().rows())
        .sum()
}

#[test]
fn pushed_rows_publish_as_deltas_and_the_chain_reads_as_the_repository() {
    let repo = pushable();
    let (root, site) = (repo.path.as_path(), repo.path.join("site"));
    let shipped = publish(root, &[]);
    assert_eq!(shipped["kind"], "base", "{shipped}");
    let base = manifest(&site).current;
    assert!(base.deltas.is_empty());
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));

    // One newer row and one new key: a delta of two rows over the same base.
    push_rows(
        root,
        "a.csv",
        &[
            "530101,2021-06-05T10:00:00Z,2021-06-05T10:00:00Z,38.0,70,6.0,mild",
            "777,2021-06-05T11:00:00Z,,38.0,55,6.0,mild",
        ],
    );
    assert_eq!(publish(root, &[]), json!({"kind": "delta", "rows": 2}));
    let one = manifest(&site);
    assert_eq!(one.current.snapshot, base.snapshot);
    assert_eq!(one.current.deltas.len(), 1);
    assert_eq!(rows_in(&site, one.current.deltas[0].id), 2);
    assert_eq!(one.previous.as_ref(), Some(&base));
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));
    assert_eq!(site_pulse(&site, None)[2], json!(55));

    // Nothing changed: the manifest stays as it is.
    assert_eq!(publish(root, &[]), json!({"kind": "unchanged"}));
    assert_eq!(manifest(&site), one);

    // A second push grows the chain; at max_deltas = 2 the third compacts.
    push_rows(
        root,
        "b.csv",
        &["534817,2021-06-05T11:30:00Z,,38.0,99,6.0,mild"],
    );
    assert_eq!(
        publish(root, &["--max-deltas", "2"]),
        json!({"kind": "delta", "rows": 1})
    );
    assert_eq!(manifest(&site).current.deltas.len(), 2);
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));
    push_rows(
        root,
        "c.csv",
        &["530101,2021-06-05T11:45:00Z,,38.0,71,6.0,mild"],
    );
    let shipped = publish(root, &["--max-deltas", "2"]);
    assert_eq!(shipped["kind"], "base", "{shipped}");
    assert!(
        shipped["reason"].as_str().unwrap().contains("compacted"),
        "{shipped}"
    );
    let compacted = manifest(&site).current;
    // The snapshot with every pending push as its one delta.
    assert_eq!(compacted.snapshot, base.snapshot);
    assert_eq!(compacted.deltas.len(), 1);
    assert_eq!(rows_in(&site, compacted.deltas[0].id), 3);
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));

    // [publish] max_deltas = 0 in verge.toml: whole snapshots, pushes folded in.
    let config = root.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap() + "\n[publish]\nmax_deltas = 0\n";
    fs::write(&config, text).unwrap();
    push_rows(
        root,
        "d.csv",
        &["5290409,2021-06-05T11:50:00Z,,38.0,44,6.0,mild"],
    );
    let shipped = publish(root, &[]);
    assert_eq!(shipped["kind"], "base", "{shipped}");
    let whole = manifest(&site).current;
    assert!(whole.deltas.is_empty());
    assert_ne!(whole.snapshot, base.snapshot);
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));

    // materialize folds the pushes into the repository's snapshot: the
    // published state already reads as it.
    run_expect(
        root,
        &[
            "materialize",
            "2021-06-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    assert_eq!(publish(root, &[]), json!({"kind": "unchanged"}));
    assert_eq!(site_pulse(&site, None), repo_pulse(root, &IDS));

    // A bad setting is refused, naming the table.
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("max_deltas = 0", "max_deltas = \"many\"");
    fs::write(&config, text).unwrap();
    let r = run_expect(root, &["publish", "fresh", "--to", "site"], 2);
    assert!(r.stderr.contains("[publish]"), "{}", r.stderr);
}

#[test]
fn signed_chains_verify_and_serve_from_follows_them() {
    let repo = pushable();
    let (root, site) = (repo.path.as_path(), repo.path.join("site"));
    let r = run_expect(root, &["keygen", "-o", "release.key"], 0);
    let key = PublicKey::parse_hex(r.stdout.trim()).unwrap();
    publish(root, &["--sign-key", "release.key"]);
    push_rows(
        root,
        "a.csv",
        &["777,2021-06-05T11:00:00Z,,38.0,55,6.0,mild"],
    );
    assert_eq!(
        publish(root, &["--sign-key", "release.key"]),
        json!({"kind": "delta", "rows": 1})
    );
    let m = manifest(&site);
    let delta = m.current.deltas[0];
    assert!(delta.signature.is_some());
    let sig = fs::read_to_string(site.join(delta.signature_path())).unwrap();
    assert_eq!(sig.trim(), delta.signature.unwrap().to_string());
    assert_eq!(site_pulse(&site, Some(&key)), repo_pulse(root, &IDS));

    // A chain whose delta lost its signature is refused under the key.
    let mut unsigned = m.clone();
    unsigned.current.deltas[0].signature = None;
    fs::write(site.join("manifest.json"), unsigned.to_json()).unwrap();
    let dir = PublishDir::new(&site);
    let e = dir.check_pair(&unsigned.current, Some(&key)).unwrap_err();
    assert!(format!("{e:#}").contains("is unsigned"), "{e:#}");
    fs::write(site.join("manifest.json"), m.to_json()).unwrap();

    // `verge serve --from site` serves base + delta.
    let server =
        crate::publish::Server::start(&repo, &["--from", "site", "--native"], None).unwrap();
    let c = verge_test_kit::http::Client::new(server.addr);
    let body = json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": IDS}, "now": NOW});
    let a = c.post("/get-online-features", &body);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["results"][1]["values"], repo_pulse(root, &IDS));
}
