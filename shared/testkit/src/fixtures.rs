//! The event fixtures (`tests/events`), the one table of what each must answer, and the
//! check of an answer against it: used by the handler tests, the workspace tests and
//! the end-to-end test.

use std::path::PathBuf;

use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// What one fixture of `tests/events` must answer.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    /// `tests/events/<fixture>.json`.
    pub fixture: &'static str,
    /// HTTP status.
    pub status: u16,
    /// The field an error must name (`field`).
    pub field: Option<&'static str>,
    /// Further keys of the body: a string must equal the value, an array must contain
    /// it.
    pub holds: &'static [(&'static str, &'static str)],
    /// The answer has no body (a `HEAD`).
    pub empty: bool,
    /// The answer is the web page (HTML, not JSON).
    pub html: bool,
}

const fn ok(fixture: &'static str) -> Expected {
    error(fixture, 200, None)
}

const fn error(fixture: &'static str, status: u16, field: Option<&'static str>) -> Expected {
    Expected {
        fixture,
        status,
        field,
        holds: &[],
        empty: false,
        html: false,
    }
}

/// A `200` HTML page.
const fn page(fixture: &'static str) -> Expected {
    Expected {
        html: true,
        ..ok(fixture)
    }
}

const fn head(fixture: &'static str) -> Expected {
    let mut e = ok(fixture);
    e.empty = true;
    e
}

const fn holding(mut e: Expected, holds: &'static [(&'static str, &'static str)]) -> Expected {
    e.holds = holds;
    e
}

/// Every fixture and what it must answer: the one table of error cases (a test checks
/// that every fixture file is listed).
pub const EXPECTED: &[Expected] = &[
    ok("health"),
    ok("list-models"),
    ok("get-model"),
    ok("get-model-hf-repo"),
    // A repository id's slash unencoded: the greedy parameter takes it whole.
    holding(ok("get-model-slash"), &[("model_name", "Llama-3.1-70B")]),
    ok("get-model-variant"),
    holding(
        error("get-model-unknown", 404, None),
        &[("error", "Model 'Qwen3-7B' not found")],
    ),
    ok("config-options"),
    ok("memory-inference"),
    ok("memory-inference-explicit"),
    ok("memory-inference-config"),
    ok("memory-inference-awq"),
    ok("memory-inference-checkpoint"),
    ok("memory-inference-tensor-parallel"),
    ok("memory-inference-linear-attention"),
    ok("memory-inference-hybrid-mamba"),
    error("memory-inference-malformed", 400, None),
    error("memory-inference-not-utf8", 400, None),
    error("memory-inference-not-object", 400, None),
    holding(
        error("memory-inference-unknown-field", 400, Some("precison")),
        &[("did_you_mean", "precision")],
    ),
    error(
        "memory-inference-unsupported-family",
        400,
        Some("config.model_type"),
    ),
    holding(
        error("memory-inference-bad-precision", 400, Some("precision")),
        &[("allowed", "bfloat16")],
    ),
    error("memory-inference-missing-batch", 400, Some("batch_size")),
    holding(
        error("memory-inference-unknown-model", 404, Some("model_name")),
        &[("suggestions", "Llama-3.1-8B")],
    ),
    error("memory-inference-negative", 400, Some("batch_size")),
    error("memory-inference-duplicate-key", 400, Some("batch_size")),
    error("memory-inference-too-large", 413, None),
    ok("memory-inference-vllm"),
    error("memory-inference-vllm-no-gpu", 400, Some("gpu")),
    ok("memory-training"),
    ok("memory-training-lora"),
    ok("memory-training-lora-modules"),
    holding(
        error("memory-training-unknown-module", 400, Some("lora_target[1]")),
        &[(
            "error",
            "lora_target[1]: c_attn is not a linear module of this model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (routers, norms and embeddings are not adapted here)",
        )],
    ),
    ok("memory-training-hybrid"),
    ok("memory-training-qlora"),
    ok("memory-training-zero3"),
    ok("memory-training-legacy"),
    ok("memory-training-offload"),
    ok("memory-training-fsdp"),
    // A custom loop that keeps `outputs` through backward.
    ok("memory-training-held-logits"),
    holding(
        error("memory-training-held-logits-fused", 400, Some("hold_logits")),
        &[(
            "error",
            "hold_logits: fused linear cross-entropy returns no logits to hold (loss fused)",
        )],
    ),
    error(
        "memory-training-bad-offload",
        400,
        Some("offload_optimizer"),
    ),
    holding(
        error("memory-training-bad-optimizer", 400, Some("optimizer")),
        &[("allowed", "AdamW")],
    ),
    error(
        "memory-training-inference-field",
        400,
        Some("max_new_tokens"),
    ),
    ok("memory-compare"),
    ok("memory-compare-training"),
    error(
        "memory-compare-bad-config",
        400,
        Some("configurations[1].precision"),
    ),
    error("memory-compare-empty", 400, Some("configurations")),
    error("memory-compare-bad-type", 400, Some("calculation_type")),
    ok("plan"),
    ok("plan-small-model"),
    ok("plan-training"),
    ok("plan-custom-gpu"),
    error("plan-missing-mode", 400, Some("mode")),
    // The object's keys are read in sorted order: the lower-case spelling comes second.
    error("plan-price-twice", 400, Some("prices.p5.48xlarge")),
    holding(
        error("plan-unknown-model", 404, Some("model_name")),
        &[
            ("error", "Model 'Llama-3.1-7B' not found"),
            ("suggestions", "Llama-3.1-8B"),
        ],
    ),
    holding(
        error("plan-unknown-gpu", 400, Some("gpus[0]")),
        &[("did_you_mean", "NVIDIA A100 80GB")],
    ),
    error("plan-bad-utilization", 400, Some("gpu_memory_utilization")),
    ok("list-gpus"),
    ok("openapi"),
    page("web"),
    ok("performance"),
    ok("performance-rate"),
    error("performance-missing-demand", 400, Some("concurrency")),
    holding(
        error("performance-unknown-instance", 400, Some("instance")),
        &[("did_you_mean", "p5.48xlarge")],
    ),
    error("performance-neuron", 400, Some("gpu")),
    holding(
        error("not-found", 404, None),
        &[("error", "Endpoint not found")],
    ),
    holding(
        error("not-found-method", 405, None),
        &[("error", "Method not allowed")],
    ),
    holding(
        error("not-found-trailing-slash-known", 308, None),
        &[("location", "/health?verbose=1")],
    ),
    head("not-found-head"),
];

