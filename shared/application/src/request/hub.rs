//! Models read from the Hugging Face Hub. Evaluating a request is synchronous and the
//! Hub is not, so each handler first reads the repositories its request names
//! ([`wanted`], [`prefetch`]), then evaluates the request with them at hand
//! ([`during`]); [`super::model::resolve`] takes a Hub model from there when the
//! registry does not know the name. A request that names only registry models never
//! reaches the Hub, and the HTTP client is not even made.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use calculator::limits::MAX_BODY_BYTES;
use calculator::limits::MAX_COMPARE_CONFIGURATIONS;
use calculator::{resolve_name, Model, Warning, WarningCode};
use hub::{is_repo_id, is_revision, HubError, HubRepo, DEFAULT_REVISION};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use crate::http::{body_bytes, ApiError};

use super::fields::{CONFIGURATIONS, MODEL_NAME, REVISION};

/// Hub repositories one request may read: each read may take up to
/// [`hub::READ_TIMEOUT`].
pub const MAX_HUB_MODELS: usize = 4;

/// Hub repositories one daily report may read (at [`READS_AT_ONCE`], within the cost
/// planner's 60 s even when every read takes its 6 s).
pub const MAX_REPORT_HUB_MODELS: usize = 16;

/// Repositories read at once: each read holds an index and four headers in memory
/// (up to 32 MiB), two of them fit the smallest function's 128 MB.
const READS_AT_ONCE: usize = 2;

/// One repository a request names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The repository id as given.
    pub repo: String,
    /// The revision (`main` unless given).
    pub revision: String,
}

/// What was read for one repository.
struct Read {
    wanted: Wanted,
    result: Result<Arc<HubRepo>, HubError>,
}

/// The repositories read for the request being evaluated.
#[derive(Default)]
pub struct Prefetched {
    reads: Vec<Read>,
}

thread_local! {
    static CURRENT: RefCell<Vec<Read>> = const { RefCell::new(Vec::new()) };
}

/// Whether `name` needs the Hub: a repository id the registry does not resolve.
pub fn needs_hub(name: &str) -> bool {
    is_repo_id(name) && resolve_name(name).is_err()
}

/// The repositories a request body names and the registry does not hold, in order,
/// without repeats, at most [`MAX_HUB_MODELS`]: the top-level `model_name` and each
/// of `configurations[i].model_name` (compare), each with its object's `revision`.
pub fn wanted(body: &Value) -> Vec<Wanted> {
    let nested = body
        .get(CONFIGURATIONS.name)
        .and_then(Value::as_array)
        .map(|items| &items[..items.len().min(MAX_COMPARE_CONFIGURATIONS)])
        .unwrap_or_default();
    let mut out: Vec<Wanted> = Vec::new();
    // A compare's models are its configurations' (its top level takes none).
    let top = body.get(CONFIGURATIONS.name).is_none().then_some(body);
    for object in top.into_iter().chain(nested) {
        let Some(name) = object.get(MODEL_NAME.name).and_then(Value::as_str) else {
            continue;
        };
        let revision = match object.get(REVISION.name) {
            None | Some(Value::Null) => DEFAULT_REVISION,
            Some(Value::String(r)) if is_revision(r) => r,
            // The request's own reading says what is wrong with it.
            Some(_) => continue,
        };
        let w = Wanted {
            repo: name.to_owned(),
            revision: revision.to_owned(),
        };
        if out.len() < MAX_HUB_MODELS && !out.contains(&w) && needs_hub(name) {
            out.push(w);
        }
    }
    out
}

