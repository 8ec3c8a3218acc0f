//! `verge serve`'s write routes: Feast's `POST /push` and
//! `POST /write-to-online-store` behind the admin token, into the push log,
//! visible to the next request (under wasmtime, whose instances reload), and
//! still there after a restart.
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::{Value as Json, json};
use verge_test_kit::http::Client;

use crate::push::pushable;
use crate::support::{verge, wasm_path};

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

fn serve(dir: &Path) -> Server {
    serve_with(dir, &[])
}

fn serve_with(dir: &Path, extra: &[&str]) -> Server {
    let mut child = verge()
        .current_dir(dir)
        .args(["serve", "--bundle", "fresh", "--addr", "127.0.0.1:0"])
        .args(extra)
        .args(["--admin-token-env", "PUSH_TOKEN", "--threads", "2"])
        .env("PUSH_TOKEN", "s3cret")
        .env("VERGE_WASM", wasm_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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

/// Pulse of `ids` as served: (values, statuses).
fn pulse(client: &Client, ids: &[i64]) -> (Vec<Json>, Vec<Json>) {
    let body = json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": ids}});
    let answer = client.post("/get-online-features", &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let out = answer.json();
    (
        out["results"][1]["values"].as_array().unwrap().clone(),
        out["results"][1]["statuses"].as_array().unwrap().clone(),
    )
}

fn df(ids: &[i64], pulses: &[Json], at: &str) -> Json {
    let n = ids.len();
    json!({
        "hospital_number": ids,
        "event_timestamp": vec![at; n],
        "created": vec![Json::Null; n],
        "rectal_temperature": vec![38.0; n],
        "pulse": pulses,
        "total_protein": vec![6.0; n],
        "pain": vec!["mild"; n],
    })
}

fn send(client: &Client, path: &str, token: &str, body: &Json) -> verge_test_kit::http::Answer {
    let auth = format!("Bearer {token}");
    client.send(
        "POST",
        path,
        &[("authorization", auth.as_str())],
        body.to_string().as_bytes(),
    )
}

#[test]
fn push_and_write_to_online_store_are_served_at_once_and_survive_a_restart() {
    let repo = pushable();
    // The server's clock is the wall clock: push rows from now, inside the ttl.
    let now = verge_host::store::apply::now().to_rfc3339();
    let server = serve(&repo.path);
    let client = Client::new(server.addr);
    assert_eq!(pulse(&client, &[777]).1, vec![json!("NOT_FOUND")]);

    let push = json!({"push_source_name": "vitals_push", "df": df(&[777], &[json!(55)], &now), "to": "online"});
    assert_eq!(send(&client, "/push", "wrong", &push).status, 401);
    let r = send(&client, "/push", "s3cret", &push);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        pulse(&client, &[777]),
        (vec![json!(55)], vec![json!("PRESENT")])
    );

    let log = repo.path.join(verge_host::push::LOG_FILE);
    let bytes = fs::read(&log).unwrap();
    let bad = json!({"push_source_name": "vitals_push", "df": df(&[1, 2], &[json!(1), json!("fast")], &now)});
    let r = send(&client, "/push", "s3cret", &bad);
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("row 2, column `pulse`"),
        "{}",
        r.text()
    );
    let unknown = json!({"push_source_name": "nope", "df": df(&[1], &[json!(1)], &now)});
    let r = send(&client, "/push", "s3cret", &unknown);
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("unknown push source `nope`"),
        "{}",
        r.text()
    );
    assert_eq!(
        fs::read(&log).unwrap(),
        bytes,
        "a refused push changed the log"
    );

    let write = json!({"feature_view_name": "horse_vitals", "df": df(&[778], &[json!(66)], &now)});
    let r = send(&client, "/write-to-online-store", "s3cret", &write);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(pulse(&client, &[777, 778]).0, vec![json!(55), json!(66)]);
    drop(server);

    let server = serve(&repo.path);
    let client = Client::new(server.addr);
    assert_eq!(pulse(&client, &[777, 778]).0, vec![json!(55), json!(66)]);
}

/// `n` rows for keys `base..base + n`, all with pulse `pulse`, at `at`.
fn block(base: i64, n: i64, pulse: i64, at: &str) -> Json {
    let ids: Vec<i64> = (base..base + n).collect();
    let pulses = vec![json!(pulse); ids.len()];
    json!({"push_source_name": "vitals_push", "df": df(&ids, &pulses, at)})
}

#[test]
fn a_killed_serve_keeps_every_acknowledged_push() {
    let repo = pushable();
    let now = verge_host::store::apply::now().to_rfc3339();
    let mut rng = verge_test_kit::rng::Rng::from_env("VERGE_CRASH_SEED", "serve push crash");
    let mut acknowledged = Vec::new();
    let mut next = 1_000_000i64;
    for _ in 0..crate::crash::rounds() {
        let server = serve_with(&repo.path, &["--native"]);
        let client = Client::new(server.addr);
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_micros(rng.below(60_000));
        // Push until the seeded moment, then SIGKILL mid-stream (a push may be in flight).
        let pusher = std::thread::spawn({
            let now = now.clone();
            move || {
                let mut acked = Vec::new();
                let mut base = next;
                loop {
                    let body = block(base, 200, base % 1000, &now).to_string();
                    match client.try_send(
                        "POST",
                        "/push",
                        &[("authorization", "Bearer s3cret")],
                        body.as_bytes(),
                    ) {
                        Ok(a) if a.status == 200 => acked.push(base),
                        _ => return acked,
                    }
                    base += 200;
                }
            }
        });
        while std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(server);
        let acked = pusher.join().unwrap();
        next = acked.last().map_or(next, |b| b + 200) + 10_000;
        acknowledged.extend(acked);
        verge_host::push::pending(&repo.path, None).unwrap();
    }
    eprintln!(
        "serve push crash: {} pushes acknowledged over {} kills",
        acknowledged.len(),
        crate::crash::rounds()
    );
    let server = serve_with(&repo.path, &["--native"]);
    let client = Client::new(server.addr);
    for base in &acknowledged {
        let got = pulse(&client, &[*base, base + 199]).0;
        assert_eq!(
            got,
            vec![json!(base % 1000); 2],
            "block {base} lost (seed {})",
            rng.seed()
        );
    }
    crate::crash::check_registry(&repo);
}

#[test]
fn ten_thousand_rows_pushed_under_read_load_without_an_error() {
    let repo = pushable();
    let now = verge_host::store::apply::now().to_rfc3339();
    let server = serve(&repo.path);
    let addr = server.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let client = Client::new(addr);
                let (mut ok, mut bad) = (0usize, 0usize);
                // Bounded: at most 2,000 reads each.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && ok + bad < 2000 {
                    let body = json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": [2_000_000, 2_009_999]}});
                    match client.try_send("POST", "/get-online-features", &[], body.to_string().as_bytes()) {
                        Ok(a) if a.status == 200 => ok += 1,
                        _ => bad += 1,
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    let client = Client::new(addr);
    for i in 0..10 {
        let r = send(
            &client,
            "/push",
            "s3cret",
            &block(2_000_000 + i * 1000, 1000, 7, &now),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        let (ok, bad) = r.join().unwrap();
        assert_eq!(bad, 0, "{bad} reads failed ({ok} ok)");
    }
    assert_eq!(
        pulse(&client, &[2_000_000, 2_009_999]).0,
        vec![json!(7), json!(7)]
    );
}
