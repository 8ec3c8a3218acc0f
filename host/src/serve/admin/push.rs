//! `POST /push` and `POST /write-to-online-store`: Feast's write routes,
//! behind the admin token, into the repository's push log ([`crate::push`]).
//!
//! A write is checked against the registry head, appended to the log (synced
//! before the answer), and its rows are merged into the delta snapshot served
//! over the base (which already holds every earlier write; see
//! [`crate::push::delta`]), then swapped in, so the next request sees it.
//! Writes are serialised by one mutex, so a slower merge never replaces a
//! newer one. The served pair keeps naming the base snapshot, so following
//! the refs ([`crate::serve::watch`]) does not mistake the delta for a change.
//!
//! Answers: 404 when the admin routes are off or the server does not serve a
//! repository (a publish directory takes no writes), 401 without the token,
//! 405 for a method other than POST, 400 for a body that is refused (the row
//! and column named; the log is unchanged), 200 `{"status": "ok", "rows": n}`.

use std::path::Path;
use std::sync::Arc;

use verge_core::api::admin::same_secret;

use super::{Live, Served, lock, refuse};
use crate::serve::http::{Answer, Request};

/// Feast's push route.
pub const PUSH_PATH: &str = "/push";
/// Feast's direct online write route.
pub const WRITE_PATH: &str = "/write-to-online-store";

/// Whether `request` is for one of the write routes.
#[must_use]
pub fn is_write(request: &Request) -> bool {
    let path = request.path.split('?').next().unwrap_or_default();
    path == PUSH_PATH || path == WRITE_PATH
}

impl Live {
    /// The admission of a write: refused before the body is read unless the
    /// token matches, the method is POST and a repository is served.
    pub(crate) fn admit_write(&self, request: &Request) -> Result<(), Answer> {
        let Some(token) = self.config.token.as_deref().filter(|t| !t.is_empty()) else {
            return Err(refuse(
                404,
                "the write routes are off: start `verge serve` with --admin-token-env VAR",
            ));
        };
        let given = request
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            return Err(refuse(
                401,
                "send `Authorization: Bearer <token>` with the admin token (the value of --admin-token-env) to write",
            ));
        }
        if request.method != "POST" {
            return Err(refuse(
                405,
                &format!("{} is not allowed here; use POST", request.method),
            ));
        }
        if self.config.repo.is_none() {
            return Err(refuse(
                404,
                "this server serves a publish directory, which takes no writes; serve a repository's refs to push",
            ));
        }
        Ok(())
    }

    /// Answers a write request (see the module docs).
    pub fn handle_write(&self, request: &Request) -> Answer {
        if let Err(answer) = self.admit_write(request) {
            return answer;
        }
        let Some(repo) = self.config.repo.as_deref() else {
            return refuse(404, "no repository is served");
        };
        let body: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => return refuse(400, &format!("the body is not JSON: {e}")),
        };
        let _writes = lock(&self.writes);
        match self.write(repo, request, &body) {
            Ok(Ok(rows)) => (
                200,
                format!("{{\"status\":\"ok\",\"rows\":{rows}}}").into_bytes(),
            ),
            Ok(Err(e)) => refuse(400, &format!("{e:#}")),
            Err(e) => refuse(500, &format!("{e:#}")),
        }
    }

    /// Checks and appends the write (an inner `Err` is the caller's fault),
    /// then serves the rebuilt snapshot.
    fn write(
        &self,
        repo: &Path,
        request: &Request,
        body: &serde_json::Value,
    ) -> anyhow::Result<anyhow::Result<usize>> {
        let Some((_, head)) = crate::store::Store::open(repo).read_head()? else {
            return Ok(Err(anyhow::anyhow!(
                "the registry is empty; run `verge apply` first"
            )));
        };
        let defs = head.definitions;
        let path = request.path.split('?').next().unwrap_or_default();
        let rows = if path == PUSH_PATH {
            crate::push::push_body(&defs, body)
        } else {
            crate::push::write_body(&defs, body)
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => return Ok(Err(e)),
        };
        let pushed = crate::push::append(repo, &rows)?;
        self.relayer(repo, &rows)?;
        Ok(Ok(pushed.rows))
    }

    /// Serves the current snapshot with `rows` merged into the delta layered
    /// over it (every earlier write's rows): the same newest-wins result as
    /// layering the whole log over the base, without reading the log again
    /// and at a cost proportional to the pending rows, not the snapshot.
    fn relayer(&self, repo: &Path, rows: &crate::push::ViewRows) -> anyhow::Result<()> {
        let current = self.current();
        let layers = current.api.deployment().layers();
        let served = layers.base();
        let defs = crate::push::definitions_of(repo, served.meta().registry_id)?;
        let previous = layers.deltas().last().map(|d| &**d);
        let Some(delta) = crate::push::delta::delta(&defs, served, previous, rows)? else {
            return Ok(());
        };
        let deployment = current
            .api
            .deployment()
            .with_deltas(vec![Arc::new(delta)])?;
        let next = Arc::new(Served {
            generation: 0,
            pair: current.pair.clone(),
            api: Arc::new(verge_core::api::Api::serving(
                deployment,
                self.config.limits,
            )),
            bundles: current.bundles.clone(),
        });
        self.replace(next);
        Ok(())
    }
}