/// Reads `wanted` from the container's Hub, [`READS_AT_ONCE`] at a time.
pub async fn prefetch(wanted: Vec<Wanted>) -> Prefetched {
    let hub = hub::global();
    let mut reads = Vec::with_capacity(wanted.len());
    for batch in wanted.chunks(READS_AT_ONCE) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, w) in batch.iter().cloned().enumerate() {
            let hub = hub.clone();
            tasks.spawn(async move {
                let result = match hub {
                    Ok(hub) => hub.repo(&w.repo, &w.revision).await,
                    Err(cause) => Err(HubError::Unreachable {
                        endpoint: hub::ENDPOINT_VARIABLE.to_owned(),
                        cause,
                    }),
                };
                (i, result)
            });
        }
        let mut results: Vec<Option<Result<Arc<HubRepo>, HubError>>> = vec![None; batch.len()];
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, result)) = done {
                results[i] = Some(result);
            }
        }
        for (wanted, result) in batch.iter().cloned().zip(results) {
            let result = result.unwrap_or_else(|| {
                Err(HubError::Unreachable {
                    endpoint: hub::global()
                        .map(|h| h.endpoint().display())
                        .unwrap_or_default(),
                    cause: "the read stopped".into(),
                })
            });
            reads.push(Read { wanted, result });
        }
    }
    Prefetched { reads }
}

/// The repositories `request`'s JSON body names, read; nothing for a body over the
/// size limit or not a JSON object (its evaluation reports that).
pub async fn prefetch_request(request: &Request) -> Prefetched {
    let body = body_bytes(request);
    if body.len() > MAX_BODY_BYTES {
        return Prefetched::default();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => prefetch(wanted(&v)).await,
        _ => Prefetched::default(),
    }
}

/// Answers `request` with `evaluate` after reading the Hub models its body names:
/// the handler body of every endpoint that takes a model in its JSON body.
pub async fn answer_with_hub(
    request: &Request,
    evaluate: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    let prefetched = prefetch_request(request).await;
    during(prefetched, evaluate)
}

/// Runs `evaluate` with `prefetched` at hand for [`read`].
pub fn during<R>(prefetched: Prefetched, evaluate: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().clear());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = prefetched.reads);
    let _clear = Clear;
    evaluate()
}

/// What was read for `repo` at `revision`; `None` when it was not read (the request
/// named more Hub models than [`MAX_HUB_MODELS`]).
pub fn read(repo: &str, revision: &str) -> Option<Result<Arc<HubRepo>, HubError>> {
    CURRENT.with(|c| {
        c.borrow()
            .iter()
            .find(|r| r.wanted.repo == repo && r.wanted.revision == revision)
            .map(|r| r.result.clone())
    })
}

/// Tensor name endings that hold a quantization's scales, zero points or buffers, not
/// weights (AWQ and GPTQ `qzeros`, `scales`, `g_idx`; FP8 `weight_scale(_inv)` and
/// `input_scale`; compressed-tensors and NVFP4 scales; old checkpoints' rotary
/// `inv_freq`; KV-cache scales).
const NOT_WEIGHTS: [&str; 13] = [
    "qzeros",
    "scales",
    "g_idx",
    "weight_scale",
    "weight_scale_inv",
    "input_scale",
    "weight_zero_point",
    "weight_g_idx",
    "weight_global_scale",
    "input_global_scale",
    "inv_freq",
    "k_scale",
    "v_scale",
];

/// Tensor name endings of packed integer weights: each stored int32 holds `32 / bits`
/// weights (AWQ and GPTQ `qweight`, compressed-tensors `weight_packed`).
const PACKED: [&str; 2] = ["qweight", "weight_packed"];

/// Weights the headers hold: values of weight tensors, packed ones unpacked with the
/// `bits` of the config's `quantization_config` (4 when it does not say).
pub fn weights_in_headers(summary: &hub::safetensors::TensorSummary, config: &Value) -> u64 {
    let bits = config["quantization_config"]["bits"]
        .as_u64()
        .filter(|b| (1..=32).contains(b))
        .unwrap_or(4);
    summary
        .values_by_suffix
        .iter()
        .map(|(suffix, n)| {
            if NOT_WEIGHTS.contains(&suffix.as_str()) {
                0
            } else if PACKED.contains(&suffix.as_str()) {
                n.saturating_mul(32 / bits)
            } else {
                *n
            }
        })
        .fold(0u64, u64::saturating_add)
}

