//! `GET /api/config/options`: every accepted value, with the facts behind it.

use calculator::training::framework::{
    DEEPSPEED_BUCKET_ELEMENTS, DEEPSPEED_SUB_GROUP_ELEMENTS, DEFAULT_GPUS_PER_NODE,
};
use calculator::training::{GradientLayout, DEFAULT_LOSS_CHUNKS};
use calculator::{
    limits, registry, vllm, Bytes, Choice, Framework, FsdpSharding, InferenceRequest, Logits,
    LoraTarget, Loss, Method, Offload, Optimizer, OptimizerImplementation, Precision, Quantization,
    TrainingRequest, Unit, VllmSettings, CUDA_CONTEXT_BYTES, DEFAULT_GROUP_SIZE, UNSTATED_DTYPE,
};
use http_glue::memory::MAX_COMPARE_CONFIGURATIONS;
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
    // Mixed precision, per trainable parameter, as the accounting charges it:
    // DeepSpeed a 16-bit weight, 16-bit and fp32 gradients, an fp32 master and the
    // states; torch autocast (transformers) and FSDP an fp32 weight that is its own
    // master, an fp32 gradient and the states (autocast adds its 16-bit copy).
    let mixed = GradientLayout::new(Precision::Bfloat16, true);
    let states = o.state_bytes_per_param(mixed.fp32_states);
    let deepspeed = (2 + mixed.grad_16bit + mixed.grad_fp32 + mixed.master) as f64;
    let fp32_params = (mixed.master + mixed.grad_fp32) as f64;
    let workspace: serde_json::Map<String, Value> = OptimizerImplementation::ALL
        .iter()
        .map(|i| {
            let bytes = o.step_workspace_bytes_per_param(*i, mixed.fp32_states);
            (i.name().to_string(), json!(bytes))
        })
        .collect();
    json!({
        "name": o.name(),
        "state_bytes_per_trainable_parameter": states,
        "bytes_per_trainable_parameter_mixed_precision": {
            Framework::Transformers.name(): states.map(|s| s + fp32_params + mixed.grad_16bit as f64),
            Framework::Deepspeed.name(): states.map(|s| s + deepspeed),
            Framework::Fsdp.name(): states.map(|s| s + fp32_params),
        },
        "step_workspace_bytes_per_trainable_parameter": workspace,
        "note": note,
    })
}

/// Every default, read from the calculator's request constructors.
fn defaults() -> Value {
    let inference = InferenceRequest::new(1, 1);
    let training = TrainingRequest::new(1, 1);
    json!({
        "precision": format!("the published checkpoint's format when it is quantized, else the model's torch_dtype ({} when it has none)", UNSTATED_DTYPE.name()),
        "kv_cache_precision": format!("the compute dtype ({} for quantized weights)", calculator::runtime::QUANTIZED_COMPUTE_DTYPE.name()),
        "group_size": DEFAULT_GROUP_SIZE,
        "max_new_tokens": inference.max_new_tokens,
        "logits": inference.logits.name(),
        "use_flash_attention": inference.use_flash_attention,
        "load_mtp": inference.load_mtp,
        "num_gpus": inference.num_gpus,
        "method": training.method.name(),
        "mixed_precision": training.mixed_precision,
        "trainable_parameters": limits::MAX_TRAINABLE_PERCENT,
        "lora_rank": training.lora_rank,
        "lora_target": training.lora_target.name(),
        "optimizer": training.optimizer.name(),
        "gradient_checkpointing": if training.gradient_checkpointing { "full" } else { "none" },
        "zero_stage": training.zero_stage,
        "framework": format!("{}; {} when zero_stage is above 0 or a DeepSpeed setting is given, {} when fsdp_sharding is", Framework::Transformers.name(), Framework::Deepspeed.name(), Framework::Fsdp.name()),
        "fsdp_sharding": FsdpSharding::DEFAULT.name(),
        "gpus_per_node": DEFAULT_GPUS_PER_NODE,
        "optimizer_implementation": OptimizerImplementation::DEFAULT.name(),
        "offload_optimizer": training.offload_optimizer.name(),
        "offload_parameters": training.offload_parameters.name(),
        "loss": training.loss.name(),
        "loss_chunks": DEFAULT_LOSS_CHUNKS,
        "lora_dropout": training.lora_dropout,
        "reduce_bucket_size": DEEPSPEED_BUCKET_ELEMENTS,
        "overlap_comm": "true at zero_stage 3, else false (DeepSpeed's)",
        "sub_group_size": DEEPSPEED_SUB_GROUP_ELEMENTS,
        "engine": inference.engine.name(),
        "gpu_memory_utilization": vllm::DEFAULT_GPU_MEMORY_UTILIZATION,
        "max_num_batched_tokens": batch_default(0),
        "max_num_seqs": batch_default(1),
        "enforce_eager": VllmSettings::new(Bytes(0)).enforce_eager,
        "unit": Unit::default().name(),
        "runtime_overhead_bytes": CUDA_CONTEXT_BYTES,
    })
}

