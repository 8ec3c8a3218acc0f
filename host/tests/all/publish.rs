//! `verge keygen`, `verge publish` and `verge serve`'s admin routes, end to end
//! through the built binary on `verge init` repositories:
//!
//! - the publish layout (content-addressed files, signatures, manifest with
//!   `previous`), idempotent republishing, rollback and roll-forward;
//! - signatures: `--public-key` refuses unsigned, foreign-signed and tampered
//!   pairs, at startup and on upload, and the served pair stays live;
//! - the admin routes: 404 when off, 401 without the token (no token or key
//!   material ever appears in any output or artifact), 405, 409;
//! - a pair published and rolled back while clients hammer `/predict` (Wasm
//!   mode): every answer is exactly one whole pair's answer.
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::{PublishManifest, PublishedPair};
use verge_core::artifact::signature::PublicKey;
use verge_host::publish::PublishDir;
use verge_test_kit::http::{Answer, Client};

use crate::support::{Repo, Run, run_expect, verge, wasm_path};

const T0: &str = "2021-06-01T00:00:00Z";
const T3: &str = "2021-06-03T00:00:00Z";
const T6: &str = "2021-06-06T00:00:00Z";
const NOW: &str = "2021-06-05T12:00:00Z";
const TOKEN: &str = "tok-3b9d0c7e5a";

/// A repository with a trained model and a snapshot of `[T0, T3]`.
pub(crate) fn trained() -> Repo {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply", "-m", "first"], 0);
    run_expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        0,
    );
    run_expect(&repo.path, &["materialize", T0, T3], 0);
    repo
}

/// [`trained`], with its model published to `site/` (`verge publish --to site`).
pub(crate) fn published() -> Repo {
    let repo = trained();
    run_expect(
        &repo.path,
        &["publish", "surgical_lesion", "--to", "site"],
        0,
    );
    repo
}

/// `verge keygen -o FILE`: the public key it printed.
fn keygen(repo: &Repo, file: &str) -> (PublicKey, Run) {
    let r = run_expect(&repo.path, &["keygen", "-o", file], 0);
    let key = PublicKey::parse_hex(r.stdout.trim()).unwrap_or_else(|| panic!("{r:?}"));
    (key, r)
}

