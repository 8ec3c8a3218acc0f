//! An installed `verge` carries its Wasm module: `cargo install --path host`
//! into a temporary root, then `verify` and `serve` in a directory outside the
//! repository, with an empty environment (no `VERGE_WASM`, no `CARGO_*`, no
//! `HOME`), must work and answer exactly as the native core does.
//!
//! The install shares this test's target directory and profile, so it reuses
//! what `cargo test` already compiled instead of building verge a second time.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use verge_test_kit::http::Client;
use verge_test_kit::{tiny, workspace};

/// `cargo install --path host` into `root`; returns the installed binary.
fn install(root: &Path) -> PathBuf {
    // This binary is TARGET/PROFILE/deps/install-HASH.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let mut command = Command::new(verge_test_kit::cargo());
    command
        .args(["install", "--quiet", "--locked", "--path", "host"])
        .arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace());
    if profile_dir.file_name().is_some_and(|n| n == "debug") {
        command.arg("--debug");
    }
    let status = command.status().unwrap();
    assert!(status.success(), "cargo install --path host failed");
    root.join("bin")
        .join(format!("verge{}", std::env::consts::EXE_SUFFIX))
}

/// The installed binary, run in `dir` with nothing in its environment.
fn bare(bin: &Path, dir: &Path) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(dir).env_clear();
    command
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn installed_verge_verifies_and_serves_outside_the_repository() {
    let root = tempfile::tempdir().unwrap();
    let bin = install(root.path());
    let away = tempfile::tempdir().unwrap();
    std::fs::write(away.path().join("model.bundle"), tiny::bundle_bytes()).unwrap();
    std::fs::write(
        away.path().join("features.snapshot"),
        tiny::snapshot_bytes(),
    )
    .unwrap();

    let version = bare(&bin, away.path()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.contains("Wasm ABI module"), "{version}");

    let out = bare(&bin, away.path())
        .args([
            "verify",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(": 0 mismatches"), "{stdout}");
    assert!(stdout.contains("embedded module"), "{stdout}");

    let mut child = bare(&bin, away.path())
        .args([
            "serve",
            "--bundle",
            "model.bundle",
            "--snapshot",
            "features.snapshot",
        ])
        .args(["--addr", "127.0.0.1:0", "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("verge serve said {line:?}"))
        .to_owned();
    let client = Client::new(&addr);
    let version = client.get("/version");
    assert_eq!(version.status, 200);
    let api = tiny::api();
    let native = api.handle("GET", "/version", b"", tiny::now());
    assert_eq!(
        version.body, native.body,
        "the Wasm module answered differently"
    );
    drop(server);
}
