//! Models named by Hugging Face repo id, read from the stand-in Hub
//! (`testkit::hub`): every endpoint that takes a model, exact parameter counts, and
//! every failure with its documented status. `HF_ENDPOINT` points at the stand-in for
//! this whole test process.

use application::endpoint::call;
use lambda_http::Request;
use serde_json::{json, Value};
use testkit::fixtures::{event_with, raw_event, status_and_json};
use testkit::hub::{
    shared_stand_in, values_stored, AWQ, BIN_ONLY, COMMIT, DENSE, DISABLED, ELSEWHERE, FP8,
    FP8_ON_STORAGE_HOST, GATED, HUGE, MALFORMED, MANY_SHARDS, MISSING, MOE, NO_CONFIG,
    ON_STORAGE_HOST, SLOW,
};

/// `fixture`'s event with its body edited, through `function`.
async fn post(function: &str, fixture: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    shared_stand_in();
    let response = call(function, event_with(fixture, edit))
        .await
        .unwrap()
        .unwrap();
    status_and_json(&response)
}

/// A memory request for `model` (with `edit` applied).
async fn inference(model: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    post("memory-inference", "memory-inference", |b| {
        b["model_name"] = json!(model);
        edit(b);
    })
    .await
}

/// `GET /api/models/{name}` with an optional query string.
async fn get_model(name: &str, query: Option<&str>) -> (u16, Value) {
    shared_stand_in();
    let mut raw = raw_event("get-model");
    let path = format!("/api/models/{name}");
    raw["rawPath"] = json!(path);
    raw["requestContext"]["http"]["path"] = json!(path);
    raw["pathParameters"] = json!({"model_name": name});
    if let Some(q) = query {
        raw["rawQueryString"] = json!(q);
        let (k, v) = q.split_once('=').unwrap();
        raw["queryStringParameters"] = json!({k: v});
    }
    let request: Request = lambda_http::request::from_str(&raw.to_string()).unwrap();
    status_and_json(&call("get-model", request).await.unwrap().unwrap())
}

