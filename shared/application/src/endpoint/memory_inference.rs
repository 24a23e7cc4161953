//! `POST /api/memory/inference`: GPU memory to serve a model.

use calculator::{estimate_inference, Unit};
use lambda_http::{Body, Error, Request, Response};
use serde_json::{Map, Value};

use crate::http::{json_object, ok, respond, ApiError, Route};
use crate::request::hub::answer_with_hub;
use crate::request::{read_memory, Calculation, MemoryRequest, Workload};
use crate::response::{InferenceAnswer, MemoryAnswer, TrainingAnswer};

/// `POST /api/memory/inference`.
pub const ROUTE: Route = Route::new("POST", "/api/memory/inference", "memory-inference");

/// One memory request object of `calc`, read and estimated: the answer. `prefix`
/// places field names in errors (`""` or `configurations[3].`); `default_unit` applies
/// when the object has no `unit`.
pub fn evaluate(
    calc: Calculation,
    map: &Map<String, Value>,
    prefix: &str,
    default_unit: Unit,
) -> Result<MemoryAnswer, ApiError> {
    let MemoryRequest {
        resolved,
        workload,
        unit,
    } = read_memory(calc, map, prefix, default_unit)?;
    let calc_error = |e| ApiError::from_calc(e, prefix, resolved.field());
    Ok(match workload {
        Workload::Inference(req) => {
            let e = estimate_inference(&resolved.model, &req).map_err(calc_error)?;
            MemoryAnswer::Inference(Box::new(InferenceAnswer::new(&resolved, &req, &e, unit)))
        }
        Workload::Training(req) => {
            let e = calculator::estimate_training(&resolved.model, &req).map_err(calc_error)?;
            MemoryAnswer::Training(Box::new(TrainingAnswer::new(&resolved, &req, &e, unit)))
        }
    })
}

