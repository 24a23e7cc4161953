//! Every API Gateway v2 event fixture in `tests/events` goes through the handler of the
//! function its route key names, in-process, exactly as Lambda would deliver it
//! (`lambda_http::request::from_str`). The same files work with
//! `sam local invoke <Function> -e tests/events/<file>` and
//! `cargo lambda invoke <function> --data-file tests/events/<file>`.

use std::collections::BTreeSet;

use application::endpoint::{call, not_found, ROUTES};
use lambda_http::{Body, Request, Response};
use testkit::fixtures::{check_response, event, events_dir, route_key, status_and_json, EXPECTED};

/// The function a fixture's route key selects (`$default` is `not-found`).
fn function_for(fixture: &str) -> &'static str {
    let key = route_key(fixture);
    ROUTES
        .iter()
        .find(|r| r.key() == key)
        .map_or(not_found::ROUTE.function, |r| r.function)
}

async fn invoke(function: &str, request: Request) -> Response<Body> {
    let result = call(function, request)
        .await
        .unwrap_or_else(|| panic!("no handler for {function}"));
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
    let listed: BTreeSet<String> = EXPECTED.iter().map(|e| e.fixture.to_string()).collect();
    assert_eq!(fixture_names(), listed);
}

#[test]
fn every_route_has_a_fixture() {
    let names = fixture_names();
    for route in ROUTES.iter().chain([&not_found::ROUTE]) {
        assert!(
            names.contains(route.function),
            "no fixture named {}",
            route.function
        );
    }
}

#[tokio::test]
async fn every_fixture_answers_as_the_table_says() {
    for expected in EXPECTED {
        let function = function_for(expected.fixture);
        check_response(expected, &invoke(function, event(expected.fixture)).await);
    }
}

/// Components of each memory answer, the total (their sum) last.
const COMPONENTS: [(&str, &[&str]); 2] = [
    (
        "memory-inference",
        &[
            "model_weights",
            "kv_cache",
            "activation_memory",
            "runtime_overhead",
            "inference_memory",
        ],
    ),
    (
        "memory-training",
        &[
            "model_weights",
            "gradients_memory",
            "optimizer_memory",
            "activation_memory",
            "runtime_overhead",
            "training_memory",
        ],
    ),
];

#[tokio::test]
async fn memory_answers_have_the_documented_shape_and_add_up() {
    for expected in EXPECTED.iter().filter(|e| e.status == 200) {
        let function = function_for(expected.fixture);
        let Some((_, keys)) = COMPONENTS.iter().find(|(f, _)| *f == function) else {
            continue;
        };
        let name = expected.fixture;
        let (_, body) = status_and_json(&invoke(function, event(name)).await);
        for top in [
            "calculation_type",
            "model",
            "parameters",
            "memory_requirements",
            "memory_bytes",
            "warnings",
            "warning_codes",
            "per_gpu",
        ] {
            assert!(body.get(top).is_some(), "{name} lacks {top}");
        }
        let unit = body["parameters"]["unit"].as_str().unwrap();
        let strings = body["memory_requirements"].as_object().unwrap();
        let bytes = body["memory_bytes"].as_object().unwrap();
        assert_eq!(strings.len(), keys.len(), "{name}");
        assert_eq!(bytes.len(), keys.len(), "{name}");
        for key in *keys {
            assert!(
                strings[*key]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(" {unit}")),
                "{name}.{key}"
            );
        }
        let (total, parts) = keys.split_last().unwrap();
        let sum: u64 = parts.iter().map(|k| bytes[*k].as_u64().unwrap()).sum();
        assert_eq!(
            bytes[*total].as_u64(),
            Some(sum),
            "{name}: {total} is the sum"
        );
        if function == "memory-inference" {
            // The cache by kind adds up to the cache.
            let kinds = body["kv_cache_by_kind"]["memory_bytes"]
                .as_object()
                .unwrap();
            assert_eq!(kinds.len(), 3, "{name}");
            let sum: u64 = kinds.values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(
                bytes["kv_cache"].as_u64(),
                Some(sum),
                "{name}: kv_cache by kind"
            );
        }
    }
}

/// `tests/expected-status.json` (read by `scripts/sam-invoke.sh`, which has no Rust) is
/// the table above as JSON: each fixture's status, and the function each route key
/// selects. Rewrite it with `EXPECTED_UPDATE=1 cargo test -p api-tests --test fixtures`.
#[test]
fn expected_status_file_is_the_table() {
    let routes: serde_json::Map<String, serde_json::Value> = ROUTES
        .iter()
        .map(|r| (r.key(), r.function.into()))
        .collect();
    let fixtures: serde_json::Map<String, serde_json::Value> = EXPECTED
        .iter()
        .map(|e| (e.fixture.to_owned(), e.status.into()))
        .collect();
    let table = serde_json::json!({"routes": routes, "fixtures": fixtures});
    let text = serde_json::to_string_pretty(&table).unwrap() + "\n";
    let path = events_dir().join("../expected-status.json");
    if std::env::var_os("EXPECTED_UPDATE").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        text,
        "tests/expected-status.json is stale: rerun with EXPECTED_UPDATE=1"
    );
}
