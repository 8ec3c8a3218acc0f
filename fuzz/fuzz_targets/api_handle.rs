//! `Api::handle` with arbitrary method, path and body against the fixture bundle
//! and snapshot (built once). Byte 0 picks the method, byte 1 the path, the rest
//! is the body. Every answer must be JSON; every error a 4xx whose body repeats
//! its status — a 500 here means a request reached a failure inside verge.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verge_core::api::Api;
use verge_fuzz::{METHODS, PATHS, fixture};

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(fixture::api)
}

fuzz_target!(|data: &[u8]| {
    let (Some(m), Some(p)) = (data.first(), data.get(1)) else {
        return;
    };
    let method = METHODS[usize::from(*m) % METHODS.len()];
    let path = PATHS[usize::from(*p) % PATHS.len()];
    let body = &data[2..];
    let response = api().handle(method, path, body, fixture::now());
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).expect("every answer is JSON");
    if response.status != 200 {
        assert!((400..500).contains(&response.status), "status {}: {json}", response.status);
        assert_eq!(json["error"]["status"], response.status);
        assert!(json["error"]["message"].is_string());
    }
});