/// The handler body of both memory endpoints: the request body as a JSON object,
/// evaluated, answered in the default unit unless it names one.
pub(crate) fn answer(calc: Calculation, request: &Request) -> Result<Response<Body>, ApiError> {
    let fields = json_object(request)?;
    Ok(ok(&evaluate(calc, &fields, "", Unit::default())?))
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(answer_with_hub(&event, || {
        respond(&ROUTE, &event, |request| {
            answer(Calculation::Inference, request)
        })
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calculator::{Choice, WarningCode};
    use testkit::fixtures::{check_response, event, event_with, expected_for, status_and_json};

    async fn call(name: &str) -> (u16, Value) {
        status_and_json(&handler(event(name)).await.unwrap())
    }

    #[tokio::test]
    async fn old_service_example_by_name() {
        let (status, body) = call("memory-inference").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calculation_type"], "inference");
        let b = &body["memory_bytes"];
        // Qwen3-0.6B in bfloat16: 596,049,920 parameters x 2 bytes.
        assert_eq!(b["model_weights"], 1_192_099_840u64);
        // 28 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes x 4096 tokens x 2 sequences.
        assert_eq!(b["kv_cache"], 28 * 8 * 128 * 2 * 2 * 4096 * 2u64);
        assert_eq!(b["runtime_overhead"], 512 * 1024 * 1024u64);
        assert_eq!(body["parameters"]["precision"], "bfloat16");
        assert!(body["memory_requirements"]["model_weights"]
            .as_str()
            .unwrap()
            .ends_with(" GB"));
    }

    #[tokio::test]
    async fn old_service_explicit_example() {
        let (status, body) = call("memory-inference-explicit").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["memory_bytes"]["model_weights"], 14_000_000_000u64);
        assert_eq!(body["parameters"]["model_size"], 7.0);
        assert_eq!(body["model"]["source"], "explicit");
    }

    #[tokio::test]
    async fn pasted_config_and_gib_unit() {
        let (status, body) = call("memory-inference-config").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model"]["parameters"]["total"], 7_248_023_552u64);
        assert!(body["memory_requirements"]["kv_cache"]
            .as_str()
            .unwrap()
            .ends_with(" GiB"));
    }

    #[tokio::test]
    async fn quantized_weights_say_how_they_are_stored() {
        let (status, body) = call("memory-inference-awq").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["parameters"]["quantization"], "awq");
        assert_eq!(body["parameters"]["group_size"], 128);
        assert!(body["parameters"]["weight_storage"]
            .as_str()
            .unwrap()
            .contains("16-bit"));
        assert_eq!(body["parameters"]["kv_cache_precision"], "bfloat16");
    }

    #[tokio::test]
    async fn a_quantized_checkpoint_by_name() {
        // Qwen/Qwen3-8B-AWQ: Qwen3-8B stored as AWQ 4-bit, as the
        // `memory-inference-awq` fixture sizes Qwen3-32B when asked explicitly.
        let (status, body) = call("memory-inference-checkpoint").await;
        assert_eq!(status, 200, "{body}");
        let p = &body["parameters"];
        assert_eq!(p["model_name"], "Qwen3-8B");
        assert_eq!(p["requested_model"], "Qwen/Qwen3-8B-AWQ");
        assert_eq!(
            (p["precision"].as_str(), p["quantization"].as_str()),
            (Some("int4"), Some("awq"))
        );
        assert_eq!(
            body["warning_codes"][0],
            WarningCode::NameReadAsCheckpoint.name()
        );
        assert!(body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("stored as awq"));
    }

    /// The `memory-inference-vllm` fixture with `edit` applied to its body.
    async fn vllm_with(edit: impl FnOnce(&mut Value)) -> (u16, Value) {
        let request = event_with("memory-inference-vllm", edit);
        status_and_json(&handler(request).await.unwrap())
    }

    #[tokio::test]
    async fn vllm_releases_choose_the_budget() {
        let (status, current) = vllm_with(|_| {}).await;
        assert_eq!(status, 200, "{current}");
        let (status, old) = vllm_with(|b| b["vllm_version"] = "0.19.0".into()).await;
        assert_eq!(status, 200, "{old}");
        let (p, q) = (&current["parameters"], &old["parameters"]);
        assert_eq!(
            (&p["vllm_version"], &p["gpu_memory_utilization"]),
            (&Value::from("0.21+"), &Value::from(0.92))
        );
        assert_eq!(
            (&q["vllm_version"], &q["gpu_memory_utilization"]),
            (&Value::from("0.11-0.20"), &Value::from(0.9))
        );
        assert_eq!(current["vllm"]["cuda_graphs_in_budget"], true);
        assert_eq!(old["vllm"]["cuda_graphs_in_budget"], false);
        // A GPU given by name budgets from CUDA's total (79.21 GiB on an H100 SXM).
        assert_eq!(
            p["gpu_memory_gib"].as_f64().unwrap().to_string()[..5],
            *"79.20"
        );
        let (status, body) = vllm_with(|b| b["vllm_version"] = "0.10.2".into()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "vllm_version");
    }

    #[tokio::test]
    async fn expert_parallelism_lets_the_experts_stay_whole() {
        let qwen = |b: &mut Value| {
            b["model_name"] = "Qwen/Qwen3-235B-A22B-FP8".into();
            b["num_gpus"] = 8.into();
            b["sequence_length"] = 4096.into();
            b["batch_size"] = 1.into();
        };
        let (status, body) = vllm_with(qwen).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "num_gpus");
        let (status, body) = vllm_with(|b| {
            qwen(b);
            b["expert_parallel"] = true.into();
        })
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["parameters"]["expert_parallel"], true);
        assert_eq!(body["parameters"]["data_parallel_size"], 1);
        // A data-parallel size of 0 names its field.
        let (status, body) = vllm_with(|b| {
            qwen(b);
            b["num_gpus"] = 1.into();
            b["expert_parallel"] = true.into();
            b["data_parallel_size"] = 0.into();
        })
        .await;
        assert_eq!(
            (status, &body["field"]),
            (400, &Value::from("data_parallel_size"))
        );
        // A dense model has no experts to spread.
        let (status, body) = vllm_with(|b| b["expert_parallel"] = true.into()).await;
        assert_eq!(
            (status, &body["field"]),
            (400, &Value::from("expert_parallel"))
        );
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
