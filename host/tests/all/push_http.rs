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
    let mut child = verge()
        .current_dir(dir)
        .args(["serve", "--bundle", "fresh", "--addr", "127.0.0.1:0"])
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
