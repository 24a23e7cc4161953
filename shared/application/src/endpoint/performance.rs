//! `POST /api/performance`: how fast one replica serves a traffic and what a token
//! costs (methodology §12).

use calculator::{estimate_inference, limits, CalcError};
use lambda_http::{Body, Error, Request, Response};
use planner::performance::{predict, Demand, Serving, Unmodelled, LONGEST_OVER_MEAN};
use planner::Catalog;
use serde_json::{Map, Value};

use crate::http::{json_object, ok, respond, ApiError, Route};
use crate::request::fields::{
    CONCURRENCY, GPU, INPUT_TOKENS, MAX_NUM_BATCHED_TOKENS, NUM_GPUS, OUTPUT_TOKENS,
    REQUESTS_PER_SECOND,
};
use crate::request::hub::answer_with_hub;
use crate::request::read_performance;
use crate::response::PerformanceAnswer;

/// `POST /api/performance`.
pub const ROUTE: Route = Route::new("POST", "/api/performance", "performance");

/// One performance request object, read and predicted.
pub fn perform(map: &Map<String, Value>, prefix: &str) -> Result<PerformanceAnswer, ApiError> {
    let catalog = Catalog::embedded();
    let input = read_performance(map, prefix, catalog)?;
    let calc_error = |e| calc_error(e, prefix, input.resolved.field());
    let estimate = estimate_inference(&input.resolved.model, &input.request).map_err(calc_error)?;
    if let Some(why) = estimate.vllm.as_ref().and_then(|v| v.refusal.as_deref()) {
        return Err(refused(why, prefix));
    }
    let gpu = catalog.gpu(&input.gpu).ok_or_else(|| {
        ApiError::field(&format!("{prefix}{}", GPU.name), "is not in the catalog")
    })?;
    let link = input
        .instance
        .as_deref()
        .and_then(|name| catalog.instances.iter().find(|i| i.name == name))
        .and_then(|i| i.interconnect.as_ref());
    let serving = Serving {
        model: &input.resolved.model,
        estimate: &estimate,
        gpu,
        link,
        tensor_parallel: input.request.num_gpus,
        expert_parallel: input.expert_parallel,
    };
    let performance = predict(&serving, &input.traffic, catalog).map_err(|e| {
        let field = match (&e, input.traffic.demand) {
            (Unmodelled::Replica(_), _) => GPU.name,
            (Unmodelled::Thrashing(_), Demand::Concurrency(_)) => CONCURRENCY.name,
            (Unmodelled::Thrashing(_), Demand::RequestsPerSecond(_)) => REQUESTS_PER_SECOND.name,
            (Unmodelled::TooManySteps(_), _) => MAX_NUM_BATCHED_TOKENS.name,
        };
        ApiError::field(&format!("{prefix}{field}"), e.to_string())
    })?;
    Ok(PerformanceAnswer::new(&input, &estimate, &performance))
}

/// A calculator error on the field of this request that causes it: the replica's one
/// request stands for the traffic's longest (its `sequence_length` is the prompt, its
/// `max_new_tokens` the output), and the engine is always vLLM, so what vLLM cannot
/// run is the model's.
fn calc_error(e: CalcError, prefix: &str, model_field: &str) -> ApiError {
    let at = |field: &str| format!("{prefix}{field}");
    match e {
        CalcError::InvalidField { field, message } => match field.as_str() {
            "sequence_length" | "batch_size" => ApiError::field(&at(INPUT_TOKENS.name), message),
            "max_new_tokens" => ApiError::field(&at(OUTPUT_TOKENS.name), message),
            "engine" => ApiError::field(
                &at(model_field),
                format!(
                    "{}: the performance model simulates vLLM only",
                    message.trim_end_matches("; use engine transformers")
                ),
            ),
            _ => ApiError::from_calc(
                CalcError::InvalidField { field, message },
                prefix,
                model_field,
            ),
        },
        CalcError::TooLarge => ApiError::field(
            &at(INPUT_TOKENS.name),
            format!(
                "the weights fit, but a request this long takes more than {} per GPU",
                limits::LARGEST_REPORTABLE
            ),
        ),
        e => ApiError::from_calc(e, prefix, model_field),
    }
}

