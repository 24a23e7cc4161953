//! `POST /api/memory/training`: GPU memory to fine-tune or train a model.

use lambda_http::{Body, Error, Request, Response};

use super::memory_inference::answer;
use crate::http::{respond, Route};
use crate::request::hub::answer_with_hub;
use crate::request::Calculation;

/// `POST /api/memory/training`.
pub const ROUTE: Route = Route::new("POST", "/api/memory/training", "memory-training");

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(answer_with_hub(&event, || {
        respond(&ROUTE, &event, |request| {
            answer(Calculation::Training, request)
        })
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use testkit::fixtures::{check_response, event, event_with, expected_for, status_and_json};

    async fn call(name: &str) -> (u16, Value) {
        status_and_json(&handler(event(name)).await.unwrap())
    }

    fn bytes(body: &Value, key: &str) -> u64 {
        body["memory_bytes"][key].as_u64().unwrap()
    }

    #[tokio::test]
    async fn full_fine_tuning_keeps_mixed_precision_state() {
        let (_, body) = call("memory-training").await;
        let params = 8_030_261_248u64;
        // The default framework, transformers with torch autocast: fp32 weights (their
        // own master) with 16-bit copies of the linear weights, fp32 gradients and
        // Adam moments; the default fused AdamW step has no temporaries.
        let details = &body["details"];
        let copies = details["autocast_weight_copies_bytes"].as_u64().unwrap();
        assert_eq!(bytes(&body, "model_weights"), 4 * params + copies);
        assert_eq!(bytes(&body, "gradients_memory"), 4 * params);
        assert_eq!(details["master_weights_bytes"], 0);
        assert_eq!(details["optimizer_states_bytes"], 8 * params);
        assert_eq!(details["optimizer_step_workspace_bytes"], 0);
        assert_eq!(body["parameters"]["framework"], "transformers");
        assert_eq!(body["parameters"]["optimizer_implementation"], "fused");
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
        // fp32 adapters under autocast: fp32 gradients, held from backward's end
        // through the optimizer step.
        let step = &lora["step_timeline"]["phases"][3];
        assert_eq!(step["phase"], "optimizer_step");
        assert_eq!(step["memory_bytes"]["gradients_memory"], 4 * adapters);
        let (_, qlora) = call("memory-training-qlora").await;
        assert!(qlora["parameters"]["base_weight_storage"]
            .as_str()
            .unwrap()
            .contains("NF4"));
        // Llama-3.1-70B, rank 64 on every linear of its 80 layers.
        let per_layer =
            (8192 + 8192) + 2 * (8192 + 1024) + (8192 + 8192) + 2 * (8192 + 28672) + (28672 + 8192);
        let adapters: u64 = 80 * 64 * per_layer;
        assert_eq!(qlora["details"]["trainable_parameter_count"], adapters);
        assert_eq!(
            qlora["step_timeline"]["phases"][3]["memory_bytes"]["gradients_memory"],
            4 * adapters
        );
        // 8-bit AdamW: two 1-byte moments, an fp32 absmax per 256 values each.
        assert_eq!(
            qlora["details"]["optimizer_states_bytes"],
            2 * adapters + 2 * adapters.div_ceil(256) * 4
        );
    }

    #[tokio::test]
    async fn lora_targets_take_peft_module_lists() {
        // PEFT's MetaMathQA rank-32 run on q_proj and v_proj counted 9,175,040.
        let (status, body) = call("memory-training-lora-modules").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["details"]["trainable_parameter_count"], 9_175_040);
        assert_eq!(
            body["parameters"]["lora_target"],
            serde_json::json!(["q_proj", "v_proj"])
        );
        // A list that is empty, or holds something other than a name, is refused by
        // its place.
        for (target, field) in [
            (serde_json::json!([]), "lora_target"),
            (serde_json::json!(["q_proj", 7]), "lora_target[1]"),
            (serde_json::json!([""]), "lora_target[0]"),
        ] {
            let request = event_with("memory-training-lora-modules", |b| {
                b["lora_target"] = target
            });
            let (status, answer) = status_and_json(&handler(request).await.unwrap());
            assert_eq!(
                (status, answer["field"].as_str()),
                (400, Some(field)),
                "{answer}"
            );
        }
    }

    #[tokio::test]
    async fn offloading_and_fsdp_fixtures() {
        // Llama-3.1-70B, DeepSpeed ZeRO-3 over 8 GPUs with the optimizer on the CPU:
        // master, moments and fp32 gradient (16 bytes per parameter) on the host.
        let (_, offload) = call("memory-training-offload").await;
        let params = 70_553_706_496u64;
        assert_eq!(bytes(&offload, "optimizer_memory"), 0);
        assert_eq!(
            offload["offloaded"]["host_memory_per_node_bytes"],
            16 * params
        );
        assert_eq!(offload["parameters"]["framework"], "deepspeed");
        // FSDP hybrid over two nodes of 8: AdamW moments sharded 8 ways.
        let (_, fsdp) = call("memory-training-fsdp").await;
        assert_eq!(fsdp["parameters"]["fsdp_sharding"], "hybrid_shard");
        assert_eq!(fsdp["parameters"]["optimizer_implementation"], "fused");
        assert_eq!(fsdp["details"]["optimizer_states_bytes"], 8 * params / 8);
        assert_eq!(fsdp["details"]["optimizer_step_workspace_bytes"], 0);
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
        // The inference-only field's error says where it belongs.
        let (_, body) = call("memory-training-inference-field").await;
        assert!(body["error"]
            .as_str()
            .unwrap()
            .contains("/api/memory/inference"));
    }
}
