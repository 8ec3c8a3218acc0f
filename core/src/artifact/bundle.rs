//! Bundles: everything a feature service (and its model, if it has one) needs at
//! the edge, in a few kilobytes.
//!
//! A bundle names the registry version it was built from, lists the service's
//! features (with the view shapes they are read from and any on-demand programs),
//! and, in a **model bundle**, carries the fitted pipeline and training metadata
//! ([`ModelPart`]). A **feature bundle** has no model: it serves the service's
//! features, on-demand ones included, to teams that serve features only (as most
//! Feast users do). The payload is one bincode-encoded [`BundleContents`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::codec::{decode_payload, encode_payload};
use super::header::{ArtifactKind, Header};
use super::snapshot::view_fingerprint;
use super::wire::{decode_enum, decode_struct};
use crate::definition::{Definitions, FeatureRef, Field, ResolvedFeature};
use crate::expr::Program;
use crate::pipeline::FittedPipeline;
use crate::time::{Duration, Timestamp};
use crate::value::DType;
use crate::{ContentId, Error, Result};

const KIND: &str = "bundle";

/// The shape of a feature view the bundle reads from a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewRequirement {
    /// View name.
    pub name: String,
    /// Fingerprint of the view's online shape; a snapshot table must match it.
    pub fingerprint: ContentId,
    /// The view's ttl (zero: no limit).
    pub ttl: Duration,
    /// Join keys, in order.
    pub join_keys: Vec<Field>,
    /// All fields of the view, in order.
    pub fields: Vec<Field>,
}

/// Where an on-demand program's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputSource {
    /// Request field at this index of [`BundleContents::request`].
    Request(u32),
    /// Field `column` of view `view` (indices into [`BundleContents::views`] and its fields).
    View {
        /// View index.
        view: u32,
        /// Field index in that view.
        column: u32,
    },
}

/// One feature of the service, in service order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServiceFeature {
    /// A field read from a snapshot table.
    View {
        /// `view:field`.
        name: String,
        /// Index into [`BundleContents::views`].
        view: u32,
        /// Field index in that view.
        column: u32,
        /// The field's type.
        dtype: DType,
    },
    /// A value computed at read time.
    OnDemand {
        /// `view:field`.
        name: String,
        /// The program.
        program: Program,
        /// Where each program input comes from, in the program's schema order.
        inputs: Vec<InputSource>,
        /// The output type.
        dtype: DType,
    },
}

impl ServiceFeature {
    /// `view:field`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            ServiceFeature::View { name, .. } | ServiceFeature::OnDemand { name, .. } => name,
        }
    }

    /// The feature's type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        match self {
            ServiceFeature::View { dtype, .. } | ServiceFeature::OnDemand { dtype, .. } => *dtype,
        }
    }
}

/// What training saw and how well the model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetadata {
    /// Rows in the training set.
    pub rows: u64,
    /// BLAKE3 of the training set's canonical bytes.
    pub data_hash: ContentId,
    /// The label column.
    pub label: String,
    /// Named metrics (`holdout_accuracy`, `holdout_rmse`, ...), sorted by name.
    pub metrics: Vec<(String, f64)>,
    /// The library that fitted the estimator, with its version.
    pub trained_with: String,
    /// When training ran (supplied by the host; the core has no clock).
    pub trained_at: Timestamp,
}

/// A trained model: its name, fitted pipeline and what training saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPart {
    /// The model's name.
    pub name: String,
    /// Fitted transforms and estimator; its inputs are the service's features.
    pub pipeline: FittedPipeline,
    /// Training metadata.
    pub training: TrainingMetadata,
}

/// The decoded payload of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleContents {
    /// The registry version the bundle was built from.
    pub registry_id: ContentId,
    /// The feature service's name.
    pub service: String,
    /// Join keys the caller supplies, the union over the views, in first-seen order.
    pub entity_keys: Vec<Field>,
    /// Request fields the caller supplies, the union over the on-demand views.
    pub request: Vec<Field>,
    /// Views read from the snapshot.
    pub views: Vec<ViewRequirement>,
    /// The service's features in order: the pipeline's inputs.
    pub features: Vec<ServiceFeature>,
    /// The model; `None` in a feature bundle.
    pub model: Option<ModelPart>,
}

