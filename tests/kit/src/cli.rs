//! A runner for the `verge` binary: run it on a repository, keep its exit code
//! and text output, insist on an exit code with the output shown when it
//! differs, and make fresh `verge init` repositories in temporary directories.
//!
//! Tests of `verge-host` pass cargo's `env!("CARGO_BIN_EXE_verge")` to
//! [`Verge::at`]; other packages cannot see that variable and use
//! [`Verge::find`], which builds the binary into their own target directory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `verge` binary under test.
#[derive(Debug, Clone)]
pub struct Verge {
    bin: PathBuf,
}

/// The result of one run, with text output.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Verge {
    /// The binary at `bin` (in verge-host's tests: `env!("CARGO_BIN_EXE_verge")`).
    #[must_use]
    pub fn at(bin: impl Into<PathBuf>) -> Verge {
        Verge { bin: bin.into() }
    }

    /// The binary built (once per process) with cargo into the target directory
    /// and profile of the running test.
    ///
    /// # Panics
    ///
    /// When cargo cannot build it.
    #[must_use]
    pub fn find() -> Verge {
        static BIN: OnceLock<PathBuf> = OnceLock::new();
        Verge::at(BIN.get_or_init(|| built_bin("verge")).clone())
    }

    /// The binary's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.bin
    }

    /// A command for the binary with no arguments yet.
    #[must_use]
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// Runs `verge -C repo ARGS...`.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started.
    pub fn run<S: AsRef<OsStr>>(&self, repo: &Path, args: &[S]) -> Run {
        self.command()
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()))
            .into()
    }

    /// Runs `verge -C repo ARGS...` and insists on exit code `code`, showing
    /// the output when it differs.
    ///
    /// # Panics
    ///
    /// When the code differs.
    #[track_caller]
    pub fn run_expect<S: AsRef<OsStr> + std::fmt::Debug>(
        &self,
        repo: &Path,
        args: &[S],
        code: i32,
    ) -> Run {
        let r = self.run(repo, args);
        assert_eq!(
            r.code, code,
            "verge {args:?}\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// A fresh `verge init` repository in a temporary directory.
    ///
    /// # Panics
    ///
    /// When `init` fails.
    #[must_use]
    pub fn init(&self) -> Repo {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let path = tmp.path().join("repo");
        let r: Run = self
            .command()
            .arg("init")
            .arg(&path)
            .output()
            .expect("cannot run verge init")
            .into();
        assert_eq!(r.code, 0, "init: {}", r.stderr);
        Repo { tmp, path }
    }
}

/// A repository in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct Repo {
    tmp: tempfile::TempDir,
    /// The repository (`TMP/repo`).
    pub path: PathBuf,
}

impl Repo {
    /// The temporary directory the repository lives in.
    #[must_use]
    pub fn parent(&self) -> &Path {
        self.tmp.path()
    }

    /// `verge.toml`'s text.
    #[must_use]
    pub fn config(&self) -> String {
        self.read("verge.toml")
    }

    /// A file's text.
    ///
    /// # Panics
    ///
    /// When it cannot be read.
    #[must_use]
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path.join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    /// Writes a file.
    ///
    /// # Panics
    ///
    /// When it cannot be written.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path.join(name), text)
            .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }
}

/// Builds the workspace's binary `bin` with cargo into the running test
/// binary's target directory and profile (it lives in `TARGET/PROFILE/deps/`),
/// and returns its path: for binaries of other packages, whose
/// `CARGO_BIN_EXE_<name>` cargo does not set.
///
/// The build selects what `cargo test --workspace` selects (every member, test
/// targets included), so features resolve the same way and, after that test
/// build, this one is a fingerprint check. `-p PACKAGE --bin BIN` alone leaves
/// out the dev-dependencies' features (`verge-core/default`, proptest's and
/// criterion's), and so recompiled wasmtime, arrow and verge-host: 2 minutes
/// per test step in `scripts/test`.
///
/// # Panics
///
/// When cargo cannot build it.
#[must_use]
pub fn built_bin(bin: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in TARGET/PROFILE/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("TARGET/PROFILE");
    let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!("no profile in {}", profile_dir.display()),
    };
    let status = Command::new(crate::cargo())
        .args(["build", "--quiet", "--workspace", "--tests", "--bin", bin])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(crate::workspace())
        .status()
        .expect("cannot run cargo");
    assert!(status.success(), "building {bin} failed");
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}
