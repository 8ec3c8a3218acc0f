//! [`Deployment`]: one snapshot and every bundle served from it.
//!
//! A Feast feature server answers for every service and view in its registry;
//! a verge deployment answers for every bundle it was given (model bundles and
//! feature bundles, from compatible registry versions) over one snapshot. Each
//! bundle is paired with the snapshot once, at load, and all of them share the
//! snapshot's bytes, so ten bundles cost ten small decodes and pairing checks,
//! not ten snapshots.
//!
//! Requests pick their bundle by name: `feature_service` picks a bundle of that
//! service, `/predict`'s `model` picks a model (and may be left out when the
//! deployment holds one model). The rules that keep that choice unambiguous are
//! checked here, when the deployment is built.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Layers, Predictor};
use crate::artifact::{Bundle, BundleContents, Snapshot};
use crate::{Error, Result};

/// A snapshot and one or more bundles, each paired with it.
///
/// # Examples
///
/// ```
/// use verge_core::artifact::{Bundle, Snapshot};
/// use verge_core::online::Deployment;
/// use verge_test_kit::tiny::Tiny;
///
/// let tiny = Tiny::plain();
/// let model = Bundle::load(&tiny.bundle_bytes_for(Some("m")))?;
/// let features = Bundle::load(&tiny.bundle_bytes_for(None))?;
/// let deployment = Deployment::new(Snapshot::load(tiny.snapshot_bytes())?, vec![model, features])?;
/// assert_eq!(deployment.model_names(), ["m"]);
/// assert_eq!(deployment.service_names(), ["svc"]);
/// // `/predict` without `model` takes the only model.
/// assert_eq!(deployment.model(None)?.bundle().contents().model_name(), Some("m"));
/// assert!(deployment.model(Some("other")).is_err());
/// # Ok::<(), verge_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Deployment {
    predictors: Vec<Predictor>,
}

