//! Running the binary and reading the registry in tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use verge_core::ContentId;
use verge_host::store::Store;

/// The binary under test.
pub fn verge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verge"))
}

/// The result of one run, with text output.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
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

/// Runs `verge -C repo ARGS...`.
pub fn run(repo: &Path, args: &[&str]) -> Run {
    let mut cmd = verge();
    cmd.arg("-C").arg(repo).args(args);
    cmd.output().unwrap().into()
}

/// Runs and insists on `code`, showing the output when it differs.
#[track_caller]
pub fn run_expect(repo: &Path, args: &[&str], code: i32) -> Run {
    let r = run(repo, args);
    assert_eq!(
        r.code, code,
        "verge {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r
}

/// A fresh `verge init` repository in a temporary directory.
pub struct Repo {
    _tmp: tempfile::TempDir,
    pub path: PathBuf,
}

impl Repo {
    pub fn init() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("repo");
        let r: Run = verge().arg("init").arg(&path).output().unwrap().into();
        assert_eq!(r.code, 0, "init: {}", r.stderr);
        Repo { _tmp: tmp, path }
    }

    pub fn config(&self) -> String {
        std::fs::read_to_string(self.path.join("verge.toml")).unwrap()
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path.join(name), text).unwrap();
    }

    pub fn store(&self) -> Store {
        Store::open(&self.path)
    }

    /// Every id on the chain from the head, newest first.
    pub fn history(&self) -> Vec<ContentId> {
        let store = self.store();
        match store.head().unwrap() {
            None => Vec::new(),
            Some(head) => store
                .history(head)
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        }
    }

    /// Reads and checks every object file in the store.
    pub fn check_every_object(&self) -> usize {
        let store = self.store();
        let ids = store.object_ids().unwrap();
        for id in &ids {
            store.read(*id).unwrap();
        }
        ids.len()
    }
}

/// The id `apply` printed.
pub fn printed_id(r: &Run) -> ContentId {
    ContentId::parse_hex(r.stdout.trim()).unwrap_or_else(|| panic!("no id in {:?}", r.stdout))
}
