//! Other programs a test runs (Feast's CLI and server, `verge serve`), bounded
//! in time: [`run_bounded`] for a command that must finish, [`Background`] for
//! a server that runs until the test drops it.
//!
//! Output always goes to files, never to pipes: a chatty child (Feast logs a
//! lot) can never fill a pipe nobody reads and hang. A background process gets
//! its own process group, and dropping it SIGKILLs the whole group, because
//! `feast serve` is a gunicorn master whose worker would outlive a kill of the
//! master alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` to completion within `limit` (killed after it), its output to
/// files in `dir` named after `what`, and returns its stdout.
///
/// # Panics
///
/// When it cannot start, exits nonzero or runs past `limit`; the message holds
/// both outputs.
pub fn run_bounded(mut cmd: Command, dir: &Path, what: &str, limit: Duration) -> String {
    let (out_path, err_path) = log_paths(dir, what);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(create(&out_path))
        .stderr(create(&err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("{what} failed ({s}):\n--- stdout\n{out}\n--- stderr\n{err}"),
        None => panic!("{what} was killed after {limit:?}:\n--- stdout\n{out}\n--- stderr\n{err}"),
    }
}

/// A process running in the background in its own process group, output to
/// files; the group is SIGKILLed when this is dropped.
#[derive(Debug)]
pub struct Background {
    child: Child,
    what: String,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    /// Starts `cmd` with its output to files in `dir` named after `what`.
    ///
    /// # Panics
    ///
    /// When it cannot start.
    #[must_use]
    pub fn start(mut cmd: Command, dir: &Path, what: &str) -> Background {
        use std::os::unix::process::CommandExt as _;
        let (out, err) = log_paths(dir, what);
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(create(&out))
            .stderr(create(&err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Background {
            child,
            what: what.to_owned(),
            out,
            err,
        }
    }

    /// Waits (at most `limit`) for a line of stdout starting with `prefix`
    /// and returns the rest of it, trimmed.
    ///
    /// # Panics
    ///
    /// When the process exits first or `limit` passes; the message holds its
    /// output.
    #[must_use]
    pub fn wait_for_line(&mut self, prefix: &str, limit: Duration) -> String {
        self.wait_until(limit, &format!("a line `{prefix}…`"), |out, _| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|rest| rest.trim().to_owned())
        })
    }

    /// Polls `ready` (every 100 ms, at most `limit`) until it says yes, the
    /// process still running; `waiting_for` names the wait in the panic.
    ///
    /// # Panics
    ///
    /// When the process exits first or `limit` passes.
    pub fn wait_until<T>(
        &mut self,
        limit: Duration,
        waiting_for: &str,
        mut ready: impl FnMut(&str, &str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let (out, err) = self.output();
            if let Some(found) = ready(&out, &err) {
                return found;
            }
            assert!(
                self.is_running(),
                "{} exited while waiting for {waiting_for}:\n{}",
                self.what,
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "{} gave no {waiting_for} within {limit:?}:\n{}",
                self.what,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its stdout and stderr so far.
    #[must_use]
    pub fn output(&self) -> (String, String) {
        (
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default(),
        )
    }

    /// Its output so far, labelled, for a failure message.
    #[must_use]
    pub fn logs(&self) -> String {
        let (out, err) = self.output();
        format!("--- stdout of {}\n{out}\n--- stderr\n{err}", self.what)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)); `kill -- -PGID`
        // reaches its children too. Then reap the child itself (bounded: it
        // has been SIGKILLed).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dir/WHAT.out` and `dir/WHAT.err`, spaces in `what` made dashes.
fn log_paths(dir: &Path, what: &str) -> (PathBuf, PathBuf) {
    let tag: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    )
}

fn create(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
}
