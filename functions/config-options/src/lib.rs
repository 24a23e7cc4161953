//! `GET /api/config/options`: every accepted value, with the facts behind it.

use calculator::{
    limits, registry, LoraTarget, Method, Optimizer, Precision, Quantization, Unit,
    CUDA_CONTEXT_BYTES, DEFAULT_GROUP_SIZE,
};
use http_glue::routes::CONFIG_OPTIONS;
use http_glue::{ok, respond};
use lambda_http::{Body, Error, Request, Response};
use serde_json::{json, Value};

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&CONFIG_OPTIONS, &event, |_| Ok(ok(&options()))))
}

fn optimizer_json(o: Optimizer) -> Value {
    let note = match o {
        Optimizer::Adafactor => "factored second moment: 4 bytes x (rows + columns) per matrix, about 0.01 bytes per parameter for LLM weights",
        Optimizer::QuantizedAdamW => "two 8-bit moments with an fp32 scale per 256 values (bitsandbytes)",
        Optimizer::SgdNoMomentum => "no state",
        Optimizer::Sgd | Optimizer::Lion => "one fp32 momentum buffer",
        Optimizer::AdamW | Optimizer::Adam => "fp32 first and second moments",
    };
    let states = o.state_bytes_per_param(true);
    // Mixed precision adds 16-bit + fp32 gradients (6 bytes) and an fp32 master copy (4).
    let mixed_total = states.map(|s| s + 10.0);
    json!({
        "name": o.name(),
        "state_bytes_per_trainable_parameter": states,
        "bytes_per_trainable_parameter_mixed_precision": mixed_total,
        "note": note,
    })
}

fn options() -> Value {
    let data_types: Vec<Value> = Precision::ALL
        .iter()
        .map(|p| {
            json!({
                "name": p.name(),
                "bytes_per_value": p.bits() as f64 / 8.0,
                "quantized": p.is_quantized(),
            })
        })
        .collect();
    let quantization: Vec<Value> = Quantization::ALL
        .iter()
        .map(|q| {
            json!({
                "name": q.name(),
                "precisions": q.precisions().iter().map(|p| p.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let methods: Vec<Value> = Method::ALL
        .iter()
        .map(|m| {
            let description = match m {
                Method::Full => "every weight trained (or trainable_parameters percent of them)",
                Method::Lora => "rank-r adapters on a frozen 16-bit base",
                Method::Qlora => "rank-r adapters on a frozen 4-bit NF4 base (double-quantized constants)",
                Method::Freeze => "the last 2 layers trained (or trainable_parameters percent of the weights), the rest frozen",
            };
            json!({"name": m.name(), "description": description})
        })
        .collect();
    let models: Vec<&str> = registry::all().iter().map(|e| e.name.as_str()).collect();
    json!({
        "data_types": data_types,
        "quantization_formats": quantization,
        "optimizers": Optimizer::ALL.iter().map(|o| optimizer_json(*o)).collect::<Vec<_>>(),
        "training_methods": methods,
        "sft_or_peft": {
            "sft": [Method::Full.name(), Method::Freeze.name()],
            "peft": [Method::Lora.name(), Method::Qlora.name()],
        },
        "lora_targets": LoraTarget::ALL.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "gradient_checkpointing": ["none", "full"],
        "zero_stages": [0, 1, 2, 3],
        "units": Unit::ALL.iter().map(|u| u.name()).collect::<Vec<_>>(),
        "defaults": {
            "precision": "the model's torch_dtype (bfloat16 when it has none)",
            "kv_cache_precision": "the compute dtype (bfloat16 for quantized weights)",
            "group_size": DEFAULT_GROUP_SIZE,
            "max_new_tokens": 0,
            "use_flash_attention": true,
            "num_gpus": 1,
            "method": "full",
            "mixed_precision": true,
            "trainable_parameters": 100,
            "lora_rank": 8,
            "lora_target": "all_linear",
            "optimizer": "AdamW",
            "gradient_checkpointing": "none",
            "zero_stage": 0,
            "unit": "GB",
            "runtime_overhead_bytes": CUDA_CONTEXT_BYTES,
        },
        "limits": {
            "batch_size": limits::MAX_BATCH_SIZE,
            "sequence_length": limits::MAX_SEQUENCE_LENGTH,
            "max_new_tokens": limits::MAX_NEW_TOKENS,
            "num_gpus": limits::MAX_GPUS,
            "lora_rank": limits::MAX_LORA_RANK,
            "group_size": limits::MAX_GROUP_SIZE,
            "model_size_billions": limits::MAX_MODEL_SIZE_BILLIONS,
            "compare_configurations": 50,
            "request_body_bytes": http_glue::body::MAX_BODY_BYTES,
        },
        "available_models": models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{event, status_and_json};

    #[tokio::test]
    async fn lists_every_option() {
        let (status, body) = status_and_json(&handler(event("config-options")).await.unwrap());
        assert_eq!(status, 200);
        let int4 = body["data_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "int4")
            .unwrap();
        assert_eq!(int4["bytes_per_value"], 0.5);
        let adamw = body["optimizers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "AdamW")
            .unwrap();
        assert_eq!(adamw["state_bytes_per_trainable_parameter"], 8.0);
        assert_eq!(adamw["bytes_per_trainable_parameter_mixed_precision"], 18.0);
        assert_eq!(body["optimizers"].as_array().unwrap().len(), 7);
        assert_eq!(body["available_models"].as_array().unwrap().len(), 46);
        assert_eq!(body["sft_or_peft"]["peft"], json!(["lora", "qlora"]));
        assert_eq!(body["units"], json!(["GB", "GiB", "MB", "MiB"]));
    }
}