fn codes(body: &Value) -> Vec<String> {
    body["warning_codes"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn hub_models_are_sized_from_their_own_files() {
    for repo in [DENSE, MOE, AWQ, FP8] {
        let (status, body) = inference(repo, |_| {}).await;
        assert_eq!(status, 200, "{repo}: {body}");
        let model = &body["model"];
        assert_eq!(model["source"], "hub", "{repo}");
        let hub = &model["hub"];
        assert_eq!(hub["repo"], repo);
        assert_eq!(hub["revision"], "main");
        assert_eq!(hub["commit"], COMMIT);
        assert_eq!(hub["parameters_used"], "config");
        assert_eq!(hub["checkpoint"]["counted_by"], "headers");
        // The checkpoint's own weights are the count every figure uses.
        assert_eq!(
            hub["checkpoint"]["weights"], model["parameters"]["total"],
            "{repo}: {body}"
        );
        assert!(
            !codes(&body).contains(&"hub_parameters_differ".into()),
            "{repo}"
        );
        assert_eq!(body["parameters"]["model_name"], repo);
        assert_eq!(body["parameters"]["revision"], "main");
    }
    // Qwen2-7B-Instruct in bf16: its 7,615,616,512 weights at 2 bytes.
    let (_, dense) = inference(DENSE, |_| {}).await;
    assert_eq!(dense["model"]["parameters"]["total"], 7_615_616_512u64);
    assert_eq!(dense["memory_bytes"]["model_weights"], 2 * 7_615_616_512u64);
    assert_eq!(dense["model"]["hub"]["checkpoint"]["files"], 4);
    // The AWQ checkpoint is sized as 4-bit AWQ storage, from its quantization_config.
    let (_, awq) = inference(AWQ, |_| {}).await;
    assert!(
        awq["memory_bytes"]["model_weights"].as_u64().unwrap()
            < awq["model"]["parameters"]["total"].as_u64().unwrap(),
        "{awq}"
    );
}

#[tokio::test]
async fn every_endpoint_that_takes_a_model_takes_a_hub_id() {
    let (s, training) = post("memory-training", "memory-training", |b| {
        b["model_name"] = json!(DENSE)
    })
    .await;
    assert_eq!(s, 200, "{training}");
    assert_eq!(training["model"]["source"], "hub");
    let (s, compare) = post("memory-compare", "memory-compare", |b| {
        b["configurations"][0]["model_name"] = json!(DENSE);
        b["configurations"][1]["model_name"] = json!(MOE);
    })
    .await;
    assert_eq!(s, 200, "{compare}");
    let text = compare.to_string();
    assert!(text.contains(DENSE) && text.contains(MOE), "{compare}");
    let (s, plan) = post("plan", "plan", |b| b["model_name"] = json!(DENSE)).await;
    assert_eq!(s, 200, "{plan}");
    assert!(plan.to_string().contains(DENSE));
    let (s, perf) = post("performance", "performance", |b| {
        b["model_name"] = json!(DENSE);
        b["precision"] = json!("bfloat16");
    })
    .await;
    assert_eq!(s, 200, "{perf}");
    assert_eq!(perf["model"]["source"], "hub");
    let (s, model) = get_model(DENSE, None).await;
    assert_eq!(s, 200, "{model}");
    assert_eq!(model["hub"]["commit"], COMMIT);
    assert_eq!(model["config"]["model_type"], "qwen2");
    assert_eq!(model["parameters"]["total"], 7_615_616_512u64);
    let (s, at_commit) = get_model(DENSE, Some(&format!("revision={COMMIT}"))).await;
    assert_eq!(s, 200, "{at_commit}");
    assert_eq!(at_commit["hub"]["revision"], COMMIT);
}

#[tokio::test]
async fn where_headers_cannot_be_read_the_hubs_count_is_used() {
    for repo in [ON_STORAGE_HOST, MANY_SHARDS] {
        let (status, body) = inference(repo, |_| {}).await;
        assert_eq!(status, 200, "{repo}: {body}");
        let checkpoint = &body["model"]["hub"]["checkpoint"];
        assert_eq!(checkpoint["counted_by"], "hub_api", "{repo}");
        assert!(checkpoint["tensors"].is_null(), "{repo}");
        assert_eq!(checkpoint["weights"], values_stored(repo), "{repo}");
        // The Hub's count of the files equals the architecture's count.
        assert_eq!(
            checkpoint["weights"], body["model"]["parameters"]["total"],
            "{repo}: {body}"
        );
        let codes = codes(&body);
        assert!(codes.contains(&"hub_files_not_read".into()), "{repo}");
        assert!(!codes.contains(&"hub_parameters_differ".into()), "{repo}");
    }
    // A quantized checkpoint: the Hub's count has no names to tell weights from
    // scales, so it gives values by dtype and no weights.
    let (status, fp8) = inference(FP8_ON_STORAGE_HOST, |_| {}).await;
    assert_eq!(status, 200, "{fp8}");
    let checkpoint = &fp8["model"]["hub"]["checkpoint"];
    assert_eq!(checkpoint["counted_by"], "hub_api");
    assert!(checkpoint["weights"].is_null(), "{checkpoint}");
    let stored: u64 = checkpoint["values_by_dtype"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(stored, values_stored(FP8_ON_STORAGE_HOST));
    let warned = codes(&fp8);
    assert!(!warned.contains(&"hub_parameters_differ".into()), "{fp8}");
    assert!(
        !warned.contains(&"hub_quantization_unstated".into()),
        "{fp8}"
    );
    let (_, on_storage) = inference(ON_STORAGE_HOST, |_| {}).await;
    assert_eq!(
        on_storage["model"]["hub"]["checkpoint"]["tensor_bytes"],
        2 * 7_615_616_512u64,
        "the index's total size: {on_storage}"
    );
}

#[tokio::test]
async fn what_could_not_be_read_is_said() {
    let (status, body) = inference(BIN_ONLY, |_| {}).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["model"]["hub"]["checkpoint"].is_null());
    assert!(
        codes(&body).contains(&"hub_files_not_read".into()),
        "{body}"
    );
}

#[tokio::test]
async fn every_failure_has_its_status() {
    for (repo, status, field) in [
        (MISSING, 404, "model_name"),
        (GATED, 403, "model_name"),
        (DISABLED, 403, "model_name"),
        (NO_CONFIG, 400, "model_name"),
        (HUGE, 400, "model_name"),
        (MALFORMED, 400, "model_name"),
        (testkit::hub::DUPLICATE_KEY, 400, "model_name"),
        (ELSEWHERE, 502, "model_name"),
        (SLOW, 504, "model_name"),
    ] {
        let (s, body) = inference(repo, |_| {}).await;
        assert_eq!(s, status, "{repo}: {body}");
        assert_eq!(body["field"], field, "{repo}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(repo),
            "{repo}: {body}"
        );
    }
    let (_, missing) = inference(MISSING, |_| {}).await;
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .starts_with(&format!("Model '{MISSING}' not found")));
    assert!(missing["suggestions"].is_array());
    let (s, body) = inference(DENSE, |b| b["revision"] = json!("v9")).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (404, Some("revision")),
        "{body}"
    );
    let (s, body) = inference(DENSE, |b| b["revision"] = json!("../main")).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (400, Some("revision")),
        "{body}"
    );
    let (s, body) = inference("Qwen3-8B", |b| b["revision"] = json!("v2")).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (400, Some("revision")),
        "{body}"
    );
    let (s, body) = get_model(GATED, None).await;
    assert_eq!(s, 403, "{body}");
}

#[tokio::test]
async fn a_registry_model_has_one_revision() {
    let (s, body) = get_model("Qwen3-8B", Some("revision=v2")).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (400, Some("revision")),
        "{body}"
    );
    let (s, _) = get_model("Qwen3-8B", Some("revision=main")).await;
    assert_eq!(s, 200);
}
