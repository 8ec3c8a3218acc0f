//! The materialization state (`.verge/materialize.json`): per view, its
//! definition's fingerprint and the windows materialized, and the ids of the
//! latest snapshot; and the windows `materialize-incremental` derives from it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use verge_core::artifact::view_fingerprint;
use verge_core::definition::Definitions;
use verge_core::{ContentId, Timestamp};

use super::{STATE_FILE, ViewWindow, online_view};
use crate::store::atomic;

/// The materialization state kept in `.verge/materialize.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Per view, what has been materialized.
    #[serde(default)]
    pub views: BTreeMap<String, ViewState>,
    /// The ids of the latest snapshot (one, or one per shard in order).
    #[serde(default)]
    pub latest: Vec<String>,
    /// How much of the push log ([`crate::push`]) the latest snapshot holds:
    /// written in the same atomic write as `latest`, so a fold is recorded
    /// exactly when its snapshot is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_folded: Option<crate::push::Folded>,
}

/// What has been materialized for one view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewState {
    /// The view's fingerprint when these windows were materialized.
    pub fingerprint: String,
    /// Every window materialized, oldest first, as RFC 3339 pairs.
    pub windows: Vec<(String, String)>,
    /// The end of the most recent window (where `materialize-incremental` starts).
    pub last_end: String,
}

impl State {
    /// Reads the state of the repository at `repo_root` (empty when there is none).
    ///
    /// # Errors
    ///
    /// When the file exists but cannot be read or parsed.
    pub fn load(repo_root: &Path) -> Result<State> {
        let path = repo_root.join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a materialization state file; delete it to start over",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Where `view` (with definition fingerprint `fingerprint`) last ended, if it
    /// was materialized with the same definition.
    #[must_use]
    pub fn last_end(&self, view: &str, fingerprint: ContentId) -> Option<Timestamp> {
        let v = self.views.get(view)?;
        (v.fingerprint == fingerprint.to_string())
            .then(|| Timestamp::parse_rfc3339(&v.last_end))
            .flatten()
    }

    /// Writes the state atomically.
    pub(super) fn save(&self, repo_root: &Path) -> Result<()> {
        let path = repo_root.join(STATE_FILE);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_vec_pretty(self).context("encoding the state")?;
        atomic::replace(&path, &text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The windows `materialize-incremental END` uses: each view starts where its
/// last materialization ended (that instant again: the merge keeps the newer row,
/// so overlap is harmless), or at `end - ttl` the first time (the beginning of
/// time for a ttl of zero).
///
/// # Errors
///
/// An unknown or offline view.
pub fn incremental_windows(
    defs: &Definitions,
    state: &State,
    views: &[String],
    end: Timestamp,
) -> Result<Vec<ViewWindow>> {
    let names: Vec<String> = if views.is_empty() {
        defs.feature_views
            .iter()
            .filter(|v| v.online)
            .map(|v| v.name.clone())
            .collect()
    } else {
        views.to_vec()
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let view = online_view(defs, &name)?;
        let fingerprint =
            view_fingerprint(&view.name, &defs.join_keys(view), &view.fields, view.ttl);
        let start = match state.last_end(&view.name, fingerprint) {
            Some(last) => last.min(end),
            None if view.ttl.is_zero() => Timestamp::MIN,
            None => end - view.ttl,
        };
        out.push(ViewWindow {
            view: view.name.clone(),
            start,
            end,
        });
    }
    Ok(out)
}
