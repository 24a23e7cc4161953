//! The documented contract and the code state the same facts: the README's request
//! tables against `calculator::limits` and `/api/config/options` (which reads the
//! calculator's request constructors), and a request that leaves every optional field
//! out against the calculator run with the constructors' defaults.

use std::path::PathBuf;

use calculator::{
    estimate_inference, estimate_training, limits, registry, InferenceRequest, LoraTarget, Method,
    Optimizer, Precision, Quantization, TrainingRequest, Unit,
};
use http_glue::memory::{evaluate, Calculation};
use http_glue::testing::{event, status_and_json};
use serde_json::{json, Value};

/// `(field, default, allowed)` of every row of the README table under `heading`.
fn readme_table(heading: &str) -> Vec<(String, String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks {heading}"));
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| field"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let field = cells[0].trim_matches('`').to_owned();
            (field, cells[1].replace('`', ""), cells[2].to_owned())
        })
        .collect()
}

fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn config_options() -> Value {
    let response = config_options::handler(event("config-options"))
        .await
        .unwrap();
    status_and_json(&response).1
}

/// Names a README "allowed" cell must list for an enumerated field; training computes
/// only in unquantized precisions.
fn enumerated(field: &str, training: bool) -> Vec<&'static str> {
    match field {
        "precision" | "kv_cache_precision" => Precision::ALL
            .iter()
            .filter(|p| !(training && p.is_quantized()))
            .map(|p| p.name())
            .collect(),
        "quantization" => Quantization::ALL
            .iter()
            .map(|q| q.name())
            .chain(["none"])
            .collect(),
        "method" => Method::ALL.iter().map(|m| m.name()).collect(),
        "lora_target" => LoraTarget::ALL.iter().map(|t| t.name()).collect(),
        "optimizer" => Optimizer::ALL.iter().map(|o| o.name()).collect(),
        "unit" => Unit::ALL.iter().map(|u| u.name()).collect(),
        "engine" => http_glue::memory::ENGINES.to_vec(),
        "mode" => vec!["inference", "training"],
        _ => Vec::new(),
    }
}

async fn check_table(heading: &str, defaults_key: &str) {
    let options = config_options().await;
    let defaults = &options[defaults_key];
    let table = readme_table(heading);
    assert!(table.len() >= 9, "{heading}: {table:?}");
    for (field, default, allowed) in &table {
        // Defaults: the README says what config-options says.
        match &defaults[field.as_str()] {
            Value::Null => assert!(
                default.starts_with("required") || default == "none",
                "{heading} {field}: README default {default} has no source"
            ),
            Value::String(s) if s.contains(' ') => {
                // Described defaults: the dtype the calculator falls back to, or every
                // number the README states, or the same words.
                let dtype = s.split(['(', ' ']).find(|w| Precision::parse(w).is_some());
                let numbers: Vec<&str> = default
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|n| !n.is_empty())
                    .collect();
                let agrees = match dtype {
                    Some(d) => default.contains(d),
                    None if !numbers.is_empty() => numbers.iter().all(|n| s.contains(n)),
                    None => default == s,
                };
                assert!(
                    agrees,
                    "{heading} {field}: README says {default}, config-options {s}"
                );
            }
            Value::String(s) => assert_eq!(default, s, "{heading} {field}"),
            Value::Number(n) => {
                assert_eq!(default.parse::<f64>().ok(), n.as_f64(), "{heading} {field}")
            }
            other => assert_eq!(default, &other.to_string(), "{heading} {field}"),
        }
        // Ranges: the README states calculator::limits.
        let plan_ranges = [planner::MAX_GPUS, planner::CONCURRENT_SEQUENCES];
        if let Some(range) = limits::REQUEST_FIELDS
            .iter()
            .chain(&plan_ranges)
            .find(|r| r.field == field)
        {
            let want = format!("{} – {}", range.min, with_commas(range.max));
            assert!(
                allowed.contains(&want),
                "{heading} {field}: {allowed} lacks {want}"
            );
        }
        // Enumerations: every accepted name is listed.
        let training = heading.contains("training");
        for name in enumerated(field, training)
            .into_iter()
            .filter(|_| !allowed.starts_with("as "))
        {
            assert!(
                allowed.contains(&format!("`{name}`")),
                "{heading} {field}: {allowed} lacks {name}"
            );
        }
    }
}

#[tokio::test]
async fn readme_inference_table_states_the_code() {
    check_table("### `POST /api/memory/inference`", "defaults").await;
}

#[tokio::test]
async fn readme_training_table_states_the_code() {
    check_table("### `POST /api/memory/training`", "defaults").await;
}