/// Why the replica would not start, on the field that causes it: a `max_model_len`
/// past the model's context is the traffic's (its longest request), a pool with no
/// room the replica's (too few or too small GPUs).
fn refused(why: &str, prefix: &str) -> ApiError {
    if why.starts_with("max_model_len") {
        ApiError::field(
            &format!("{prefix}{}", INPUT_TOKENS.name),
            format!("the longest request of the traffic (its prompt and output, each up to {LONGEST_OVER_MEAN:.2}x the mean) does not start: {why}"),
        )
    } else {
        ApiError::field(
            &format!("{prefix}{}", NUM_GPUS.name),
            format!("vLLM would not start on this replica: {why}; give more GPUs (num_gpus) or a larger GPU"),
        )
    }
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(answer_with_hub(&event, || {
        respond(&ROUTE, &event, |request| {
            let fields = json_object(request)?;
            Ok(ok(&perform(&fields, "")?))
        })
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(body: Value) -> Result<Value, ApiError> {
        perform(body.as_object().unwrap(), "").map(|a| serde_json::to_value(&a).unwrap())
    }

    fn refusal(body: Value) -> (String, String) {
        let e = answer(body).unwrap_err();
        assert!(e.status.is_client_error());
        (e.body.field.unwrap_or_default(), e.body.error)
    }

    #[test]
    fn an_answer_states_rates_per_gpu_and_costs_from_the_instance_price() {
        let a = answer(
            json!({"model_name": "Llama-3.3-70B-Instruct", "precision": "float8",
            "instance": "p5.48xlarge", "num_gpus": 2, "input_tokens": 1024,
            "output_tokens": 1024, "concurrency": 16}),
        )
        .unwrap();
        let f = |k: &str| a[k].as_f64().unwrap();
        assert!((f("output_tokens_per_s_per_gpu") * 2.0 - f("output_tokens_per_s")).abs() < 0.02);
        assert!(f("ttft_ms") < f("e2e_latency_ms"));
        // p5.48xlarge's price over its eight GPUs, for the replica's two.
        let per_million = f("usd_per_hour") / (f("output_tokens_per_s") * 3600.0) * 1e6;
        assert!((f("usd_per_million_output_tokens") / per_million - 1.0).abs() < 1e-3);
        assert!(f("usd_per_million_tokens") < f("usd_per_million_output_tokens"));
        assert_eq!(a["compute_dtype"], "fp8");
        assert_eq!(a["bound"], "memory_bandwidth");
        assert!(a["expected_error"]["tpot_percent"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn what_cannot_be_modelled_is_refused_on_its_field() {
        let (field, why) = refusal(
            json!({"model_name": "Qwen3-0.6B", "gpu": "NVIDIA H100 SXM 80GB",
            "input_tokens": 60_000, "output_tokens": 100, "concurrency": 1}),
        );
        assert_eq!(field, "input_tokens", "{why}");
        let (field, why) = refusal(json!({"model_name": "Kimi-Linear-48B-A3B-Instruct",
            "gpu": "NVIDIA B200", "input_tokens": 100, "output_tokens": 100, "concurrency": 1}));
        assert_eq!(field, "model_name", "{why}");
        assert!(why.contains("vLLM only"), "{why}");
        let (field, why) = refusal(json!({"model_name": "Llama-3.3-70B-Instruct",
            "gpu": "NVIDIA L4 24GB", "input_tokens": 100, "output_tokens": 100, "concurrency": 1}));
        assert_eq!(field, "num_gpus", "{why}");
    }

    #[test]
    fn a_load_that_only_preempts_is_refused_on_the_load() {
        // One 900k-token request fills the pool; every further client pushes one out.
        let (field, why) = refusal(json!({"model_name": "Mistral-Nemo-Base-2407",
            "precision": "float8", "kv_cache_precision": "float8", "gpu": "NVIDIA B200",
            "input_tokens": 16, "output_tokens": 900_000, "concurrency": 4096}));
        assert_eq!(field, "concurrency");
        assert!(why.contains("keeps preempting"), "{why}");
        // One prompt token a step: the request outlasts the simulation, and the step
        // budget is named.
        let (field, why) = refusal(json!({"model_name": "Mistral-Nemo-Base-2407",
            "precision": "float8", "kv_cache_precision": "float8", "gpu": "NVIDIA B200",
            "input_tokens": 200_000, "output_tokens": 16, "concurrency": 1,
            "max_num_batched_tokens": 1, "max_num_seqs": 1}));
        assert_eq!(field, "max_num_batched_tokens", "{why}");
        // Alone, the same request is answered.
        let a = answer(
            json!({"model_name": "Mistral-Nemo-Base-2407", "precision": "float8",
            "kv_cache_precision": "float8", "gpu": "NVIDIA B200", "input_tokens": 16,
            "output_tokens": 900_000, "concurrency": 1}),
        )
        .unwrap();
        assert!(a["tpot_ms"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn borrowed_figures_are_said() {
        // bf16 weights: no published run computed natively in 16-bit, so the compute share
        // is borrowed and the larger error stated; no instance, so the link is borrowed.
        let a = answer(json!({"model_name": "Qwen3-8B", "precision": "bfloat16",
            "gpu": "NVIDIA H100 SXM 80GB", "num_gpus": 2, "input_tokens": 1000,
            "output_tokens": 100, "concurrency": 4}))
        .unwrap();
        assert_eq!(a["compute_dtype"], "16-bit");
        let codes = a["warning_codes"].as_array().unwrap();
        assert!(
            codes.contains(&json!("performance_uncalibrated_gpu")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&json!("performance_figure_assumed")),
            "{codes:?}"
        );
        let text = a["warnings"].to_string();
        assert!(
            text.contains("did not compute in 16-bit") && text.contains("slowest"),
            "{text}"
        );
        assert!(a["expected_error"]["basis"]
            .as_str()
            .unwrap()
            .contains("without"));
    }

    #[test]
    fn a_gpu_named_short_is_read_and_said() {
        let a = answer(
            json!({"model_name": "Qwen3-8B", "gpu": "h100", "input_tokens": 1000,
            "output_tokens": 100, "concurrency": 4}),
        )
        .unwrap();
        assert_eq!(a["parameters"]["gpu"], "NVIDIA H100 SXM 80GB");
        let codes = a["warning_codes"].as_array().unwrap();
        assert!(codes.contains(&json!("gpu_name_assumed")), "{codes:?}");
        // Instance types with their separators free.
        let a = answer(json!({"model_name": "Qwen3-8B", "instance": "P5 48XLARGE",
            "input_tokens": 1000, "output_tokens": 100, "concurrency": 4}))
        .unwrap();
        assert_eq!(a["parameters"]["instance"], "p5.48xlarge");
        let (field, why) = refusal(json!({"model_name": "Qwen3-8B", "gpu": "RTX 6000",
            "input_tokens": 1000, "output_tokens": 100, "concurrency": 4}));
        assert_eq!(field, "gpu", "{why}");
    }

    #[test]
    fn eager_mode_is_warned_about() {
        let a = answer(
            json!({"model_name": "Qwen3-8B", "gpu": "NVIDIA H100 SXM 80GB",
            "input_tokens": 1000, "output_tokens": 100, "concurrency": 4,
            "enforce_eager": true}),
        )
        .unwrap();
        let codes = a["warning_codes"].as_array().unwrap();
        assert!(
            codes.contains(&json!("performance_eager_not_modelled")),
            "{codes:?}"
        );
    }
}
