//! Finding a repository's artifacts: a bundle or snapshot named by a path, an
//! id or unique prefix, or a ref; the model that serves a feature service; a
//! bundle and a snapshot paired into a [`Predictor`].
//!
//! Every command that reads artifacts, `verge run`'s steps, `serve` and
//! `publish` resolve through [`Repository`], so a spec means the same thing
//! everywhere and the errors say what to run.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::{Bundle, BundleContents, Snapshot};
use verge_core::definition::Definitions;
use verge_core::online::Predictor;

use crate::artifacts::ArtifactStore;
use crate::materialize::LATEST;
use crate::store::Store;

/// A feature repository: its root directory and its declarations file.
///
/// # Examples
///
/// ```
/// use verge_host::resolve::Repository;
/// let dir = tempfile::tempdir()?;
/// let repo = Repository::new(dir.path(), dir.path().join("verge.toml"));
/// let err = repo.load_snapshot("snapshot/latest").unwrap_err();
/// assert!(format!("{err:#}").contains("run `verge materialize` first"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Repository {
    root: PathBuf,
    config: PathBuf,
}

/// Which artifact a spec should name, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A model (or feature) bundle.
    Bundle,
    /// A snapshot.
    Snapshot,
}

impl Wanted {
    fn noun(self) -> &'static str {
        match self {
            Wanted::Bundle => "bundle",
            Wanted::Snapshot => "snapshot",
        }
    }
}

impl Repository {
    /// The repository at `root` declared by `config` (a path relative to the
    /// process's directory, or absolute).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>, config: impl Into<PathBuf>) -> Repository {
        Repository {
            root: root.into(),
            config: config.into(),
        }
    }

    /// The repository's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The declarations file.
    #[must_use]
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The repository's registry.
    #[must_use]
    pub fn store(&self) -> Store {
        Store::open(&self.root)
    }

    /// The repository's content-addressed bundles and snapshots.
    #[must_use]
    pub fn artifacts(&self) -> ArtifactStore {
        ArtifactStore::open(&self.root)
    }

    /// Parses and validates the declarations file.
    ///
    /// # Errors
    ///
    /// As [`crate::repo::load`].
    pub fn definitions(&self) -> anyhow::Result<Definitions> {
        crate::repo::load(&self.config)
    }

    /// The file `spec` (path, id, unique prefix or ref) names.
    ///
    /// # Errors
    ///
    /// When nothing or more than one artifact matches; for `snapshot/latest`
    /// the message says to materialize first.
    pub fn locate(&self, spec: &str, wanted: Wanted) -> anyhow::Result<PathBuf> {
        let what = wanted.noun();
        self.artifacts().locate(spec).with_context(|| {
            if spec == LATEST {
                format!(
                    "no {what} `{spec}`: run `verge materialize` first (a sharded snapshot is `snapshot/latest-shard-<i>`)"
                )
            } else {
                format!("finding {what} `{spec}`")
            }
        })
    }

    /// Reads the bytes of the artifact `spec` names, with its path.
    ///
    /// # Errors
    ///
    /// As [`Self::locate`], or an unreadable file.
    pub fn read(&self, spec: &str, wanted: Wanted) -> anyhow::Result<(PathBuf, Vec<u8>)> {
        let path = self.locate(spec, wanted)?;
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok((path, bytes))
    }

    /// Reads and checks the snapshot `spec` names.
    ///
    /// # Errors
    ///
    /// As [`Self::read`], or a snapshot that fails its checks.
    pub fn load_snapshot(&self, spec: &str) -> anyhow::Result<Snapshot> {
        let (path, bytes) = self.read(spec, Wanted::Snapshot)?;
        Snapshot::load(bytes).with_context(|| format!("loading snapshot {}", path.display()))
    }

    /// Reads and checks the bundle `spec` names.
    ///
    /// # Errors
    ///
    /// As [`Self::read`], or a bundle that fails its checks.
    pub fn load_bundle(&self, spec: &str) -> anyhow::Result<Bundle> {
        let (path, bytes) = self.read(spec, Wanted::Bundle)?;
        Bundle::load(&bytes).with_context(|| format!("loading bundle {}", path.display()))
    }

    /// The `model/<name>` ref of the one model serving feature service `service`.
    ///
    /// # Errors
    ///
    /// An empty registry, or no model (or several) using the service.
    pub fn model_ref_for(&self, service: &str) -> anyhow::Result<String> {
        let (_, version) = self
            .store()
            .read_head()?
            .context("the registry is empty; run `verge apply` first, or give --bundle")?;
        model_ref(service, &models_of(&version.definitions, service))
    }

    /// The bundle ref of `target`: a trained model's `model/<name>`, that of
    /// the model serving feature service `target`, or, for a feature service
    /// no model uses, its feature bundle (`service/<name>`, built from the
    /// registry head and stored by [`Self::feature_bundle_ref`]).
    ///
    /// # Errors
    ///
    /// When `target` is none of these.
    pub fn bundle_ref_for(&self, target: &str) -> anyhow::Result<String> {
        let trained = format!("model/{target}");
        if self.artifacts().get_ref(&trained).ok().flatten().is_some() {
            return Ok(trained);
        }
        let (head, version) = self
            .store()
            .head_definitions()?
            .context("the registry is empty; run `verge apply` first")?;
        let defs = &version.definitions;
        let models = models_of(defs, target);
        if !models.is_empty() {
            return model_ref(target, &models);
        }
        if defs.feature_service(target).is_some() {
            return self.store_feature_bundle(head, defs, target);
        }
        let names = |it: &mut dyn Iterator<Item = &str>| it.collect::<Vec<_>>().join(", ");
        bail!(
            "`{target}` is neither a model (models: {}) nor a feature service (services: {}) of the registry head",
            names(&mut defs.models.iter().map(|m| m.name.as_str())),
            names(&mut defs.feature_services.iter().map(|s| s.name.as_str()))
        )
    }

    /// The bundle refs of everything the registry head can serve, as `feast
    /// serve` serves its whole registry: each trained model's `model/<name>`,
    /// then a feature bundle (`service/<name>`) for every feature service no
    /// trained model serves.
    ///
    /// # Errors
    ///
    /// An empty registry, one with no feature service, or a failed write.
    pub fn every_bundle_ref(&self) -> anyhow::Result<Vec<String>> {
        let (head, version) = self
            .store()
            .head_definitions()?
            .context("the registry is empty; run `verge apply` first")?;
        let defs = &version.definitions;
        let artifacts = self.artifacts();
        let mut refs = Vec::new();
        let mut served: Vec<&str> = Vec::new();
        for model in &defs.models {
            let name = format!("model/{}", model.name);
            if artifacts.get_ref(&name)?.is_some() {
                refs.push(name);
                served.push(model.feature_service.as_str());
            }
        }
        for service in &defs.feature_services {
            if !served.contains(&service.name.as_str()) {
                refs.push(self.store_feature_bundle(head, defs, &service.name)?);
            }
        }
        if refs.is_empty() {
            bail!(
                "the registry head declares no feature service and no trained model: nothing to serve"
            );
        }
        Ok(refs)
    }

    /// `spec` as a bundle spec: itself when it names an artifact (a path, an
    /// id or prefix, a ref), else the bundle of the model or feature service
    /// it names ([`Self::bundle_ref_for`]).
    ///
    /// # Errors
    ///
    /// When `spec` names no artifact, model or feature service.
    pub fn bundle_spec(&self, spec: &str) -> anyhow::Result<String> {
        if self.artifacts().locate(spec).is_ok() {
            return Ok(spec.to_owned());
        }
        self.bundle_ref_for(spec)
            .with_context(|| format!("no bundle `{spec}`"))
    }

    /// Builds the feature bundle of `service` from the registry head, stores
    /// it, points `service/<name>` at it and returns that ref. Its bytes depend
    /// only on the definitions, so building it again stores nothing new.
    ///
    /// # Errors
    ///
    /// An empty registry, an unknown service, or a failed write.
    pub fn feature_bundle_ref(&self, service: &str) -> anyhow::Result<String> {
        let (head, version) = self
            .store()
            .head_definitions()?
            .context("the registry is empty; run `verge apply` first")?;
        self.store_feature_bundle(head, &version.definitions, service)
    }

    /// [`Self::feature_bundle_ref`] with the head already read.
    fn store_feature_bundle(
        &self,
        head: ContentId,
        defs: &Definitions,
        service: &str,
    ) -> anyhow::Result<String> {
        let contents = BundleContents::feature_bundle(defs, head, service)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let bytes = contents
            .to_bytes()
            .map_err(|e| anyhow::anyhow!("encoding the feature bundle of `{service}`: {e}"))?;
        let artifacts = self.artifacts();
        let (id, _) = artifacts.put(&bytes)?;
        let name = format!("service/{service}");
        artifacts.set_ref(&name, id)?;
        Ok(name)
    }
}

