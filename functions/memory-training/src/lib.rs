//! `POST /api/memory/training`: GPU memory per GPU to fine-tune a model.

use calculator::Unit;
use http_glue::body::json_object;
use http_glue::memory::{evaluate, Calculation};
use http_glue::routes::MEMORY_TRAINING;
use http_glue::{ok, respond};
use lambda_http::{Body, Error, Request, Response};

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&MEMORY_TRAINING, &event, |request| {
        let fields = json_object(request)?;
        Ok(ok(&evaluate(Calculation::Training, &fields, "", Unit::Gb)?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{event, status_and_json};
    use serde_json::Value;

    async fn call(name: &str) -> (u16, Value) {
        status_and_json(&handler(event(name)).await.unwrap())
    }

    fn bytes(body: &Value, key: &str) -> u64 {
        body["memory_bytes"][key].as_u64().unwrap()
    }

    #[tokio::test]
    async fn components_sum_to_the_total() {
        for name in [
            "memory-training",
            "memory-training-lora",
            "memory-training-qlora",
            "memory-training-zero3",
            "memory-training-legacy",
        ] {
            let (status, body) = call(name).await;
            assert_eq!(status, 200, "{name}: {body}");
            let sum: u64 = [
                "model_weights",
                "gradients_memory",
                "optimizer_memory",
                "activation_memory",
                "runtime_overhead",
            ]
            .iter()
            .map(|k| bytes(&body, k))
            .sum();
            assert_eq!(bytes(&body, "training_memory"), sum, "{name}");
        }
    }

    #[tokio::test]
    async fn full_fine_tuning_keeps_mixed_precision_state() {
        let (_, body) = call("memory-training").await;
        let params = 8_030_261_248u64;
        // 16-bit weights; 16-bit + fp32 gradients; fp32 master weights and Adam moments.
        assert_eq!(bytes(&body, "model_weights"), 2 * params);
        assert_eq!(bytes(&body, "gradients_memory"), 6 * params);
        assert!(bytes(&body, "optimizer_memory") >= 12 * params);
        assert_eq!(body["parameters"]["gradient_checkpointing"], "full");
    }

    #[tokio::test]
    async fn peft_trains_only_adapters() {
        let (_, lora) = call("memory-training-lora").await;
        let adapters = lora["details"]["trainable_parameter_count"]
            .as_u64()
            .unwrap();
        // Qwen3-8B, rank 16 on every linear layer: 36 layers x 16 x (sum of in + out).
        let per_layer =
            (4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 2 * (4096 + 12288) + (12288 + 4096);
        assert_eq!(adapters, 36 * 16 * per_layer);
        assert_eq!(bytes(&lora, "gradients_memory"), 6 * adapters);
        let (_, qlora) = call("memory-training-qlora").await;
        assert!(qlora["parameters"]["base_weight_storage"]
            .as_str()
            .unwrap()
            .contains("NF4"));
        // A 70B model in 4 bits: well under its 141 GB of bfloat16 weights.
        assert!(bytes(&qlora, "model_weights") < 50_000_000_000);
    }

    #[tokio::test]
    async fn errors_name_the_field() {
        let (status, body) = call("memory-training-bad-optimizer").await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "optimizer");
        assert!(body["allowed"]
            .as_array()
            .unwrap()
            .contains(&Value::from("AdamW")));
        let (status, body) = call("memory-training-inference-field").await;
        assert_eq!(status, 400);
        assert_eq!(body["field"], "max_new_tokens");
        assert!(body["error"]
            .as_str()
            .unwrap()
            .contains("/api/memory/inference"));
    }
}