impl Deployment {
    /// Pairs every bundle with `snapshot`.
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] for a bundle the snapshot does not fit (naming
    /// the bundle), two bundles of one model, or two bundles of one feature
    /// service that disagree on its features; [`Error::Request`] for no
    /// bundles or one bundle given twice.
    pub fn new(snapshot: impl Into<Arc<Snapshot>>, bundles: Vec<Bundle>) -> Result<Deployment> {
        Deployment::layered(Arc::new(Layers::from(snapshot.into())), bundles)
    }

    /// Pairs every bundle with a base snapshot and the deltas over it
    /// ([`Layers`]): each read answers from the newest layer holding the key.
    ///
    /// # Errors
    ///
    /// As [`Deployment::new`].
    pub fn layered(layers: Arc<Layers>, bundles: Vec<Bundle>) -> Result<Deployment> {
        let mut predictors: Vec<Predictor> = Vec::with_capacity(bundles.len());
        for bundle in bundles {
            let what = bundle.contents().describe();
            let predictor =
                Predictor::layered(bundle, Arc::clone(&layers)).map_err(|e| match e {
                    Error::Incompatible { message } => Error::Incompatible {
                        message: format!("{what}: {message}"),
                    },
                    other => other,
                })?;
            Self::check_new(&predictors, &predictor)?;
            predictors.push(predictor);
        }
        if predictors.is_empty() {
            return Err(Error::Request(String::from(
                "a deployment needs at least one bundle (a model bundle or a feature bundle)",
            )));
        }
        Ok(Deployment { predictors })
    }

    /// A deployment of one pair.
    #[must_use]
    pub fn single(predictor: Predictor) -> Deployment {
        Deployment {
            predictors: alloc::vec![predictor],
        }
    }

    /// The same bundles over another snapshot (a new `materialize`).
    ///
    /// # Errors
    ///
    /// As [`Deployment::new`].
    pub fn with_snapshot(&self, snapshot: impl Into<Arc<Snapshot>>) -> Result<Deployment> {
        Deployment::new(snapshot, self.bundles().cloned().collect())
    }

    /// The same bundles and base snapshot with `deltas` (oldest first) in
    /// place of any deltas this deployment had.
    ///
    /// # Errors
    ///
    /// As [`Layers::new`] and [`Deployment::new`].
    pub fn with_deltas(&self, deltas: Vec<Arc<Snapshot>>) -> Result<Deployment> {
        let layers = Layers::new(Arc::clone(self.shared_snapshot()), deltas)?;
        Deployment::layered(Arc::new(layers), self.bundles().cloned().collect())
    }

    /// This deployment plus `bundle`, or with `bundle` in place of the bundle
    /// of the same model (or the same feature bundle's service).
    ///
    /// # Errors
    ///
    /// As [`Deployment::new`].
    pub fn with_bundle(&self, bundle: Bundle) -> Result<Deployment> {
        let bundles = Deployment::place(self.bundles().cloned().collect(), bundle, |b| b);
        Deployment::layered(Arc::clone(self.layers()), bundles)
    }

    /// `items` (each holding a bundle, which `bundle` reads) with `new` in the
    /// place of the first item whose bundle it [replaces](Deployment::replaces),
    /// any other such item dropped, or after them all when it replaces none.
    /// The one rule for adding a bundle to a deployment, wherever one is kept:
    /// bundles alone, bundles with their published ids, or their bytes.
    pub fn place<T>(items: Vec<T>, new: T, bundle: impl Fn(&T) -> &Bundle) -> Vec<T> {
        let replaced: Vec<bool> = items
            .iter()
            .map(|item| Deployment::replaces(bundle(&new), bundle(item)))
            .collect();
        let mut new = Some(new);
        let mut out = Vec::with_capacity(items.len() + 1);
        for (item, replaced) in items.into_iter().zip(replaced) {
            if !replaced {
                out.push(item);
            } else if let Some(new) = new.take() {
                out.push(new);
            }
        }
        out.extend(new);
        out
    }

    /// Whether adding `new` to a deployment drops `old`: the same bundle, a
    /// bundle of the same model, or a feature bundle of the same service.
    #[must_use]
    pub fn replaces(new: &Bundle, old: &Bundle) -> bool {
        let (n, o) = (new.contents(), old.contents());
        new.id() == old.id()
            || match (n.model_name(), o.model_name()) {
                (Some(a), Some(b)) => a == b,
                (None, None) => n.service == o.service,
                _ => false,
            }
    }

    /// Refuses `new` next to `existing` when a request could not tell them apart.
    fn check_new(existing: &[Predictor], new: &Predictor) -> Result<()> {
        let c = new.bundle().contents();
        for p in existing {
            let other = p.bundle().contents();
            if p.bundle().id() == new.bundle().id() {
                return Err(Error::Request(format!(
                    "bundle {} ({}) is given twice",
                    new.bundle().id().short(),
                    c.describe()
                )));
            }
            if let (Some(a), Some(b)) = (other.model_name(), c.model_name())
                && a == b
            {
                return Err(Error::Incompatible {
                    message: format!(
                        "two bundles hold model `{a}` ({} and {}); serve one bundle per model",
                        p.bundle().id().short(),
                        new.bundle().id().short()
                    ),
                });
            }
            if other.service == c.service && !same_features(other, c) {
                return Err(Error::Incompatible {
                    message: format!(
                        "two bundles define feature service `{}` differently (registries {} and {}); rebuild them from one registry version",
                        c.service,
                        other.registry_id.short(),
                        c.registry_id.short()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The snapshot every bundle reads.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        self.predictors[0].snapshot()
    }

    /// The snapshot, shared.
    #[must_use]
    pub fn shared_snapshot(&self) -> &Arc<Snapshot> {
        self.predictors[0].shared_snapshot()
    }

    /// The snapshot and the deltas over it, shared by every pair.
    #[must_use]
    pub fn layers(&self) -> &Arc<Layers> {
        self.predictors[0].layers()
    }

    /// Every pair, in the order the bundles were given.
    #[must_use]
    pub fn predictors(&self) -> &[Predictor] {
        &self.predictors
    }

    /// The first pair: the one a single-bundle face serves.
    #[must_use]
    pub fn primary(&self) -> &Predictor {
        &self.predictors[0]
    }

    /// Every bundle, in order.
    pub fn bundles(&self) -> impl Iterator<Item = &Bundle> {
        self.predictors.iter().map(Predictor::bundle)
    }

    /// A pair serving feature service `name` (the first given, when a model
    /// bundle and a feature bundle both do; they agree on its features).
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&Predictor> {
        self.predictors
            .iter()
            .find(|p| p.bundle().contents().service == name)
    }

    /// The names of the services served, each once, in order.
    #[must_use]
    pub fn service_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for p in &self.predictors {
            let name = p.bundle().contents().service.as_str();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The names of the models served, in order.
    #[must_use]
    pub fn model_names(&self) -> Vec<&str> {
        self.predictors
            .iter()
            .filter_map(|p| p.bundle().contents().model_name())
            .collect()
    }

    /// The pair of model `name`, or with `None` the only model.
    ///
    /// # Errors
    ///
    /// [`Error::NoModel`] when the deployment has no model at all;
    /// [`Error::Request`] for an unknown name, or no name when there are
    /// several models, naming the models there are.
    pub fn model(&self, name: Option<&str>) -> Result<&Predictor> {
        let models = self.model_names();
        let mut with_model = self
            .predictors
            .iter()
            .filter(|p| p.bundle().contents().model.is_some());
        match name {
            _ if models.is_empty() => Err(Error::NoModel {
                service: self.primary().bundle().contents().service.clone(),
            }),
            None if models.len() == 1 => Ok(with_model.next().unwrap_or(self.primary())),
            None => Err(Error::Request(format!(
                "this deployment serves {} models; give `model`: one of {}",
                models.len(),
                models.join(", ")
            ))),
            Some(name) => with_model
                .find(|p| p.bundle().contents().model_name() == Some(name))
                .ok_or_else(|| {
                    Error::Request(format!(
                        "unknown model `{name}`; this deployment serves: {}",
                        models.join(", ")
                    ))
                }),
        }
    }
}

/// Whether two bundles' services list the same features with the same types.
fn same_features(a: &BundleContents, b: &BundleContents) -> bool {
    a.features.len() == b.features.len()
        && a.features
            .iter()
            .zip(&b.features)
            .all(|(x, y)| x.name() == y.name() && x.dtype() == y.dtype())
}
