//! The layer every face shares: loading a bundle and a snapshot, pairing them,
//! and holding what is loaded.
//!
//! The raw ABI and the browser both accept the two artifacts separately (in
//! either order for the ABI; a bundle alone is enough to `score` and describe),
//! and used to keep their own copies of the state and of the load messages.
//! [`Loaded`] is that state once; the faces only turn host pointers or JS values
//! into bytes and [`LoadError`] into their own error type. The worker loads
//! whole published pairs through [`verge_core::artifact::manifest`] instead.

use verge_core::Error;
use verge_core::api::{self, Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Predictor;

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

/// What a face holds: a bundle and a snapshot paired into an [`Api`], or either
/// one waiting for the other.
#[derive(Debug, Default)]
pub struct Loaded {
    limits: Limits,
    /// A bundle waiting for its snapshot (`None` once paired into `api`).
    bundle: Option<Bundle>,
    /// A snapshot waiting for its bundle (`None` once paired into `api`).
    snapshot: Option<Snapshot>,
    /// The pair being served.
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

    /// The pair being served, if both halves are loaded.
    #[must_use]
    pub fn api(&self) -> Option<&Api> {
        self.api.as_ref()
    }

    /// The bundle, paired or not.
    #[must_use]
    pub fn bundle(&self) -> Option<&Bundle> {
        self.api
            .as_ref()
            .map(|a| a.predictor().bundle())
            .or(self.bundle.as_ref())
    }

    /// What is still missing before requests can be answered, for messages.
    #[must_use]
    pub fn missing(&self) -> &'static str {
        match (&self.api, &self.bundle, &self.snapshot) {
            (Some(_), _, _) => "nothing",
            (None, None, None) => "a bundle and a snapshot",
            (None, Some(_), _) => "a snapshot",
            (None, None, Some(_)) => "a bundle",
        }
    }

    /// Takes a checked bundle, pairing it with the snapshot already loaded, if
    /// any. A bundle that snapshot does not fit is refused and the previous
    /// state kept.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`].
    pub fn set_bundle(&mut self, bundle: Bundle) -> Result<(), LoadError> {
        let snapshot = match (&self.snapshot, &self.api) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(api)) => Some(api.predictor().snapshot().clone()),
            (None, None) => None,
        };
        match snapshot {
            None => self.bundle = Some(bundle),
            Some(snapshot) => self.pair(bundle, snapshot)?,
        }
        Ok(())
    }

    /// Takes a checked snapshot, as [`Loaded::set_bundle`] does a bundle.
    ///
    /// # Errors
    ///
    /// [`LoadError::Pair`].
    pub fn set_snapshot(&mut self, snapshot: Snapshot) -> Result<(), LoadError> {
        let bundle = match (&self.bundle, &self.api) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(api)) => Some(api.predictor().bundle().clone()),
            (None, None) => None,
        };
        match bundle {
            None => self.snapshot = Some(snapshot),
            Some(bundle) => self.pair(bundle, snapshot)?,
        }
        Ok(())
    }

    fn pair(&mut self, bundle: Bundle, snapshot: Snapshot) -> Result<(), LoadError> {
        let predictor = Predictor::new(bundle, snapshot).map_err(LoadError::Pair)?;
        self.api = Some(Api::new(predictor, self.limits));
        self.bundle = None;
        self.snapshot = None;
        Ok(())
    }

    /// Drops everything loaded (the limits stay).
    pub fn unload(&mut self) {
        self.api = None;
        self.bundle = None;
        self.snapshot = None;
    }

    /// Sets the request limits, for the pair loaded now and later ones.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        if let Some(api) = self.api.take() {
            self.api = Some(Api::new(api.predictor().clone(), limits));
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The core's model info for the loaded bundle ([`api::model_info`]).
    #[must_use]
    pub fn model_info(&self) -> Option<Vec<u8>> {
        self.bundle()
            .map(|b| api::model_info(b, self.api.is_some()))
    }

    /// The core's `GET /version` answer ([`api::version`]), snapshot fields
    /// null when only a bundle is loaded.
    #[must_use]
    pub fn version(&self) -> Option<Vec<u8>> {
        let snapshot = self.api.as_ref().map(|a| a.predictor().snapshot());
        self.bundle().map(|b| api::version(b, snapshot))
    }
}
