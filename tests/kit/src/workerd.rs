//! The Cloudflare Worker under the real runtime, for the tests that need it
//! (`tests/tests/worker.rs`, `tests/tests/feast_sdk.rs`): builds it once per
//! test binary with `examples/worker/build.sh` and runs `workerd serve` on
//! 127.0.0.1 over an artifact directory in the publish layout, killed when
//! dropped. Every wait here is bounded.
//!
//! Needs `WORKERD_BIN` (and the tools `build.sh` takes from `scripts/setup
//! --print-env`); [`workerd_bin`] says so loudly when it is unset.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::http::Client;
use crate::workspace;

/// How long a starting workerd may take to listen before it is killed.
const START_LIMIT: Duration = Duration::from_secs(30);

/// `WORKERD_BIN`, or `None` with a loud note (scripts/test always sets it).
#[must_use]
pub fn workerd_bin() -> Option<PathBuf> {
    match std::env::var_os("WORKERD_BIN") {
        Some(bin) if !bin.is_empty() => Some(PathBuf::from(bin)),
        _ => {
            eprintln!(
                "\n*** SKIPPING the workerd tests: WORKERD_BIN is unset. Run scripts/test, or \
                 `eval \"$(scripts/setup --print-env)\"` first. ***\n"
            );
            None
        }
    }
}

/// Builds the worker (`examples/worker/build.sh`) once per test binary.
///
/// # Panics
///
/// When the build fails.
pub fn build_worker() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(workspace().join("examples/worker/build.sh"))
            .status()
            .expect("run examples/worker/build.sh");
        assert!(status.success(), "examples/worker/build.sh failed");
    });
}

/// A running `workerd serve`, killed (bounded) when dropped.
#[derive(Debug)]
pub struct Workerd {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Workerd {
    /// Builds the worker if needed and serves `artifacts` (the publish
    /// layout) with the manifest trusted for `ttl_ms`, and `env` set for
    /// workerd's `fromEnvironment` bindings (an empty value removes the
    /// variable). Logs go beside `artifacts`.
    ///
    /// # Panics
    ///
    /// When `WORKERD_BIN` is unset or workerd does not come up five times.
    #[must_use]
    pub fn start(artifacts: &Path, ttl_ms: u32, env: &[(&str, &str)]) -> Workerd {
        build_worker();
        Workerd::start_config(
            &workspace().join("examples/worker/config.capnp"),
            artifacts,
            ttl_ms,
            env,
        )
    }

    /// [`Workerd::start`] with another worker's workerd configuration
    /// (built by the caller), such as the TypeScript Worker's.
    ///
    /// # Panics
    ///
    /// When `WORKERD_BIN` is unset or workerd does not come up five times.
    #[must_use]
    pub fn start_config(
        config: &Path,
        artifacts: &Path,
        ttl_ms: u32,
        env: &[(&str, &str)],
    ) -> Workerd {
        Workerd::spawn(config, artifacts, &[], ttl_ms, env)
    }

    /// [`Workerd::start`] with `examples/worker/config-kv.capnp`: shards read
    /// through the `SHARDS` KV namespace binding, which workerd serves from
    /// a disk service over `artifacts/snapshots` (KV key `<id>.bin`).
    ///
    /// # Panics
    ///
    /// As [`Workerd::start`].
    #[must_use]
    pub fn start_kv(artifacts: &Path, ttl_ms: u32, env: &[(&str, &str)]) -> Workerd {
        build_worker();
        let shards = artifacts.join("snapshots");
        std::fs::create_dir_all(&shards)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", shards.display()));
        Workerd::spawn(
            &workspace().join("examples/worker/config-kv.capnp"),
            artifacts,
            &[("shards", &shards)],
            ttl_ms,
            env,
        )
    }

    fn spawn(
        config: &Path,
        artifacts: &Path,
        dirs: &[(&str, &Path)],
        ttl_ms: u32,
        env: &[(&str, &str)],
    ) -> Workerd {
        let bin = workerd_bin().expect("WORKERD_BIN is unset");
        // A free port: bind to 0, read it, release it. Retried on the rare
        // collision with another process grabbing it in between.
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind a free port on 127.0.0.1")
                .port();
            let log = artifacts.with_extension(format!("workerd-{port}.log"));
            let log_file = |p: PathBuf| {
                std::fs::File::create(&p)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()))
            };
            let mut command = Command::new(&bin);
            for (k, v) in env {
                if v.is_empty() {
                    command.env_remove(k);
                } else {
                    command.env(k, v);
                }
            }
            let child = command
                .arg("serve")
                .arg(config)
                .arg(format!(
                    "--directory-path=artifacts={}",
                    artifacts.display()
                ))
                .args(
                    dirs.iter()
                        .map(|(name, dir)| format!("--directory-path={name}={}", dir.display())),
                )
                .arg(format!("--socket-addr=http=127.0.0.1:{port}"))
                .env("VERGE_MANIFEST_TTL_MS", ttl_ms.to_string())
                .stdin(Stdio::null())
                .stdout(log_file(log.clone()))
                .stderr(log_file(log.with_extension("err")))
                .spawn()
                .expect("spawn workerd");
            let mut w = Workerd { child, port, log };
            if w.wait_listening() {
                return w;
            }
            eprintln!("workerd did not come up on {port}:\n{}", w.logs());
        }
        panic!("workerd failed to start five times");
    }

    /// Waits (bounded) until the port accepts connections and the process
    /// is still ours (not another process on the port).
    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(None) = self.child.try_wait() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Its stdout and stderr so far.
    #[must_use]
    pub fn logs(&self) -> String {
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err = std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        format!("--- stdout\n{out}\n--- stderr\n{err}")
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for it.
    #[must_use]
    pub fn client(&self) -> Client {
        Client::new(format!("127.0.0.1:{}", self.port))
    }

    /// Whether the process is still running (a crash mid-test would
    /// otherwise show only as a client's connection error).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        // kill() is SIGKILL: the wait is bounded by the kernel reaping it.
        let _ = self.child.wait();
    }
}
