//! The layer every face shares: loading bundles and a snapshot, pairing them
//! into one deployment, and holding what is loaded.
//!
//! The raw ABI and the browser both accept the two artifacts separately (in
//! either order for the ABI; a bundle alone is enough to `score` and describe),
//! and used to keep their own copies of the state and of the load messages.
//! [`Loaded`] is that state once; the faces only turn host pointers or JS values
//! into bytes and [`LoadError`] into their own error type. The worker loads
//! whole published pairs through [`verge_core::artifact::manifest`] instead.

use std::sync::Arc;

use verge_core::Error;
use verge_core::api::{self, Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::{Deployment, Layers};

/// Why an artifact was refused; the message names which one.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// The bundle's bytes are not a valid bundle.
    Bundle(Error),
    /// The snapshot's bytes are not a valid snapshot.
    Snapshot(Error),
    /// Both are valid but do not fit each other.
    Pair(Error),
}

impl LoadError {
    /// Whether the two artifacts were built from incompatible definitions (as
    /// opposed to one of them being damaged).
    #[must_use]
    pub fn is_incompatible(&self) -> bool {
        let (LoadError::Bundle(e) | LoadError::Snapshot(e) | LoadError::Pair(e)) = self;
        matches!(e, Error::Incompatible { .. })
    }
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Bundle(e) => write!(f, "cannot load the bundle: {e}"),
            LoadError::Snapshot(e) => write!(f, "cannot load the snapshot: {e}"),
            LoadError::Pair(e) => {
                write!(f, "the bundle and the snapshot do not fit each other: {e}")
            }
        }
    }
}

/// Checks bundle bytes (magic, version, hash, contents).
///
/// # Errors
///
/// [`LoadError::Bundle`].
pub fn bundle(bytes: &[u8]) -> Result<Bundle, LoadError> {
    Bundle::load(bytes).map_err(LoadError::Bundle)
}

/// Checks snapshot bytes (or one shard's), keeping them.
///
/// # Errors
///
/// [`LoadError::Snapshot`].
pub fn snapshot(bytes: Vec<u8>) -> Result<Snapshot, LoadError> {
    Snapshot::load(bytes).map_err(LoadError::Snapshot)
}

/// What a face holds: bundles and a snapshot paired into an [`Api`] over one
/// deployment, or either waiting for the other.
#[derive(Debug, Default)]
pub struct Loaded {
    limits: Limits,
    /// Every bundle loaded, in order (the first is the one described).
    bundles: Vec<Bundle>,
    /// The snapshot, shared by every pair.
    snapshot: Option<Arc<Snapshot>>,
    /// Delta snapshots over it, oldest first (pushed or published changes).
    deltas: Vec<Arc<Snapshot>>,
    /// The deployment being served, once both halves are loaded.
    api: Option<Api>,
}

impl Loaded {
    /// Nothing loaded yet; requests will be answered within `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Loaded {
        Loaded {
            limits,
            ..Loaded::default()
        }
    }

    /// The deployment being served, if both halves are loaded.
    #[must_use]
    pub fn api(&self) -> Option<&Api> {
        self.api.as_ref()
    }

    /// The first bundle, paired or not.
    #[must_use]
    pub fn bundle(&self) -> Option<&Bundle> {
        self.bundles.first()
    }

    /// What is still missing before requests can be answered, for messages.
    #[must_use]
    pub fn missing(&self) -> &'static str {
        match (&self.api, self.bundles.is_empty(), &self.snapshot) {
            (Some(_), _, _) => "nothing",
            (None, true, None) => "a bundle and a snapshot",
            (None, false, _) => "a snapshot",
            (None, true, Some(_)) => "a bundle",
        }
    }

    /// Takes a checked bundle in place of every bundle loaded, pairing it with
    /// the snapshot already loaded, if any. A bundle that snapshot does not fit
    /// is refused and the previous state kept.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`].
    pub fn set_bundle(&mut self, bundle: Bundle) -> Result<(), LoadError> {
        self.rebuild(vec![bundle], self.snapshot.clone())
    }

    /// Adds a checked bundle to those loaded (in place of the bundle of the same
    /// model, or the feature bundle of the same service), so one snapshot serves
    /// several models and services. Refused, keeping the previous state, when the
    /// snapshot does not fit it or a request could not tell it from another.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`].
    pub fn add_bundle(&mut self, bundle: Bundle) -> Result<(), LoadError> {
        let bundles = Deployment::place(self.bundles.clone(), bundle, |b| b);
        self.rebuild(bundles, self.snapshot.clone())
    }

    /// Takes a checked snapshot, pairing it with every bundle loaded.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`].
    pub fn set_snapshot(&mut self, snapshot: Snapshot) -> Result<(), LoadError> {
        let deltas = core::mem::take(&mut self.deltas);
        let kept = self.rebuild(self.bundles.clone(), Some(Arc::new(snapshot)));
        if kept.is_err() {
            self.deltas = deltas;
        }
        kept
    }

    /// Layers a checked delta snapshot over the snapshot (and every delta)
    /// loaded: per key the newest row of any layer answers. A new snapshot
    /// drops the deltas.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`] for no snapshot yet, or a delta of another shape
    /// or shard than the snapshot.
    pub fn add_delta(&mut self, delta: Snapshot) -> Result<(), LoadError> {
        if self.snapshot.is_none() {
            return Err(LoadError::Pair(Error::Request(
                "load the base snapshot before a delta over it".into(),
            )));
        }
        self.deltas.push(Arc::new(delta));
        let kept = self.rebuild(self.bundles.clone(), self.snapshot.clone());
        if kept.is_err() {
            self.deltas.pop();
        }
        kept
    }

    /// Pairs `bundles` with `snapshot` when there are both, then keeps them;
    /// on an error nothing changes.
    fn rebuild(
        &mut self,
        bundles: Vec<Bundle>,
        snapshot: Option<Arc<Snapshot>>,
    ) -> Result<(), LoadError> {
        let api = match &snapshot {
            Some(s) if !bundles.is_empty() => {
                let layers =
                    Layers::new(Arc::clone(s), self.deltas.clone()).map_err(LoadError::Pair)?;
                Some(Api::serving(
                    Deployment::layered(Arc::new(layers), bundles.clone())
                        .map_err(LoadError::Pair)?,
                    self.limits,
                ))
            }
            _ => None,
        };
        self.api = api;
        self.bundles = bundles;
        self.snapshot = snapshot;
        Ok(())
    }

    /// Drops everything loaded (the limits stay).
    pub fn unload(&mut self) {
        self.api = None;
        self.bundles.clear();
        self.snapshot = None;
        self.deltas.clear();
    }

    /// Sets the request limits, for the deployment loaded now and later ones.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        if let Some(api) = self.api.take() {
            self.api = Some(Api::serving(api.deployment().clone(), limits));
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The core's model info for the first bundle ([`api::model_info`]).
    #[must_use]
    pub fn model_info(&self) -> Option<Vec<u8>> {
        self.bundle()
            .map(|b| api::model_info(b, self.api.is_some()))
    }

    /// Every bundle loaded, in order (the first is the one described).
    #[must_use]
    pub fn bundles(&self) -> &[Bundle] {
        &self.bundles
    }

    /// The core's `GET /version` answer ([`api::version`]): every bundle and
    /// the snapshot, the snapshot fields null when none is loaded yet.
    #[must_use]
    pub fn version(&self) -> Option<Vec<u8>> {
        match &self.api {
            Some(api) => Some(api.version()),
            None if self.bundles.is_empty() => None,
            None => Some(api::version(&self.bundles.iter().collect::<Vec<_>>(), None)),
        }
    }
}
