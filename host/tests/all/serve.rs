//! `verge serve` end to end: the real binary on 127.0.0.1 with an ephemeral port,
//! in Wasm and native mode, answering real HTTP requests with the bytes
//! `Api::handle` and `verge predict` give, and the error statuses of docs/http.md.
#![allow(clippy::unwrap_used)]

mod edge_support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edge_support::{fixture, wasm_path};
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Predictor;

const VERGE: &str = env!("CARGO_BIN_EXE_verge");
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
    let mut cmd = Command::new(VERGE);
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

/// Sends raw bytes, reads one response: (status, headers, body).
fn exchange(stream: &mut TcpStream, raw: &[u8]) -> (u16, String, Vec<u8>) {
    stream.write_all(raw).unwrap();
    read_response(stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "connection closed mid-head: {head:?}");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, head, body)
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let (status, _, body) = exchange(&mut s, &raw);
    (status, body)
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
        },
    );
    (dir, api)
}

fn check_server(native: bool) {
    let (dir, api) = setup();
    let server = start(dir.path(), native);
    let now = verge_core::Timestamp::parse_rfc3339(NOW).unwrap();
    let predict = format!(
        r#"{{"entities":{{"hospital_number":[530101,534817,1]}},"request_context":{{"ambient_temperature":[20,null,31.5]}},"now":"{NOW}"}}"#
    );
    let online = format!(
        r#"{{"feature_service":"surgery_v1","entities":{{"hospital_number":[530101,2]}},"now":"{NOW}"}}"#
    );
    let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    let too_many = format!(
        r#"{{"entities":{{"hospital_number":[{}]}}}}"#,
        many.join(",")
    );
    for (method, path, body, status) in [
        ("POST", "/predict", predict.as_str(), 200),
        ("POST", "/get-online-features", online.as_str(), 200),
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
        let (got_status, got) = request(server.addr, method, path, body.as_bytes());
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
    let out = Command::new(VERGE)
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
    let (status, served) = request(server.addr, "POST", "/predict", body.as_bytes());
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&served),
        String::from_utf8_lossy(&out.stdout).trim_end()
    );

    // 413 on the declared length alone: nothing past the head is ever sent.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let (status, head, body) = exchange(
        &mut s,
        b"POST /predict HTTP/1.1\r\ncontent-length: 10000000000\r\n\r\n",
    );
    assert_eq!(status, 413, "{head}");
    assert!(head.contains("connection: close"));
    assert!(String::from_utf8_lossy(&body).contains("the limit is 4096"));
    // A body just over the limit, sent whole, is refused the same way.
    let big = vec![b' '; 4097];
    assert_eq!(request(server.addr, "POST", "/predict", &big).0, 413);

    // Keep-alive: several requests on one connection, then malformed ones.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for _ in 0..3 {
        let (status, head, body) = exchange(&mut s, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert_eq!((status, body.as_slice()), (200, &br#"{"status":"ok"}"#[..]));
        assert!(head.contains("connection: keep-alive"));
    }
    let (status, _, _) = exchange(&mut s, b"NOT-HTTP\r\n\r\n");
    assert_eq!(status, 400);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let (status, _, _) = exchange(
        &mut s,
        b"POST /predict HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    assert_eq!(status, 411);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let mut huge_head = b"GET /healthz HTTP/1.1\r\nx: ".to_vec();
    huge_head.extend(std::iter::repeat_n(b'a', 20_000));
    huge_head.extend_from_slice(b"\r\n\r\n");
    let (status, _, _) = exchange(&mut s, &huge_head);
    assert_eq!(status, 431);
    // Expect: 100-continue gets its interim answer, then the real one.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = br#"{"entities":{"hospital_number":[530101]}}"#;
    let (status, _, _) = exchange(
        &mut s,
        format!(
            "POST /predict HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
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
    assert_eq!(request(server.addr, "GET", "/healthz", b"").0, 200);
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
    let out = Command::new(VERGE)
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