impl BundleContents {
    /// The feature bundle of `service` in `defs` (registry version
    /// `registry_id`): its plan and no model. Its bytes depend only on the
    /// definitions, so the same service gives the same id on every machine.
    ///
    /// # Errors
    ///
    /// [`Error::Unknown`] for an unknown service or feature.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::artifact::{Bundle, BundleContents};
    /// use verge_core::definition::Definitions;
    /// use verge_core::ContentId;
    /// let defs = Definitions::default();
    /// assert!(BundleContents::feature_bundle(&defs, ContentId::of(b"r"), "nope").is_err());
    /// ```
    pub fn feature_bundle(
        defs: &Definitions,
        registry_id: ContentId,
        service: &str,
    ) -> Result<BundleContents> {
        let plan = BundleContents::plan(defs, service)?;
        Ok(BundleContents {
            registry_id,
            service: String::from(service),
            entity_keys: plan.entity_keys,
            request: plan.request,
            views: plan.views,
            features: plan.features,
            model: None,
        })
    }

    /// The model.
    ///
    /// # Errors
    ///
    /// [`Error::NoModel`] for a feature bundle.
    pub fn require_model(&self) -> Result<&ModelPart> {
        self.model.as_ref().ok_or_else(|| Error::NoModel {
            service: self.service.clone(),
        })
    }

    /// What the bundle serves, for messages: "model `m`", or "feature service
    /// `s` (features only)".
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.model {
            Some(m) => format!("model `{}`", m.name),
            None => format!("feature service `{}` (features only)", self.service),
        }
    }

    /// The model's name, `None` for a feature bundle.
    #[must_use]
    pub fn model_name(&self) -> Option<&str> {
        self.model.as_ref().map(|m| m.name.as_str())
    }

    /// Resolves feature service `service` of `defs` into the bundle's feature plan.
    ///
    /// # Errors
    ///
    /// [`Error::Unknown`] for an unknown service or feature.
    pub fn plan(defs: &Definitions, service: &str) -> Result<FeaturePlan> {
        let svc = defs
            .feature_service(service)
            .ok_or_else(|| Error::Unknown {
                what: "feature service",
                name: String::from(service),
                hint: None,
            })?;
        let mut plan = FeaturePlan::default();
        for r in &svc.features {
            plan.add(defs, r)?;
        }
        Ok(plan)
    }

    /// Encodes the contents as a framed bundle.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if encoding fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(Header::frame(
            ArtifactKind::Bundle,
            &encode_payload(self, KIND)?,
        ))
    }
}

/// A feature service resolved for the edge: what the caller supplies and where each
/// feature comes from. The parts of [`BundleContents`] that depend on definitions only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeaturePlan {
    /// Join keys the caller supplies.
    pub entity_keys: Vec<Field>,
    /// Request fields the caller supplies.
    pub request: Vec<Field>,
    /// Views read from the snapshot.
    pub views: Vec<ViewRequirement>,
    /// The service's features in order.
    pub features: Vec<ServiceFeature>,
}

impl FeaturePlan {
    fn view_index(&mut self, defs: &Definitions, name: &str) -> Result<u32> {
        if let Some(i) = self.views.iter().position(|v| v.name == name) {
            return Ok(i as u32);
        }
        let view = defs.feature_view(name).ok_or_else(|| Error::Unknown {
            what: "feature view",
            name: String::from(name),
            hint: None,
        })?;
        let join_keys = defs.join_keys(view);
        for k in &join_keys {
            if !self.entity_keys.iter().any(|e| e.name == k.name) {
                self.entity_keys.push(k.clone());
            }
        }
        self.views.push(ViewRequirement {
            name: view.name.clone(),
            fingerprint: view_fingerprint(&view.name, &join_keys, &view.fields, view.ttl),
            ttl: view.ttl,
            join_keys,
            fields: view.fields.clone(),
        });
        Ok((self.views.len() - 1) as u32)
    }