#[tokio::test]
async fn readme_plan_table_states_the_code() {
    check_table("### `POST /api/plan`", "plan_defaults").await;
}

#[test]
fn omitted_fields_take_the_calculator_defaults() {
    let model = &registry::lookup("Qwen3-0.6B").unwrap().model;
    let body = json!({"model_name": "Qwen3-0.6B", "batch_size": 2, "sequence_length": 512});
    let got = evaluate(
        Calculation::Inference,
        body.as_object().unwrap(),
        "",
        Unit::default(),
    )
    .unwrap();
    let want = estimate_inference(model, &InferenceRequest::new(2, 512)).unwrap();
    assert_eq!(got.total, want.inference_memory);
    let defaults = InferenceRequest::new(2, 512);
    let p = &got.body["parameters"];
    assert_eq!(p["max_new_tokens"], defaults.max_new_tokens);
    assert_eq!(p["use_flash_attention"], defaults.use_flash_attention);
    assert_eq!(p["num_gpus"], defaults.num_gpus);
    assert_eq!(p["unit"], Unit::default().name());

    let mut body = body;
    body["method"] = json!("lora");
    let got = evaluate(
        Calculation::Training,
        body.as_object().unwrap(),
        "",
        Unit::default(),
    )
    .unwrap();
    let mut defaults = TrainingRequest::new(2, 512);
    defaults.method = Method::Lora;
    let want = estimate_training(model, &defaults).unwrap();
    assert_eq!(got.total, want.training_memory);
    let p = &got.body["parameters"];
    assert_eq!(p["lora_rank"], defaults.lora_rank);
    assert_eq!(p["lora_target"], defaults.lora_target.name());
    assert_eq!(p["use_flash_attention"], defaults.use_flash_attention);
    assert_eq!(p["optimizer"], defaults.optimizer.name());
    assert_eq!(p["mixed_precision"], defaults.mixed_precision);
    assert_eq!(p["zero_stage"], defaults.zero_stage);
    assert_eq!(p["num_gpus"], defaults.num_gpus);
}

/// A request schema of the OpenAPI document.
fn openapi_schema(name: &str) -> &'static Value {
    &openapi::document()["components"]["schemas"][name]
}

fn schema_fields(name: &str) -> std::collections::BTreeSet<String> {
    openapi_schema(name)["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_openapi_request_schemas_state_the_code() {
    use http_glue::memory::Calculation;
    let fields = |c: Calculation| -> std::collections::BTreeSet<String> {
        c.fields().into_iter().map(str::to_owned).collect()
    };
    assert_eq!(
        schema_fields("InferenceRequest"),
        fields(Calculation::Inference)
    );
    assert_eq!(
        schema_fields("TrainingRequest"),
        fields(Calculation::Training)
    );
    let mut plan: std::collections::BTreeSet<String> = fields(Calculation::Inference)
        .into_iter()
        .chain(fields(Calculation::Training))
        .chain(http_glue::plan::PLAN_FIELDS.iter().map(|f| f.to_string()))
        .collect();
    for set_by_plan in ["num_gpus", "gpu", "gpu_memory_gib"] {
        plan.remove(set_by_plan);
    }
    assert_eq!(schema_fields("PlanRequest"), plan);
    for schema in ["InferenceRequest", "TrainingRequest", "PlanRequest"] {
        let s = openapi_schema(schema);
        assert_eq!(
            s["additionalProperties"], false,
            "{schema}: unknown fields are refused"
        );
        for range in limits::REQUEST_FIELDS {
            let p = &s["properties"][range.field];
            if p.is_null() {
                continue;
            }
            assert_eq!(
                (p["minimum"].as_u64(), p["maximum"].as_u64()),
                (Some(range.min), Some(range.max)),
                "{schema}.{}",
                range.field
            );
        }
        for (field, names) in [
            ("quantization", enumerated("quantization", false)),
            (
                "kv_cache_precision",
                enumerated("kv_cache_precision", false),
            ),
            ("optimizer", enumerated("optimizer", true)),
            ("method", enumerated("method", true)),
            ("lora_target", enumerated("lora_target", true)),
            ("unit", enumerated("unit", false)),
            ("engine", enumerated("engine", false)),
        ] {
            let listed = &s["properties"][field]["enum"];
            if listed.is_null() {
                continue;
            }
            let mut want: Vec<Value> = names.iter().map(|n| json!(n)).collect();
            want.push(Value::Null);
            assert_eq!(listed.as_array().unwrap(), &want, "{schema}.{field}");
        }
    }
}
