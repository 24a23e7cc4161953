//! Every API Gateway v2 event fixture in `tests/events` goes through the handler of the
//! function its route key names, in-process, exactly as Lambda would deliver it
//! (`lambda_http::request::from_str`). The same files work with
//! `sam local invoke <Function> -e tests/events/<file>` and
//! `cargo lambda invoke <function> --data-file tests/events/<file>`.

use std::collections::BTreeSet;

use http_glue::routes::{NOT_FOUND, ROUTES};
use http_glue::testing::{event, events_dir, status_and_json};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// Expected status of every fixture, and the field an error must name.
const EXPECTED: &[(&str, u16, Option<&str>)] = &[
    ("health", 200, None),
    ("list-models", 200, None),
    ("get-model", 200, None),
    ("get-model-hf-repo", 200, None),
    ("get-model-unknown", 404, None),
    ("config-options", 200, None),
    ("memory-inference", 200, None),
    ("memory-inference-explicit", 200, None),
    ("memory-inference-config", 200, None),
    ("memory-inference-awq", 200, None),
    ("memory-inference-tensor-parallel", 200, None),
    ("memory-inference-malformed", 400, None),
    ("memory-inference-not-object", 400, None),
    ("memory-inference-unknown-field", 400, Some("precison")),
    ("memory-inference-bad-precision", 400, Some("precision")),
    ("memory-inference-missing-batch", 400, Some("batch_size")),
    ("memory-inference-unknown-model", 400, Some("model_name")),
    ("memory-inference-negative", 400, Some("batch_size")),
    ("memory-inference-too-large", 413, None),
    ("memory-training", 200, None),
    ("memory-training-lora", 200, None),
    ("memory-training-qlora", 200, None),
    ("memory-training-zero3", 200, None),
    ("memory-training-legacy", 200, None),
    ("memory-training-bad-optimizer", 400, Some("optimizer")),
    (
        "memory-training-inference-field",
        400,
        Some("max_new_tokens"),
    ),
    ("memory-compare", 200, None),
    ("memory-compare-training", 200, None),
    (
        "memory-compare-bad-config",
        400,
        Some("configurations[1].precision"),
    ),
    ("memory-compare-empty", 400, Some("configurations")),
    ("memory-compare-bad-type", 400, Some("calculation_type")),
    ("not-found", 404, None),
    ("not-found-method", 405, None),
];

/// The function a fixture's route key selects (`$default` is `not-found`).
fn function_for(raw_event: &Value) -> &'static str {
    let key = raw_event["routeKey"].as_str().unwrap_or_default();
    ROUTES
        .iter()
        .find(|r| format!("{} {}", r.method, r.path) == key)
        .map_or(NOT_FOUND.function, |r| r.function)
}

async fn invoke(function: &str, request: Request) -> Response<Body> {
    let result = match function {
        "health" => health::handler(request).await,
        "list-models" => list_models::handler(request).await,
        "get-model" => get_model::handler(request).await,
        "memory-inference" => memory_inference::handler(request).await,
        "memory-training" => memory_training::handler(request).await,
        "memory-compare" => memory_compare::handler(request).await,
        "config-options" => config_options::handler(request).await,
        "not-found" => not_found::handler(request).await,
        other => panic!("no handler for {other}"),
    };
    // Handlers answer every error with Ok(response): an Err would be a 500 at API
    // Gateway.
    result.expect("handlers never return Err")
}

fn fixture_names() -> BTreeSet<String> {
    std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect()
}

#[test]
fn every_fixture_has_an_expectation() {
    let listed: BTreeSet<String> = EXPECTED.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(fixture_names(), listed);
}

#[test]
fn every_route_has_a_fixture() {
    let names = fixture_names();
    for route in ROUTES.iter().chain([&NOT_FOUND]) {
        assert!(
            names.contains(route.function),
            "no fixture named {}",
            route.function
        );
    }
}

#[tokio::test]
async fn every_fixture_gets_its_status_and_a_json_body() {
    for (name, want, field) in EXPECTED {
        let raw: Value = serde_json::from_str(
            &std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let function = function_for(&raw);
        let response = invoke(function, event(name)).await;
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{name}"
        );
        let (status, body) = status_and_json(&response);
        assert_eq!(status, *want, "{name} via {function}: {body}");
        assert!(body.is_object(), "{name}: body is not a JSON object");
        if status >= 400 {
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{name}: {body}"
            );
        }
        if let Some(field) = field {
            assert_eq!(body["field"], *field, "{name}: {body}");
        }
        if status == 405 {
            assert!(response.headers().contains_key("allow"), "{name}");
        }
    }
}

#[tokio::test]
async fn memory_responses_have_the_documented_shape() {
    for (name, keys) in [
        (
            "memory-inference",
            [
                "model_weights",
                "kv_cache",
                "activation_memory",
                "runtime_overhead",
                "inference_memory",
            ]
            .as_slice(),
        ),
        (
            "memory-training",
            [
                "model_weights",
                "gradients_memory",
                "optimizer_memory",
                "activation_memory",
                "runtime_overhead",
                "training_memory",
            ]
            .as_slice(),
        ),
    ] {
        let (_, body) = status_and_json(&invoke(name, event(name)).await);
        for top in [
            "calculation_type",
            "parameters",
            "memory_requirements",
            "memory_bytes",
            "warnings",
        ] {
            assert!(body.get(top).is_some(), "{name} lacks {top}");
        }
        let strings = body["memory_requirements"].as_object().unwrap();
        let bytes = body["memory_bytes"].as_object().unwrap();
        assert_eq!(strings.len(), keys.len(), "{name}");
        for key in keys {
            assert!(
                strings[*key].as_str().unwrap().ends_with(" GB"),
                "{name}.{key}"
            );
            assert!(bytes[*key].as_u64().is_some(), "{name}.{key}");
        }
    }
}