    fn add(&mut self, defs: &Definitions, r: &FeatureRef) -> Result<()> {
        let name = format!("{r}");
        match defs.resolve(r)? {
            ResolvedFeature::View { view, field } => {
                let v = self.view_index(defs, &view.name)?;
                self.features.push(ServiceFeature::View {
                    name,
                    view: v,
                    column: field as u32,
                    dtype: view.fields[field].dtype,
                });
            }
            ResolvedFeature::OnDemand { view, field } => {
                let mut inputs = Vec::new();
                for f in &view.request {
                    let i = match self.request.iter().position(|q| q.name == f.name) {
                        Some(i) => i,
                        None => {
                            self.request.push(f.clone());
                            self.request.len() - 1
                        }
                    };
                    inputs.push(InputSource::Request(i as u32));
                }
                for source in &view.sources {
                    let v = self.view_index(defs, source)?;
                    let n = self.views[v as usize].fields.len();
                    inputs.extend((0..n).map(|c| InputSource::View {
                        view: v,
                        column: c as u32,
                    }));
                }
                let out = &view.fields[field];
                self.features.push(ServiceFeature::OnDemand {
                    name,
                    program: out.program.clone(),
                    inputs,
                    dtype: out.dtype,
                });
            }
        }
        Ok(())
    }
}

/// A loaded, checked bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    id: ContentId,
    contents: BundleContents,
}

impl Bundle {
    /// Checks and decodes a bundle.
    ///
    /// # Errors
    ///
    /// Header errors, and [`Error::Malformed`] when the contents do not decode or
    /// refer to views, fields or request inputs that are not there.
    pub fn load(bytes: &[u8]) -> Result<Bundle> {
        let (header, payload) = Header::open(bytes, ArtifactKind::Bundle)?;
        let contents: BundleContents = decode_payload(payload, KIND)?;
        check(&contents)?;
        Ok(Bundle {
            id: header.id,
            contents,
        })
    }

    /// The bundle's content id.
    #[must_use]
    pub fn id(&self) -> ContentId {
        self.id
    }

    /// The decoded contents.
    #[must_use]
    pub fn contents(&self) -> &BundleContents {
        &self.contents
    }
}

fn check(c: &BundleContents) -> Result<()> {
    let bad = |message: String| Error::Malformed {
        kind: KIND,
        message,
    };
    let inputs = c
        .model
        .as_ref()
        .map_or(c.features.len(), |m| m.pipeline.input_names().len());
    if inputs != c.features.len() {
        return Err(bad(format!(
            "the pipeline reads {inputs} inputs but the service has {} features",
            c.features.len()
        )));
    }
    let view_field = |view: u32, column: u32| -> Option<&Field> {
        c.views.get(view as usize)?.fields.get(column as usize)
    };
    for f in &c.features {
        match f {
            ServiceFeature::View {
                name,
                view,
                column,
                dtype,
            } => match view_field(*view, *column) {
                Some(field) if field.dtype == *dtype => {}
                _ => {
                    return Err(bad(format!(
                        "feature `{name}` points at a missing or mistyped view field"
                    )));
                }
            },
            ServiceFeature::OnDemand { name, inputs, .. } => {
                for input in inputs {
                    let ok = match *input {
                        InputSource::Request(i) => (i as usize) < c.request.len(),
                        InputSource::View { view, column } => view_field(view, column).is_some(),
                    };
                    if !ok {
                        return Err(bad(format!(
                            "on-demand feature `{name}` reads an input that is not in the bundle"
                        )));
                    }
                }
            }
        }
    }
    for v in &c.views {
        for k in &v.join_keys {
            if !c.entity_keys.iter().any(|e| e == k) {
                return Err(bad(format!(
                    "view `{}` needs join key `{}` that the bundle does not list",
                    v.name, k.name
                )));
            }
        }
    }
    Ok(())
}

decode_struct!(ViewRequirement {
    name,
    fingerprint,
    ttl,
    join_keys,
    fields
});
decode_enum!(InputSource { Request(index), View { view, column } });
decode_enum!(ServiceFeature {
    View { name, view, column, dtype },
    OnDemand { name, program, inputs, dtype },
});
decode_struct!(TrainingMetadata {
    rows,
    data_hash,
    label,
    metrics,
    trained_with,
    trained_at
});
decode_struct!(ModelPart {
    name,
    pipeline,
    training
});
decode_struct!(BundleContents {
    registry_id,
    service,
    entity_keys,
    request,
    views,
    features,
    model
});