/// Folder of the API Gateway v2 event fixtures (`tests/events`).
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/events")
}

/// The route key of a fixture (`POST /api/plan`; `$default` for the catch-all).
pub fn route_key(name: &str) -> String {
    raw_event(name)["routeKey"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The fixture file as JSON.
pub fn raw_event(name: &str) -> Value {
    let path = events_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Loads `tests/events/<name>.json` as a request, exactly as Lambda would.
pub fn event(name: &str) -> Request {
    lambda_http::request::from_str(&raw_event(name).to_string())
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"))
}

/// `tests/events/<name>.json` with `edit` applied to its JSON body, as a request.
pub fn event_with(name: &str, edit: impl FnOnce(&mut Value)) -> Request {
    let mut raw = raw_event(name);
    let mut body: Value =
        serde_json::from_str(raw["body"].as_str().expect("a fixture with a body"))
            .expect("a JSON body");
    edit(&mut body);
    raw["body"] = Value::String(body.to_string());
    lambda_http::request::from_str(&raw.to_string())
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"))
}

/// The expectations of the fixtures of a route key (`POST /api/plan`, `$default`).
pub fn expected_for(route_key: &str) -> Vec<Expected> {
    EXPECTED
        .iter()
        .filter(|e| self::route_key(e.fixture) == route_key)
        .copied()
        .collect()
}

/// Status and JSON body of a response.
pub fn status_and_json(response: &Response<Body>) -> (u16, Value) {
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (response.status().as_u16(), json)
}

/// Checks an answer (status, headers as `(lowercase name, value)`, body text) against
/// the table: the status, a JSON object body, an `error` message on errors, the field
/// named, the further keys, and `Allow` on a 405.
pub fn check(expected: &Expected, status: u16, headers: &[(String, String)], body: &str) {
    let name = expected.fixture;
    let header = |key: &str| headers.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if expected.html {
        assert_eq!(status, expected.status, "{name}");
        assert_eq!(
            header("content-type").map(String::as_str),
            Some("text/html; charset=utf-8"),
            "{name}"
        );
        assert!(body.starts_with("<!doctype html>"), "{name}: not a page");
        return;
    }
    if expected.empty {
        assert_eq!(status, expected.status, "{name}");
        assert!(body.is_empty(), "{name}: a HEAD answer has no body: {body}");
        return;
    }
    let json: Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{name}: body is not JSON: {body}"));
    assert_eq!(status, expected.status, "{name}: {json}");
    assert!(json.is_object(), "{name}: body is not a JSON object");
    assert_eq!(
        header("content-type").map(String::as_str),
        Some("application/json"),
        "{name}"
    );
    if status >= 400 {
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}: {json}"
        );
    }
    if let Some(field) = expected.field {
        assert_eq!(json["field"], field, "{name}: {json}");
    }
    for (key, want) in expected.holds {
        let holds = match &json[*key] {
            Value::Array(items) => items.iter().any(|v| v == want),
            other => other == want,
        };
        assert!(holds, "{name}: {key} should hold {want}: {json}");
    }
    if status == 405 {
        assert!(header("allow").is_some(), "{name}: 405 without Allow");
    }
    if (300..400).contains(&status) {
        assert_eq!(
            header("location"),
            json["location"].as_str().map(str::to_owned).as_ref(),
            "{name}: Location"
        );
    }
}

/// [`check`] for an in-process response.
pub fn check_response(expected: &Expected, response: &Response<Body>) {
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    check(expected, response.status().as_u16(), &headers, &body);
}
