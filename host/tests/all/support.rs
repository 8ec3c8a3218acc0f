//! What verge-host's tests share beyond the test kit: the binary cargo built
//! for this package, registry reads through host's own `Store`, and the Wasm
//! module compiled once per test binary (host types the kit cannot name).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use verge_core::ContentId;
use verge_host::store::Store;
use verge_host::wasm_runtime::WasmModule;
pub use verge_test_kit::cli::Run;
use verge_test_kit::cli::Verge;

/// The binary under test.
pub fn bin() -> Verge {
    Verge::at(env!("CARGO_BIN_EXE_verge"))
}

/// A command for the binary under test.
pub fn verge() -> Command {
    bin().command()
}

/// Runs and insists on `code`, showing the output when it differs.
#[track_caller]
pub fn run_expect(repo: &Path, args: &[&str], code: i32) -> Run {
    bin().run_expect(repo, args, code)
}

/// A fresh `verge init` repository (the kit's), with registry reads.
#[derive(Debug)]
pub struct Repo(verge_test_kit::cli::Repo);

impl Deref for Repo {
    type Target = verge_test_kit::cli::Repo;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Repo {
    pub fn init() -> Repo {
        Repo(bin().init())
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

/// The raw ABI module file the tests hand to `verge` as `$VERGE_WASM`.
pub fn wasm_path() -> PathBuf {
    verge_test_kit::wasm::module_path()
}

/// [`wasm_path`]'s module, compiled once per test binary.
pub fn module() -> WasmModule {
    static MODULE: OnceLock<WasmModule> = OnceLock::new();
    MODULE
        .get_or_init(|| WasmModule::load(&wasm_path()).unwrap())
        .clone()
}

/// `verge historical` of service `surgery_v1` over `entities` into `out.csv`,
/// expecting exit `code`.
pub fn historical(repo: &Repo, entities: &str, code: i32) -> Run {
    run_expect(
        &repo.path,
        &[
            "historical",
            "--entities",
            entities,
            "--service",
            "surgery_v1",
            "-o",
            "out.csv",
        ],
        code,
    )
}

/// Fails unless `r` printed a `warning:` line containing `needle`.
#[track_caller]
pub fn warns(r: &Run, needle: &str) {
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(needle)),
        "no warning with {needle:?} in:\n{}",
        r.stderr
    );
}

/// Fails if `r` printed any warning.
#[track_caller]
pub fn silent(r: &Run) {
    assert!(!r.stderr.contains("warning: "), "{}", r.stderr);
}