/// What the answer says about a model read from the Hub.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HubSource {
    /// `owner/name`.
    repo: String,
    /// The revision asked for.
    revision: String,
    /// The commit it resolved to (the Hub's `X-Repo-Commit`); `null` when the endpoint
    /// does not say.
    commit: Option<String>,
    /// The files read (the Hub's model API as `api/models (safetensors)`).
    files: Vec<String>,
    /// The safetensors checkpoint as its headers or the Hub's API count it; `null`
    /// when there is none or neither was read (`warnings` says why).
    checkpoint: Option<CheckpointFacts>,
    /// Which parameter count the answer's figures use: `config`, the architecture's
    /// own count (the per-layer terms need the architecture). The checkpoint's
    /// weights are beside it for comparison.
    parameters_used: &'static str,
}

/// Where a checkpoint's counts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountedBy {
    /// Each file's safetensors header.
    Headers,
    /// The Hub's own count (its model API's `safetensors`), read when the headers could
    /// not be: the files on another host, or more than [`hub::MAX_SHARDS`] of them.
    HubApi,
}

/// Safetensors dtypes in which a checkpoint stores quantized weights or their scales
/// (FP8 and MXFP4 scales, packed 4- and 8-bit integers in U8, I8 or I32); an
/// unquantized checkpoint holds floats of 16 bits or more (and perhaps an I64 buffer).
const QUANTIZED_DTYPES: [&str; 7] = ["F8_E4M3", "F8_E5M2", "F8_E8M0", "U8", "I8", "I32", "U32"];

/// Whether `config` states a quantization (`quantization_config`, not null).
fn states_quantization(config: &Value) -> bool {
    config
        .get("quantization_config")
        .is_some_and(|q| !q.is_null())
}

/// A checkpoint's values, as its headers or the Hub's API count them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckpointFacts {
    /// Where the counts come from.
    counted_by: CountedBy,
    /// Safetensors files.
    files: usize,
    /// Tensors stored; `null` with `hub_api`, which gives no tensors.
    tensors: Option<u64>,
    /// Weights stored: values of weight tensors, packed integers unpacked, scales and
    /// zero points left out. With `hub_api`, every value of a checkpoint that states no
    /// quantization and stores none of [`QUANTIZED_DTYPES`], else `null` (the Hub's
    /// count has no tensor names to tell weights from scales).
    weights: Option<u64>,
    /// Values stored by safetensors dtype (`BF16`, `F8_E4M3`, `I32`, ...).
    values_by_dtype: BTreeMap<String, u64>,
    /// Bytes of tensor data: the headers' byte ranges added up, or with `hub_api` the
    /// index's `metadata.total_size`; `null` when neither was read.
    tensor_bytes: Option<u64>,
}

impl CheckpointFacts {
    /// The facts of `checkpoint` read with `config`; `None` when neither its headers
    /// nor the Hub's count were read.
    fn new(checkpoint: &hub::Checkpoint, config: &Value) -> Option<CheckpointFacts> {
        if let Some(headers) = &checkpoint.headers {
            return Some(CheckpointFacts {
                counted_by: CountedBy::Headers,
                files: checkpoint.file_count,
                tensors: Some(headers.tensors),
                weights: Some(weights_in_headers(headers, config)),
                values_by_dtype: headers.values_by_dtype.clone(),
                tensor_bytes: Some(headers.tensor_bytes),
            });
        }
        let count = checkpoint.hub_count.as_ref()?;
        let mut facts = CheckpointFacts {
            counted_by: CountedBy::HubApi,
            files: checkpoint.file_count,
            tensors: None,
            weights: None,
            values_by_dtype: count.values_by_dtype.clone(),
            tensor_bytes: checkpoint.index_total_size,
        };
        if !states_quantization(config) && facts.quantized_dtypes().is_empty() {
            facts.weights = Some(count.total);
        }
        Some(facts)
    }