/// The models of `defs` that serve feature service `service`.
fn models_of<'d>(defs: &'d Definitions, service: &str) -> Vec<&'d str> {
    defs.models
        .iter()
        .filter(|m| m.feature_service == service)
        .map(|m| m.name.as_str())
        .collect()
}

/// The `model/<name>` ref of the one model in `models` (those serving `service`).
fn model_ref(service: &str, models: &[&str]) -> anyhow::Result<String> {
    match models {
        [one] => Ok(format!("model/{one}")),
        [] => bail!("no model uses feature service `{service}`; give the bundle with --bundle"),
        many => bail!(
            "models {} all use feature service `{service}`; pick one with --bundle model/NAME",
            many.join(", ")
        ),
    }
}

/// Pairs a bundle and a snapshot, saying what to do when they disagree.
///
/// # Errors
///
/// When the two were built from incompatible registry versions.
pub fn pair_predictor(bundle: Bundle, snapshot: Snapshot) -> anyhow::Result<Predictor> {
    let (b, s) = (bundle.id(), snapshot.id());
    Predictor::new(bundle, snapshot).with_context(|| {
        format!(
            "bundle {} and snapshot {} do not fit together; materialize again with the registry the model was trained on",
            b.short(),
            s.short()
        )
    })
}

/// As [`pair_predictor`], over a base snapshot and the deltas layered on it.
///
/// # Errors
///
/// As [`pair_predictor`].
pub fn pair_layers(
    bundle: Bundle,
    layers: std::sync::Arc<verge_core::online::Layers>,
) -> anyhow::Result<Predictor> {
    let (b, s) = (bundle.id(), layers.base().id());
    Predictor::layered(bundle, layers).with_context(|| {
        format!(
            "bundle {} and snapshot {} do not fit together; materialize again with the registry the model was trained on",
            b.short(),
            s.short()
        )
    })
}
