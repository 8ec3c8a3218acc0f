//! The browser package's TypeScript types: the `.d.ts` section wasm-bindgen
//! emits, and the opaque JS types the `Runtime` methods take and return.
//!
//! Kept apart from the methods so the shapes a page sees are read in one
//! place. Every answer type here is a core shape (`docs/http.md`), described
//! once for TypeScript; none is built by the browser itself.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A JSON scalar as the HTTP API prints it. */
export type JsonScalar = number | string | boolean | null;

/** Any JSON value: arrays (array features), objects (json, map and struct features). */
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };

/** `Runtime.handle`'s answer: the status and body text `verge serve` would send. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** Feast's feature statuses. */
export type FeatureStatus = "PRESENT" | "NULL_VALUE" | "NOT_FOUND" | "OUTSIDE_MAX_AGE";

/** One column of values with their statuses and event times (RFC 3339). */
export interface FeatureColumn {
  values: JsonValue[];
  statuses: FeatureStatus[];
  event_timestamps: string[];
}

/** Join key name → value, e.g. `{ hospital_number: 530101 }`. */
export type EntityRow = Record<string, number | string>;

/** Request field name → value, for on-demand features. */
export type RequestRow = Record<string, JsonValue>;

/** A classifier answers label, classes and probabilities; a regressor answers value. */
export interface PredictionFields {
  label?: JsonScalar;
  classes?: JsonScalar[];
  probabilities?: number[];
  value?: number | null;
}

/** One element of `POST /predict`'s `predictions`. */
export interface Prediction extends PredictionFields {
  entity: EntityRow;
  /** The service's features in service order, as read and computed. */
  features: FeatureColumn;
}

/** `Runtime.predict`: the `POST /predict` answer for one entity, unchanged. */
export interface PredictResponse {
  model: string;
  bundle_id: string;
  snapshot_id: string;
  registry_id: string;
  /** `view:field` of each feature, in service order. */
  feature_names: string[];
  /** Exactly one prediction: the entity asked for. */
  predictions: Prediction[];
}

/** `Runtime.score`: the prediction fields of `POST /predict` plus ids. */
export interface ScoreResult extends PredictionFields {
  model: string;
  bundle_id: string;
  registry_id: string;
  feature_names: string[];
}

/** `POST /get-online-features` request (Feast's shape). */
export interface OnlineFeaturesRequest {
  /** `"view:field"` references; or give `feature_service`. */
  features?: string[];
  feature_service?: string;
  /** Join key → one value per entity row. */
  entities: Record<string, (number | string)[]>;
  /** Request field → one value per entity row. */
  request_context?: Record<string, JsonScalar[]>;
  full_feature_names?: boolean;
  /** Read time (RFC 3339); defaults to the clock. */
  now?: string;
}

/** `POST /get-online-features` response (Feast's shape). */
export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureColumn[];
}

/** One loaded bundle, as `VersionInfo.bundles` lists it; `model` is null for a feature bundle. */
export interface BundleInfo {
  model: string | null;
  feature_service: string;
  bundle_id: string;
  registry_id: string;
}

/**
 * `Runtime.version`: `GET /version`; the snapshot fields are null without a
 * snapshot. The top-level ids are the first bundle's; `bundles` lists every
 * bundle loaded (`Runtime.load`, then each `addBundle`).
 */
export interface VersionInfo {
  model: string | null;
  feature_service: string;
  bundle_id: string;
  registry_id: string;
  snapshot_id: string | null;
  snapshot_registry_id: string | null;
  snapshot_window_end: string | null;
  bundles: BundleInfo[];
  format_version: number;
  verge_version: string;
}

/** A named, typed field. */
export interface FieldInfo { name: string; dtype: string; }

/**
 * Options of `Runtime.load` (and of `addBundle`, which reads `publicKey` and
 * `bundleSignature`, and `addDelta`, which reads `publicKey` and
 * `snapshotSignature`). With `publicKey`, the artifacts must carry signatures
 * made by that key (`verge publish --sign-key`), or loading throws.
 */
export interface LoadOptions {
  /** ed25519 public key, 64 hex digits (as `verge keygen` prints it). */
  publicKey?: string;
  /** The bundle's signature, 128 hex digits (`bundle_signature` in manifest.json, or `bundles/<id>.sig`). */
  bundleSignature?: string;
  /** The snapshot's signature, 128 hex digits (`snapshot_signature` in manifest.json). */
  snapshotSignature?: string;
}

/** `Runtime.setLimits`: request limits; a left-out one keeps its value. */
export interface Limits {
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most entity rows in one request (default 1000). */
  maxEntities?: number;
  /** Most cells (rows × columns held per row) in one request (default 200,000). */
  maxCells?: number;
}

/** `Runtime.describe`: what the bundle expects and returns (the ABI's `verge_model_info` too). */
export interface ModelInfo {
  model: string;
  feature_service: string;
  bundle_id: string;
  registry_id: string;
  /** `view:field` of each feature, in service order. */
  feature_names: string[];
  /** The same features with their types. */
  features: FieldInfo[];
  entity_keys: FieldInfo[];
  request: FieldInfo[];
  /** Null for a regressor. */
  classes: JsonScalar[] | null;
  /** Floats per row of the batch paths: the class count, or 1. */
  outputs: number;
  has_snapshot: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// A `Uint8Array` or nothing.
    #[wasm_bindgen(typescript_type = "Uint8Array | undefined | null")]
    pub type OptionalBytes;
    /// `LoadOptions | undefined | null`.
    #[wasm_bindgen(typescript_type = "LoadOptions | undefined | null")]
    pub type LoadOptionsArg;
    /// `Limits`.
    #[wasm_bindgen(typescript_type = "Limits")]
    pub type LimitsArg;
    /// `EntityRow`.
    #[wasm_bindgen(typescript_type = "EntityRow")]
    pub type EntityRowArg;
    /// `RequestRow | undefined | null`.
    #[wasm_bindgen(typescript_type = "RequestRow | undefined | null")]
    pub type RequestRowArg;
    /// A read time.
    #[wasm_bindgen(typescript_type = "Date | string | number | undefined | null")]
    pub type NowArg;
    /// `OnlineFeaturesRequest`.
    #[wasm_bindgen(typescript_type = "OnlineFeaturesRequest")]
    pub type OnlineFeaturesRequestArg;
    /// Feature values.
    #[wasm_bindgen(typescript_type = "JsonScalar[] | Record<string, JsonScalar>")]
    pub type ScoreArg;
    /// `PredictResponse`.
    #[wasm_bindgen(typescript_type = "PredictResponse")]
    pub type PredictResponseValue;
    /// `OnlineFeaturesResponse`.
    #[wasm_bindgen(typescript_type = "OnlineFeaturesResponse")]
    pub type OnlineFeaturesResponseValue;
    /// `HttpAnswer`.
    #[wasm_bindgen(typescript_type = "HttpAnswer")]
    pub type HttpAnswerValue;
    /// `ScoreResult`.
    #[wasm_bindgen(typescript_type = "ScoreResult")]
    pub type ScoreResultValue;
    /// `VersionInfo`.
    #[wasm_bindgen(typescript_type = "VersionInfo")]
    pub type VersionInfoValue;
    /// `ModelInfo`.
    #[wasm_bindgen(typescript_type = "ModelInfo")]
    pub type ModelInfoValue;
    /// `EntityRow[]`.
    #[wasm_bindgen(typescript_type = "EntityRow[]")]
    pub type EntityRows;
}