    /// The dtypes it stores that only quantized checkpoints store.
    fn quantized_dtypes(&self) -> Vec<&str> {
        self.values_by_dtype
            .keys()
            .map(String::as_str)
            .filter(|d| QUANTIZED_DTYPES.contains(d))
            .collect()
    }

    /// What counted the weights, in a warning's words.
    fn counter(&self) -> &'static str {
        match self.counted_by {
            CountedBy::Headers => "safetensors headers hold",
            CountedBy::HubApi => "safetensors files hold, as the Hub's API counts them,",
        }
    }

    /// The warnings of `repo`'s checkpoint against `config` and `counted`, the
    /// config's parameter count.
    fn warnings(&self, repo: &str, config: &Value, counted: u128) -> Vec<Warning> {
        let mut out = Vec::new();
        if let Some(weights) = self.weights.filter(|w| *w as u128 != counted) {
            out.push(Warning::new(
                WarningCode::HubParametersDiffer,
                format!(
                    "{repo}'s {} {weights} weights, its config.json gives {counted}; the figures use the config's count",
                    self.counter()
                ),
            ));
        }
        let quantized = self.quantized_dtypes();
        if !quantized.is_empty() && !states_quantization(config) {
            out.push(Warning::new(
                WarningCode::HubQuantizationUnstated,
                format!(
                    "{repo}'s checkpoint stores {} values, as a quantized one does, but its config.json states no quantization_config (older GPTQ repositories keep theirs in quantize_config.json, which is not read); the figures size it unquantized: give its format as quantization and precision to size it as stored",
                    quantized.join(", ")
                ),
            ));
        }
        out
    }
}

impl HubSource {
    /// The commit the revision resolved to, when the endpoint said.
    pub fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    /// The facts of `repo`, with warnings for what was not read and for a checkpoint
    /// whose weights differ from `model`'s count.
    pub fn new(repo: &HubRepo, config: &Value, model: &Model) -> (HubSource, Vec<Warning>) {
        let mut warnings: Vec<Warning> = repo
            .notes
            .iter()
            .map(|n| Warning::new(WarningCode::HubFilesNotRead, format!("{}: {n}", repo.id)))
            .collect();
        let checkpoint = repo
            .checkpoint
            .as_ref()
            .and_then(|c| CheckpointFacts::new(c, config));
        if let Some(c) = &checkpoint {
            warnings.extend(c.warnings(&repo.id, config, model.params.total));
        }
        let source = HubSource {
            repo: repo.id.clone(),
            revision: repo.revision.clone(),
            commit: repo.commit.clone(),
            files: repo.files.clone(),
            checkpoint,
            parameters_used: "config",
        };
        (source, warnings)
    }
}

/// The refusal of `revision` (other than `main`) for registry model `entry`: the
/// registry holds one version of each. `field` names the revision field.
pub fn registry_revision(field: &str, entry: &str, revision: &str) -> ApiError {
    ApiError::field(
        field,
        format!(
            "the registry holds one version of {entry} and answers for it; revision {} applies to models read from the Hub",
            calculator::clip(revision)
        ),
    )
}