/// vLLM's default batch as a sentence: `field` 0 is tokens per step, 1 sequences.
fn batch_default(field: usize) -> String {
    let pick = |(tokens, seqs, _): (u64, u64, &str)| [tokens, seqs][field];
    let large = pick(vllm::serve_batch_defaults(Bytes(u64::MAX), None));
    let small = pick(vllm::serve_batch_defaults(Bytes(0), None));
    format!("{large} on GPUs with 70 GiB or more (A100s excepted), else {small} (vllm serve's defaults)")
}

/// The plan's own defaults: the engine and the headroom.
fn plan_defaults() -> Value {
    json!({
        "mode": Value::Null,
        "engine": calculator::Engine::NAMES[1],
        "gpus": "every CUDA GPU an instance carries",
        "instance_types": "all",
        "max_gpus": Value::Null,
        "gpu_memory_utilization": vllm::DEFAULT_GPU_MEMORY_UTILIZATION,
        "concurrent_sequences": Value::Null,
        "custom_gpus": "none",
        "prices": "the catalog's",
        "hours_per_month": planner::HOURS_PER_MONTH,
    })
}

/// Every limit, read from `calculator::limits` and the glue's.
fn limits_json() -> Value {
    let mut out = serde_json::Map::new();
    for r in limits::REQUEST_FIELDS {
        out.insert(r.field.into(), json!(r.max));
    }
    out.insert(
        "model_size_billions".into(),
        json!(limits::MAX_MODEL_SIZE_BILLIONS),
    );
    out.insert(
        "compare_configurations".into(),
        json!(MAX_COMPARE_CONFIGURATIONS),
    );
    out.insert(
        "request_body_bytes".into(),
        json!(http_glue::body::MAX_BODY_BYTES),
    );
    out.insert(
        "gpu_memory_gib".into(),
        json!(http_glue::memory::MAX_GPU_MEMORY_GIB),
    );
    out.insert(planner::MAX_GPUS.field.into(), json!(planner::MAX_GPUS.max));
    out.insert(
        planner::CONCURRENT_SEQUENCES.field.into(),
        json!(planner::CONCURRENT_SEQUENCES.max),
    );
    out.insert("plan_list_entries".into(), json!(planner::MAX_LISTED));
    Value::Object(out)
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
        "logits": Logits::ALL.iter().map(|l| l.name()).collect::<Vec<_>>(),
        "gradient_checkpointing": ["none", "full"],
        "zero_stages": [0, 1, 2, 3],
        "frameworks": Framework::names(),
        "fsdp_sharding": FsdpSharding::names(),
        "offload": Offload::names(),
        "losses": Loss::names(),
        "optimizer_implementations": OptimizerImplementation::names(),
        "units": Unit::ALL.iter().map(|u| u.name()).collect::<Vec<_>>(),
        "engines": http_glue::memory::ENGINES,
        "defaults": defaults(),
        "plan_defaults": plan_defaults(),
        "limits": limits_json(),
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
        // DeepSpeed: 2 (bf16 weight) + 2 (bf16 gradient) + 4 (fp32 gradient) + 4
        // (master) + 8; autocast: 4 (fp32 weight) + 2 (its bf16 copy) + 4 + 8.
        let per_param = &adamw["bytes_per_trainable_parameter_mixed_precision"];
        assert_eq!(per_param["deepspeed"], 20.0);
        assert_eq!(per_param["transformers"], 18.0);
        assert_eq!(per_param["fsdp"], 16.0);
        let workspace = &adamw["step_workspace_bytes_per_trainable_parameter"];
        assert_eq!(
            workspace,
            &json!({"fused": 0.0, "foreach": 4.0, "forloop": null})
        );
        assert_eq!(
            body["frameworks"],
            json!(["transformers", "deepspeed", "fsdp"])
        );
        assert_eq!(body["optimizers"].as_array().unwrap().len(), 7);
        assert_eq!(
            body["available_models"].as_array().unwrap().len(),
            calculator::registry::all().len()
        );
        assert_eq!(body["sft_or_peft"]["peft"], json!(["lora", "qlora"]));
        assert_eq!(body["units"], json!(["GB", "GiB", "MB", "MiB"]));
    }
}
