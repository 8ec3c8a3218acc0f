//! `verge serve` end to end: the real binary on 127.0.0.1 with an ephemeral port,
//! in Wasm and native mode, answering real HTTP requests with the bytes
//! `Api::handle` and `verge predict` give, and the error statuses of docs/http.md.
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};

use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::Scaling;
use verge_core::online::Predictor;
use verge_test_kit::horse_colic::fixture;
use verge_test_kit::http::Client;
use verge_test_kit::http::raw::{self, exchange, read_response};
use verge_test_kit::tiny::{self, Tiny};

use crate::support::{verge, wasm_path};

const NOW: &str = "2021-07-05T12:00:00Z";

/// A running `verge serve`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, native: bool) -> Server {
    start_with(dir, native, &[])
}

/// `verge serve` over `dir`'s pair with the usual limits and `extra` flags.
fn start_with(dir: &Path, native: bool, extra: &[&str]) -> Server {
    let mut cmd = verge();
    cmd.current_dir(dir)
        .args([
            "serve",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
            "--addr",
            "127.0.0.1:0",
            "--max-entities",
            "50",
            "--max-body-bytes",
            "4096",
            "--threads",
            "2",
        ])
        .args(extra)
        .env("VERGE_WASM", wasm_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if native {
        cmd.arg("--native");
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

fn setup() -> (tempfile::TempDir, Api) {
    let f = fixture(true);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bundle"), &f.bundle).unwrap();
    std::fs::write(dir.path().join("features.snapshot"), &f.snapshot).unwrap();
    let api = Api::new(
        Predictor::new(
            Bundle::load(&f.bundle).unwrap(),
            Snapshot::load(f.snapshot).unwrap(),
        )
        .unwrap(),
        Limits {
            max_body_bytes: 4096,
            max_entities: 50,
            ..Limits::default()
        },
    );
    (dir, api)
}

fn check_server(native: bool) {
    let (dir, api) = setup();
    let server = start(dir.path(), native);
    let client = Client::new(server.addr);
    let now = verge_core::Timestamp::parse_rfc3339(NOW).unwrap();
    let predict = format!(
        r#"{{"entities":{{"hospital_number":[530101,534817,1]}},"request_context":{{"ambient_temperature":[20,null,31.5]}},"now":"{NOW}"}}"#
    );
    // Request data inside `entities`, as Feast's client sends it.
    let online = format!(
        r#"{{"feature_service":"surgery_v1","entities":{{"hospital_number":[530101,2],"ambient_temperature":[21.5,null]}},"now":"{NOW}"}}"#
    );
    let no_request_data = format!(
        r#"{{"feature_service":"surgery_v1","entities":{{"hospital_number":[530101]}},"now":"{NOW}"}}"#
    );
    let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    let too_many = format!(
        r#"{{"entities":{{"hospital_number":[{}]}}}}"#,
        many.join(",")
    );
    for (method, path, body, status) in [
        ("POST", "/predict", predict.as_str(), 200),
        ("POST", "/get-online-features", online.as_str(), 200),
        (
            "POST",
            "/get-online-features",
            no_request_data.as_str(),
            400,
        ),
        ("GET", "/healthz", "", 200),
        ("GET", "/version", "", 200),
        ("POST", "/predict", "{not json", 400),
        (
            "POST",
            "/predict",
            r#"{"entities":{"hospital_number":["x"]}}"#,
            400,
        ),
        ("POST", "/predict", too_many.as_str(), 413),
        ("GET", "/nope", "", 404),
        ("GET", "/predict", "", 405),
        ("PUT", "/get-online-features", "{}", 405),
    ] {
        let answer = client.send(method, path, &[], body.as_bytes());
        let (got_status, got) = (answer.status, answer.body);
        let want = api.handle(method, path, body.as_bytes(), now);
        assert_eq!(
            got_status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want.body),
            "{method} {path}"
        );
    }

    // The same answer `verge predict` prints.
    let out = verge()
        .current_dir(dir.path())
        .args([
            "predict",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
            "--entity",
            "hospital_number=530101",
            "--request",
            "ambient_temperature=20",
            "--now",
            NOW,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = format!(
        r#"{{"entities":{{"hospital_number":[530101]}},"request_context":{{"ambient_temperature":[20]}},"now":"{NOW}"}}"#
    );
    let served = client.send("POST", "/predict", &[], body.as_bytes());
    let (status, served) = (served.status, served.body);
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&served),
        String::from_utf8_lossy(&out.stdout).trim_end()
    );

    // 413 on the declared length alone: nothing past the head is ever sent.
    let mut s = raw::connect(server.addr);
    let (status, head, body) = exchange(
        &mut s,
        b"POST /predict HTTP/1.1\r\nhost: t\r\ncontent-length: 10000000000\r\n\r\n",
    );
    assert_eq!(status, 413, "{head}");
    assert!(head.contains("connection: close"));
    assert!(String::from_utf8_lossy(&body).contains("the limit is 4096"));
    // A body just over the limit, sent whole, is refused the same way.
    let big = vec![b' '; 4097];
    assert_eq!(raw::request(server.addr, "POST", "/predict", &big).0, 413);

    // Keep-alive: several requests on one connection, then malformed ones.
    let mut s = raw::connect(server.addr);
    for _ in 0..3 {
        let (status, head, body) = exchange(&mut s, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n");
        assert_eq!((status, body.as_slice()), (200, &br#"{"status":"ok"}"#[..]));
        assert!(head.contains("connection: keep-alive"));
    }
    let (status, _, _) = exchange(&mut s, b"NOT-HTTP\r\n\r\n");
    assert_eq!(status, 400);
    let mut s = raw::connect(server.addr);
    let (status, _, _) = exchange(
        &mut s,
        b"POST /predict HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    assert_eq!(status, 411);
    let mut s = raw::connect(server.addr);
    let mut huge_head = b"GET /healthz HTTP/1.1\r\nhost: t\r\nx: ".to_vec();
    huge_head.extend(std::iter::repeat_n(b'a', 20_000));
    huge_head.extend_from_slice(b"\r\n\r\n");
    let (status, _, _) = exchange(&mut s, &huge_head);
    assert_eq!(status, 431);
    // Expect: 100-continue gets its interim answer, then the real one.
    let mut s = raw::connect(server.addr);
    let body = br#"{"entities":{"hospital_number":[530101]}}"#;
    let (status, _, _) = exchange(
        &mut s,
        format!(
            "POST /predict HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(status, 100);
    // (A 100 has no content-length; `read_response` saw 0 bytes of body.)
    s.write_all(body).unwrap();
    let (status, _, _) = read_response(&mut s);
    assert_eq!(status, 200);

    // Still serving after all that.
    assert_eq!(client.get("/healthz").status, 200);
}

#[test]
fn serves_the_api_under_wasmtime() {
    check_server(false);
}

#[test]
fn serves_the_api_natively() {
    check_server(true);
}

#[test]
fn refuses_to_start_without_the_module() {
    let (dir, _) = setup();
    let out = verge()
        .current_dir(dir.path())
        .args([
            "serve",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("VERGE_WASM", dir.path().join("missing.wasm"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cargo build -p verge-wasm --target wasm32-unknown-unknown --profile wasm"),
        "{err}"
    );
}

/// Row faults and the cell limit over HTTP, on the tiny pair whose standard
/// scaler divides `excess` by about 0.5: a finite ambient of -1.7e308 scales
/// past f64::MAX, so that row has no answer (`core/tests/online.rs` has the core's
/// side of both).
fn check_rows_and_cells(native: bool) {
    let tiny = Tiny {
        scale: Scaling::Standard,
        select_k_best: None,
        ..Tiny::plain()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bundle"), tiny.bundle_bytes()).unwrap();
    std::fs::write(dir.path().join("features.snapshot"), tiny.snapshot_bytes()).unwrap();
    // 4 cells a row (the id and 3 model inputs): 10 rows fit in 40, 11 do not.
    let server = start_with(dir.path(), native, &["--max-cells", "40"]);
    let client = Client::new(server.addr);
    let now = tiny::now().to_rfc3339();
    let predict = |ids: &str, ambient: &str| {
        let body = format!(
            r#"{{"entities":{{"id":[{ids}]}},"request_context":{{"ambient":[{ambient}]}},"now":"{now}"}}"#
        );
        let answer = client.send("POST", "/predict", &[], body.as_bytes());
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        (answer.status, json)
    };
    let (status, body) = predict("1,1,1", "20,-1.7e308,30");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["predictions"][0],
        predict("1", "20").1["predictions"][0]
    );
    assert_eq!(
        body["predictions"][2],
        predict("1", "30").1["predictions"][0]
    );
    let bad = &body["predictions"][1];
    let message = bad["error"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("row 1: ") && message.contains("scaling overflows"),
        "{bad}"
    );
    assert!(bad.get("probabilities").is_none(), "{bad}");

    let ids = |n: usize| vec!["1"; n].join(",");
    let ambient = |n: usize| vec!["20"; n].join(",");
    assert_eq!(predict(&ids(10), &ambient(10)).0, 200);
    let (status, body) = predict(&ids(11), &ambient(11));
    assert_eq!(status, 413, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("= 44 cells; the limit is 40") && message.contains("--max-cells"),
        "{message}"
    );
}

#[test]
fn row_faults_and_cells_under_wasmtime() {
    check_rows_and_cells(false);
}

#[test]
fn row_faults_and_cells_natively() {
    check_rows_and_cells(true);
}