/// The API error of a failed Hub read of `repo`: `field` names the model, `revision`
/// the revision field; `suggestions` are the registry's names near it.
pub fn api_error(
    e: &HubError,
    field: &str,
    revision: &str,
    repo: &str,
    suggestions: &[String],
) -> ApiError {
    match e {
        HubError::RepoNotFound { .. } => {
            let mut err = ApiError::model_not_found(repo, suggestions);
            err.body.error = format!("{}: not in the registry, and {e}", err.body.error);
            err.body.field = Some(field.to_owned());
            err
        }
        HubError::RevisionNotFound { .. } => {
            ApiError::field_with_status(StatusCode::NOT_FOUND, revision, e.to_string())
        }
        HubError::Denied { .. } | HubError::Disabled { .. } => {
            ApiError::field_with_status(StatusCode::FORBIDDEN, field, e.to_string())
        }
        HubError::NoConfig { .. } | HubError::TooLarge { .. } | HubError::Malformed { .. } => {
            ApiError::field(field, format!("{repo}: {e}"))
        }
        HubError::Timeout { .. } => ApiError::field_with_status(
            StatusCode::GATEWAY_TIMEOUT,
            field,
            format!("reading {repo}: {e}"),
        ),
        HubError::OffHost { .. }
        | HubError::Upstream { .. }
        | HubError::Unreachable { .. }
        | HubError::Token { .. }
        | HubError::TokenRejected { .. } => ApiError::field_with_status(
            StatusCode::BAD_GATEWAY,
            field,
            format!("reading {repo}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(w: &[Wanted]) -> Vec<(&str, &str)> {
        w.iter()
            .map(|w| (w.repo.as_str(), w.revision.as_str()))
            .collect()
    }

    #[test]
    fn the_hubs_count_is_weights_only_for_an_unquantized_checkpoint() {
        let count = hub::safetensors::HubCount {
            values_by_dtype: [("I32".to_owned(), 8), ("F16".to_owned(), 2)].into(),
            total: 10,
        };
        let checkpoint = hub::Checkpoint {
            files: Vec::new(),
            file_count: 70,
            headers: None,
            hub_count: Some(count),
            index_total_size: Some(36),
        };
        let plain = CheckpointFacts::new(&checkpoint, &json!({"model_type": "llama"})).unwrap();
        assert_eq!((plain.counted_by, plain.weights), (CountedBy::HubApi, None));
        assert_eq!(plain.quantized_dtypes(), ["I32"]);
        let warned = plain.warnings("o/n", &json!({}), 10);
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert_eq!(warned[0].code, WarningCode::HubQuantizationUnstated);
        assert_eq!((plain.tensors, plain.tensor_bytes), (None, Some(36)));
        let awq = json!({"quantization_config": {"quant_method": "awq", "bits": 4}});
        let quantized = CheckpointFacts::new(&checkpoint, &awq).unwrap();
        assert_eq!(quantized.weights, None);
        assert!(quantized.warnings("o/n", &awq, 10).is_empty());
        let floats = hub::Checkpoint {
            hub_count: Some(hub::safetensors::HubCount {
                values_by_dtype: [("BF16".to_owned(), 9), ("I64".to_owned(), 1)].into(),
                total: 10,
            }),
            ..checkpoint.clone()
        };
        let null = json!({"quantization_config": null});
        let plain = CheckpointFacts::new(&floats, &null).unwrap();
        assert_eq!(
            plain.weights,
            Some(10),
            "a null quantization_config states none"
        );
        let warned = plain.warnings("o/n", &null, 9);
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0].code, WarningCode::HubParametersDiffer);
        let unread = hub::Checkpoint {
            hub_count: None,
            ..checkpoint
        };
        assert_eq!(CheckpointFacts::new(&unread, &awq), None);
    }

    #[test]
    fn only_unknown_repository_ids_are_wanted() {
        let single = json!({"model_name": "Qwen/Qwen2-7B-Instruct"});
        assert_eq!(
            names(&wanted(&single)),
            [("Qwen/Qwen2-7B-Instruct", "main")]
        );
        // A compare's models are its configurations' (its top level takes none).
        let compare = json!({
            "model_name": "o/ignored",
            "configurations": [
                {"model_name": "Qwen3-8B"},
                {"model_name": "Qwen/Qwen3-8B"},
                {"model_name": "a/b", "revision": "v1"},
                {"model_name": "a/b", "revision": "v1"},
                {"model_name": "a/c", "revision": "../x"},
                {"model_name": "not a repo"},
                {"model_name": "datasets/squad"},
                {"model_name": 7}
            ]
        });
        assert_eq!(names(&wanted(&compare)), [("a/b", "v1")]);
        let many = json!({"configurations": (0..10).map(|i| json!({"model_name": format!("o/m{i}")})).collect::<Vec<_>>()});
        assert_eq!(wanted(&many).len(), MAX_HUB_MODELS);
    }
}
