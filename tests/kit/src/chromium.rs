//! The browser package in headless Chromium, for the tests that need it
//! (`tests/tests/browser.rs`, `tests/tests/typed_edge`):
//! [`chromium`] with the browser tests' skip rule, [`site_with_package`]
//! (`wasm/build-browser.sh` into a fresh site), [`serve`] a site on
//! 127.0.0.1, [`render`] a page to its DOM (bounded by Chromium's virtual-time
//! budget), and [`page_output`], the JSON a test page writes into `#out`.
//!
//! Needs `CHROMIUM_BIN` and `WASM_BINDGEN_BIN` (`scripts/setup --print-env`;
//! `scripts/test` sets them). Without them [`chromium`] says so loudly and
//! the test passes, so a plain `cargo test` works without a browser.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::workspace;

/// The Chromium binary, or `None` (said loudly) when the tools are not set up.
#[must_use]
pub fn chromium() -> Option<String> {
    let (Ok(chromium), Ok(_)) = (
        std::env::var("CHROMIUM_BIN"),
        std::env::var("WASM_BINDGEN_BIN"),
    ) else {
        eprintln!(
            "\n\n*** SKIPPED the browser test: CHROMIUM_BIN and WASM_BINDGEN_BIN must be set \
             (eval \"$(scripts/setup --print-env)\"; scripts/test does this) ***\n\n"
        );
        return None;
    };
    Some(chromium)
}

/// A fresh site directory holding the browser package under `pkg/`.
///
/// # Panics
///
/// When `wasm/build-browser.sh` fails.
#[must_use]
pub fn site_with_package() -> tempfile::TempDir {
    let site = tempfile::tempdir().expect("a temporary directory");
    let status = Command::new(workspace().join("wasm/build-browser.sh"))
        .arg(site.path().join("pkg"))
        .status()
        .expect("run wasm/build-browser.sh");
    assert!(status.success(), "wasm/build-browser.sh failed");
    site
}

/// Serves `root` on 127.0.0.1 (one thread per connection, for the life of
/// the test process) and returns the base URL.
///
/// # Panics
///
/// When no port can be bound.
#[must_use]
pub fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("the bound address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &root);
            });
        }
    });
    format!("http://{addr}")
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn answer(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let path = if path == "/" { "/index.html" } else { path };
    let file = root.join(path.trim_start_matches('/'));
    let mut stream = stream;
    // `..` never leaves the site.
    match (path.contains(".."), std::fs::read(&file)) {
        (false, Ok(body)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&file),
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        _ => {
            let body = b"not found";
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(body)?;
        }
    }
    stream.flush()
}

/// Renders `url` in headless Chromium and returns the DOM once the page has
/// settled (fetches, Wasm compilation and promises, within a 30 s virtual
/// time budget).
///
/// # Panics
///
/// When Chromium fails or dumps no page.
#[must_use]
pub fn render(chromium: &str, url: &str) -> String {
    let profile = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium failed on {url}: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The JSON a page wrote as the text of its `<pre id="out">` once its
/// `data-state` is `done`.
///
/// # Panics
///
/// When there is no such element, the page never finished, or the text is
/// not JSON; the message holds the DOM.
#[must_use]
pub fn page_output(dom: &str) -> Json {
    let at = dom
        .find("id=\"out\"")
        .unwrap_or_else(|| panic!("no #out in the page:\n{dom}"));
    let start = dom[..at].rfind('<').unwrap_or(0);
    let end = at + dom[at..].find('>').unwrap_or(0);
    let tag = &dom[start..=end];
    assert!(
        tag.contains("data-state=\"done\""),
        "the page did not finish:\n{dom}"
    );
    let rest = &dom[end + 1..];
    let text = unescape(&rest[..rest.find('<').unwrap_or(rest.len())]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("#out is not JSON ({e}): {text}"))
}