fn manifest(dir: &Path) -> PublishManifest {
    PublishManifest::parse(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The 64 hex digits of the secret seed in a key file.
fn seed_hex(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().nth(1).unwrap().trim().to_string()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Fails if `secret_hex` (as text, or as the bytes it spells in hex) appears
/// in any of `texts` or any file under `dirs`.
fn assert_absent(secret_hex: &str, texts: &[&str], dirs: &[&Path]) {
    // A hex secret (a key's seed) is also looked for as raw bytes.
    let raw: Vec<u8> = (0..secret_hex.len() / 2)
        .map_while(|i| u8::from_str_radix(&secret_hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let raw = if raw.len() * 2 == secret_hex.len() {
        raw
    } else {
        secret_hex.as_bytes().to_vec()
    };
    for t in texts {
        assert!(
            !t.contains(secret_hex),
            "the secret leaked into output: {t}"
        );
    }
    for dir in dirs {
        for f in files(dir) {
            let bytes = std::fs::read(&f).unwrap();
            let hex_hit = bytes
                .windows(secret_hex.len())
                .any(|w| w.eq_ignore_ascii_case(secret_hex.as_bytes()));
            let raw_hit = bytes.windows(raw.len()).any(|w| w == raw.as_slice());
            assert!(!hex_hit && !raw_hit, "the secret is in {}", f.display());
        }
    }
}

#[test]
fn keygen_publish_rollback_and_signatures_in_a_directory() {
    let repo = trained();
    let (public, keygen_run) = keygen(&repo, "release.key");
    let key_file = repo.path.join("release.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing key is kept.
    let r = run_expect(&repo.path, &["keygen", "-o", "release.key"], 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);

    let site = repo.path.join("site");
    let first = run_expect(
        &repo.path,
        &[
            "publish",
            "surgical_lesion",
            "--to",
            "site",
            "--sign-key",
            "release.key",
            "--json",
        ],
        0,
    );
    let m1 = manifest(&site);
    assert_eq!(m1.previous, None);
    let report: Json = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(
        report["to"]["published"]["bundle_id"],
        m1.current.bundle.to_string()
    );
    let dir = PublishDir::new(&site);
    dir.check_pair(&m1.current, Some(&public)).unwrap();
    for rel in [
        m1.current.bundle_path(),
        m1.current.snapshot_path(),
        m1.current.bundle_signature_path(),
        m1.current.snapshot_signature_path(),
    ] {
        assert!(site.join(&rel).is_file(), "{rel}");
    }
    // Files are named by their content.
    let bytes = std::fs::read(site.join(m1.current.snapshot_path())).unwrap();
    assert_eq!(
        verge_core::artifact::Snapshot::load(bytes).unwrap().id(),
        m1.current.snapshot
    );

    // A second snapshot: the first pair becomes `previous`. Republishing the
    // same pair changes nothing (the rollback target is kept).
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    let args = [
        "publish",
        "surgical_lesion",
        "--to",
        "site",
        "--sign-key",
        "release.key",
        // A whole snapshot (not a delta over the first): a new pair.
        "--max-deltas",
        "0",
    ];
    let second = run_expect(&repo.path, &args, 0);
    let m2 = manifest(&site);
    assert_ne!(m2.current.snapshot, m1.current.snapshot);
    assert_eq!(m2.current.bundle, m1.current.bundle);
    assert_eq!(m2.previous, Some(m1.current.clone()));
    let again = run_expect(&repo.path, &args, 0);
    assert_eq!(manifest(&site), m2);

    // Rollback, then roll forward; with --public-key the target is verified.
    let hex = public.to_string();
    run_expect(
        &repo.path,
        &[
            "publish",
            "--rollback",
            "--to",
            "site",
            "--public-key",
            &hex,
        ],
        0,
    );
    let back = manifest(&site);
    assert_eq!(
        (&back.current, &back.previous),
        (&m1.current, &Some(m2.current.clone()))
    );
    run_expect(&repo.path, &["publish", "--rollback", "--to", "site"], 0);
    assert_eq!(manifest(&site), m2);

    // A tampered signature (in the manifest) no longer verifies: the
    // rollback is refused and the manifest is left alone.
    let mut tampered = m2.clone();
    let mut sig = tampered
        .previous
        .clone()
        .unwrap()
        .snapshot_signature
        .unwrap();
    sig.0[0] ^= 1;
    tampered.previous.as_mut().unwrap().snapshot_signature = Some(sig);
    std::fs::write(site.join("manifest.json"), tampered.to_json()).unwrap();
    let r = run_expect(
        &repo.path,
        &[
            "publish",
            "--rollback",
            "--to",
            "site",
            "--public-key",
            &hex,
        ],
        2,
    );
    assert!(
        r.stderr.contains("does not hold the signature"),
        "{}",
        r.stderr
    );
    assert_eq!(manifest(&site), tampered);
    // ... and the signature check itself, past the `.sig` file.
    let e = tampered
        .previous
        .clone()
        .unwrap()
        .check(
            &[std::fs::read(site.join(m1.current.bundle_path())).unwrap()],
            std::fs::read(site.join(m1.current.snapshot_path())).unwrap(),
            Vec::<Vec<u8>>::new(),
            Some(&public),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not verify"), "{e}");
    std::fs::write(site.join("manifest.json"), m2.to_json()).unwrap();

    // `verge build --sign-key`: bundle.sig and snapshot.sig, and the
    // signatures in its manifest.
    let build = run_expect(
        &repo.path,
        &[
            "build",
            "surgical_lesion",
            "-o",
            "dist",
            "--sign-key",
            "release.key",
            "--json",
        ],
        0,
    );
    let built: Json = serde_json::from_str(&build.stdout).unwrap();
    let dist = repo.path.join("dist");
    for (file, kind) in [("bundle", "bundle"), ("snapshot", "snapshot")] {
        let text = std::fs::read_to_string(dist.join(format!("{file}.sig"))).unwrap();
        assert_eq!(built[kind]["signature"].as_str().unwrap(), text.trim());
    }

    // Errors: nothing to publish, no previous pair, a bad key file.
    let r = run_expect(&repo.path, &["publish", "--to", "site"], 2);
    assert!(r.stderr.contains("SERVICE_OR_MODEL"), "{}", r.stderr);
    let fresh = repo.path.join("fresh");
    let r = run_expect(&repo.path, &["publish", "--rollback", "--to", "fresh"], 2);
    assert!(r.stderr.contains("nothing is published"), "{}", r.stderr);
    assert!(!fresh.join("manifest.json").exists());
    std::fs::write(repo.path.join("bad.key"), "hello").unwrap();
    let r = run_expect(
        &repo.path,
        &[
            "publish",
            "surgical_lesion",
            "--to",
            "site",
            "--sign-key",
            "bad.key",
        ],
        2,
    );
    assert!(
        r.stderr.contains("readable by others") || r.stderr.contains("not a verge signing key"),
        "{}",
        r.stderr
    );

    // The secret never appears in any output or any written file.
    let seed = seed_hex(&key_file);
    let outputs: Vec<&str> = [&keygen_run, &first, &second, &again, &build]
        .iter()
        .flat_map(|r| [r.stdout.as_str(), r.stderr.as_str()])
        .collect();
    assert_absent(&seed, &outputs, &[&site, &dist, &repo.path.join(".verge")]);
}

// ---------------------------------------------------------------------------
// verge serve

/// A running `verge serve`, killed on drop; its stderr is kept for checks.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    stderr: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(repo: &Repo, args: &[&str], token: Option<&str>) -> Result<Server, String> {
        Server::start_in(&repo.path, args, token)
    }

    /// [`Server::start`] in the repository at `path`.
    pub(crate) fn start_in(
        path: &Path,
        args: &[&str],
        token: Option<&str>,
    ) -> Result<Server, String> {
        let stderr = path.join(format!("serve-{}.err", std::process::id() ^ rand_u32()));
        let mut cmd = verge();
        cmd.arg("-C")
            .arg(path)
            .args(["serve", "--addr", "127.0.0.1:0", "--threads", "3"])
            .args(args)
            .env("VERGE_WASM", wasm_path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        match token {
            Some(t) => cmd.env("ADMIN_TOK", t),
            None => cmd.env_remove("ADMIN_TOK"),
        };
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.wait();
            return Err(std::fs::read_to_string(&stderr).unwrap());
        };
        Ok(Server {
            addr: addr.parse().unwrap(),
            child,
            stderr,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// A few bits of entropy for file names (no `rand` dependency).
fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn message(body: &[u8]) -> String {
    let j: Json = serde_json::from_slice(body).unwrap();
    j["error"]["message"].as_str().unwrap().to_string()
}

fn served_ids(c: &Client) -> (String, String) {
    let Answer { status, body, .. } = c.get("/version");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Json = serde_json::from_slice(&body).unwrap();
    (
        v["bundle_id"].as_str().unwrap().to_string(),
        v["snapshot_id"].as_str().unwrap().to_string(),
    )
}

fn ids_of(p: &PublishedPair) -> (String, String) {
    (p.bundle.to_string(), p.snapshot.to_string())
}

/// `verge publish --url` with the token in `VERGE_ADMIN_TOKEN` (or unset).
fn push(repo: &Repo, args: &[&str], token: Option<&str>) -> Run {
    let mut cmd = verge();
    cmd.arg("-C").arg(&repo.path).arg("publish").args(args);
    match token {
        Some(t) => cmd.env("VERGE_ADMIN_TOKEN", t),
        None => cmd.env_remove("VERGE_ADMIN_TOKEN"),
    };
    cmd.output().unwrap().into()
}

/// The pair an admin answer names (`published`, `previous`) as ids.
fn answered(r: &Run) -> (Json, Json) {
    assert_eq!(r.code, 0, "{}", r.stderr);
    let answer: Json = serde_json::from_str(&r.stdout).unwrap();
    let ids = |p: &Json| json!([p["bundle_id"], p["snapshot_id"]]);
    (
        ids(&answer["url"]["published"]),
        ids(&answer["url"]["previous"]),
    )
}

fn pair_ids(p: Option<&PublishedPair>) -> Json {
    p.map_or(json!([null, null]), |p| {
        json!([p.bundle.to_string(), p.snapshot.to_string()])
    })
}

/// `verge serve --from DIR` and DIR never disagree: after publishes and
/// rollbacks made by other processes straight into the directory, an admin
/// rollback or upload acts on the manifest as it is on disk (re-read under the
/// directory's lock), and the server's answer, what it serves and the manifest
/// all name the same current and previous pair.
#[test]
fn serve_from_a_directory_follows_its_manifest() {
    let repo = published();
    let site = repo.path.join("site");
    let a = manifest(&site).current;
    let server = Server::start(
        &repo,
        &[
            "--from",
            "site",
            "--native",
            "--admin-token-env",
            "ADMIN_TOK",
        ],
        Some(TOKEN),
    )
    .unwrap();
    let url = server.url();
    let c = Client::new(server.addr);
    let agree = |r: &Run| {
        let (published, previous) = answered(r);
        let m = manifest(&site);
        assert_eq!(published, pair_ids(Some(&m.current)), "answer vs manifest");
        assert_eq!(
            previous,
            pair_ids(m.previous.as_ref()),
            "answer vs manifest"
        );
        assert_eq!(served_ids(&c), ids_of(&m.current), "served vs manifest");
        m
    };

    // Another process publishes B into the directory; the server's rollback
    // goes back from the manifest's B to A, not from its own memory.
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    run_expect(
        &repo.path,
        &["publish", "surgical_lesion", "--to", "site"],
        0,
    );
    let b = manifest(&site).current;
    assert_ne!(a, b);
    let rollback = ["--rollback", "--url", url.as_str(), "--json"];
    let m = agree(&push(&repo, &rollback, Some(TOKEN)));
    assert_eq!((m.current, m.previous), (a.clone(), Some(b)));

    // An upload keeps the manifest's current as `previous`.
    run_expect(&repo.path, &["materialize", T0, NOW], 0);
    let m = agree(&push(
        &repo,
        &["surgical_lesion", "--url", &url, "--json"],
        Some(TOKEN),
    ));
    let c_pair = m.current;
    assert_eq!(m.previous, Some(a.clone()));

    // Another process rolls the directory back to A; the server's rollback then
    // rolls the manifest forward to C again, and serves what it says.
    run_expect(&repo.path, &["publish", "--rollback", "--to", "site"], 0);
    assert_eq!(manifest(&site).current, a);
    let m = agree(&push(&repo, &rollback, Some(TOKEN)));
    assert_eq!((m.current, m.previous), (c_pair, Some(a)));
}

#[test]
fn serve_checks_signatures_and_guards_the_admin_routes() {
    let repo = trained();
    let (public, _) = keygen(&repo, "release.key");
    let (_, _) = keygen(&repo, "stranger.key");
    let hex = public.to_string();
    run_expect(
        &repo.path,
        &[
            "publish",
            "surgical_lesion",
            "--to",
            "site",
            "--sign-key",
            "release.key",
        ],
        0,
    );
    let m1 = manifest(&repo.path.join("site"));

    // Startup under a public key: an unsigned --bundle is refused.
    let refused = Server::start(
        &repo,
        &[
            "--bundle",
            "model/surgical_lesion",
            "--native",
            "--public-key",
            &hex,
        ],
        None,
    )
    .err()
    .expect("an unsigned pair must not be served under --public-key");
    assert!(refused.contains("unsigned"), "{refused}");
    let r = Server::start(
        &repo,
        &["--from", "site", "--admin-token-env", "ADMIN_TOK"],
        None,
    )
    .err()
    .unwrap();
    assert!(r.contains("ADMIN_TOK"), "{r}");

    // Admin off: 404.
    let off = Server::start(&repo, &["--from", "site", "--native"], None).unwrap();
    let c = Client::new(off.addr);
    let Answer { status, .. } = c.send(
        "POST",
        "/admin/rollback",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(status, 404);
    drop(off);

    let server = Server::start(
        &repo,
        &[
            "--from",
            "site",
            "--native",
            "--admin-token-env",
            "ADMIN_TOK",
            "--public-key",
            &hex,
        ],
        Some(TOKEN),
    )
    .unwrap();
    let url = server.url();
    let c = Client::new(server.addr);
    assert_eq!(served_ids(&c), ids_of(&m1.current));
    let auth = format!("Bearer {TOKEN}");

    // The token: missing, wrong, or wrong by one character → 401, before the
    // body is read; the token never comes from argv.
    for given in [None, Some("Bearer nope"), Some(&auth[..auth.len() - 1])] {
        let headers: Vec<(&str, &str)> = given.iter().map(|g| ("authorization", *g)).collect();
        let Answer { status, body, .. } =
            c.send("PUT", "/admin/artifacts", &headers, b"not even artifacts");
        assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    }
    let Answer { status, .. } = c.send("GET", "/admin/artifacts", &[("authorization", &auth)], b"");
    assert_eq!(status, 405);
    let Answer { status, .. } = c.send("POST", "/admin/nope", &[("authorization", &auth)], b"");
    assert_eq!(status, 404);
    let Answer { status, body, .. } = c.send(
        "PUT",
        "/admin/artifacts",
        &[("authorization", &auth)],
        b"junk",
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    let r = push(&repo, &["surgical_lesion", "--url", &url], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("VERGE_ADMIN_TOKEN"), "{}", r.stderr);
    let r = push(
        &repo,
        &[
            "surgical_lesion",
            "--url",
            &url,
            "--sign-key",
            "release.key",
        ],
        Some("wrong"),
    );
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);

    // A new snapshot: unsigned and foreign-signed uploads are refused and the
    // served pair stays live; a signed one is swapped in.
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    let r = push(&repo, &["surgical_lesion", "--url", &url], Some(TOKEN));
    assert!(
        r.stderr.contains("HTTP 400") && r.stderr.contains("unsigned"),
        "{}",
        r.stderr
    );
    let r = push(
        &repo,
        &[
            "surgical_lesion",
            "--url",
            &url,
            "--sign-key",
            "stranger.key",
        ],
        Some(TOKEN),
    );
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert_eq!(served_ids(&c), ids_of(&m1.current));
    let good = push(
        &repo,
        &[
            "surgical_lesion",
            "--url",
            &url,
            "--sign-key",
            "release.key",
            "--json",
        ],
        Some(TOKEN),
    );
    assert_eq!(good.code, 0, "{}", good.stderr);
    let answer: Json = serde_json::from_str(&good.stdout).unwrap();
    let m2 = manifest(&repo.path.join("site"));
    assert_eq!(
        m2.previous,
        Some(m1.current.clone()),
        "the admin upload is written to --from"
    );
    assert_eq!(
        answer["url"]["published"]["snapshot_id"],
        m2.current.snapshot.to_string()
    );
    assert_eq!(
        answer["url"]["previous"]["snapshot_id"],
        m1.current.snapshot.to_string()
    );
    assert_eq!(served_ids(&c), ids_of(&m2.current));

    // A tampered signature header: 400, and m2 stays.
    let bundle = std::fs::read(repo.path.join("site").join(m2.current.bundle_path())).unwrap();
    let snapshot = std::fs::read(repo.path.join("site").join(m2.current.snapshot_path())).unwrap();
    let mut sig = m2.current.snapshot_signature.unwrap();
    sig.0[63] ^= 0x10;
    let Answer { status, body, .. } = c.send(
        "PUT",
        "/admin/artifacts",
        &[
            ("authorization", &auth),
            (
                "x-verge-bundle-signature",
                &m2.current.bundle_signature.unwrap().to_string(),
            ),
            ("x-verge-snapshot-signature", &sig.to_string()),
        ],
        &[bundle.as_slice(), &snapshot].concat(),
    );
    assert_eq!(status, 400);
    assert!(message(&body).contains("does not verify"));
    assert_eq!(served_ids(&c), ids_of(&m2.current));

    // Rollback over HTTP, then forward again; the directory follows.
    let r = push(&repo, &["--rollback", "--url", &url], Some(TOKEN));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(served_ids(&c), ids_of(&m1.current));
    assert_eq!(manifest(&repo.path.join("site")).current, m1.current);
    let r = push(&repo, &["--rollback", "--url", &url], Some(TOKEN));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(served_ids(&c), ids_of(&m2.current));

    // Neither the token nor the key's secret shows up anywhere.
    let seed = seed_hex(&repo.path.join("release.key"));
    let log = server.stderr();
    drop(server);
    assert_absent(
        TOKEN,
        &[&log, &r.stdout, &r.stderr, &good.stdout, &good.stderr],
        &[&repo.path.join("site")],
    );
    assert_absent(
        &seed,
        &[&log, &good.stdout, &good.stderr],
        &[&repo.path.join("site")],
    );
}

/// Publishes and rollbacks while clients hammer `/predict` on the Wasm
/// server: every answer is byte-identical to one whole pair's native answer.
#[test]
fn serve_swaps_whole_pairs_under_load() {
    let repo = published();
    let site = repo.path.join("site");
    let m1 = manifest(&site);
    run_expect(&repo.path, &["materialize", T0, T6], 0);
    // The second pair's bytes, to compute its answers natively.
    run_expect(
        &repo.path,
        &["publish", "surgical_lesion", "--to", "staging"],
        0,
    );
    let m2 = manifest(&repo.path.join("staging"));
    assert_ne!(m1.current.snapshot, m2.current.snapshot);

    let body = json!({"entities": {"hospital_number": [530101, 533738, 999]}, "now": NOW})
        .to_string()
        .into_bytes();
    let now = Timestamp::parse_rfc3339(NOW).unwrap();
    let native = |dir: &Path, p: &PublishedPair| {
        let d = PublishDir::new(dir);
        let api = Api::serving(d.check_pair(p, None).unwrap().0, Limits::default());
        api.handle("POST", "/predict", &body, now).body
    };
    let (want1, want2) = (
        native(&site, &m1.current),
        native(&repo.path.join("staging"), &m2.current),
    );
    assert_ne!(want1, want2);

    let server = Server::start(
        &repo,
        &["--from", "site", "--admin-token-env", "ADMIN_TOK"],
        Some(TOKEN),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new((0usize, 0usize)));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (stop, seen, body, want1, want2) = (
                stop.clone(),
                seen.clone(),
                body.clone(),
                want1.clone(),
                want2.clone(),
            );
            let addr = server.addr;
            std::thread::spawn(move || {
                let c = Client::new(addr);
                let (mut one, mut two) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let Answer {
                        status, body: got, ..
                    } = c.send("POST", "/predict", &[], &body);
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&got));
                    if got == want1 {
                        one += 1;
                    } else if got == want2 {
                        two += 1;
                    } else {
                        panic!(
                            "an answer from neither pair: {}",
                            String::from_utf8_lossy(&got)
                        );
                    }
                }
                let mut s = seen.lock().unwrap();
                s.0 += one;
                s.1 += two;
            })
        })
        .collect();
    let url = server.url();
    let deadline = Instant::now() + Duration::from_secs(2);
    std::thread::sleep(Duration::from_millis(300));
    for args in [
        vec!["surgical_lesion", "--url", url.as_str()],
        vec!["--rollback", "--url", url.as_str()],
        vec!["--rollback", "--url", url.as_str()],
    ] {
        let r = push(&repo, &args, Some(TOKEN));
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::thread::sleep(Duration::from_millis(300));
    }
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for t in clients {
        t.join().unwrap();
    }
    let (one, two) = *seen.lock().unwrap();
    assert!(
        one > 10 && two > 10,
        "both pairs must have answered: {one} / {two}"
    );
    let c = Client::new(server.addr);
    assert_eq!(served_ids(&c), ids_of(&m2.current));
    assert_eq!(manifest(&site).current, m2.current);
}
