//! The memory endpoints' answers: every input as resolved, each component as a string
//! in the requested unit and as exact bytes, and the warnings.

use calculator::checkpoint::ModuleScope;
use calculator::kv_cache::CacheBytes;
use calculator::{
    Bytes, Choice, Engine, InferenceEstimate, InferenceRequest, Quantization, TrainingEstimate,
    TrainingRequest, Unit, VllmCapacity, VllmSettings,
};
use serde_json::{json, Map, Value};

use super::parse::Resolved;
use super::Calculation;
use crate::models::{architecture_json, parameters_json};

fn model_json(r: &Resolved) -> Value {
    json!({
        "name": r.model.name,
        "source": r.source,
        "parameters": parameters_json(&r.model.params),
        "architecture": architecture_json(&r.model),
    })
}

/// Named byte counts as strings in `unit` and as exact bytes.
fn in_unit(parts: &[(&str, Bytes)], unit: Unit) -> (Map<String, Value>, Map<String, Value>) {
    let strings = parts
        .iter()
        .map(|(name, b)| ((*name).into(), json!(b.format(unit))))
        .collect();
    let bytes = parts
        .iter()
        .map(|(name, b)| ((*name).into(), json!(b.0)))
        .collect();
    (strings, bytes)
}

/// The response of one calculation: components as strings in `unit` and as bytes.
fn result_json(
    calc: Calculation,
    r: &Resolved,
    parameters: Map<String, Value>,
    parts: &[(&str, Bytes)],
    unit: Unit,
    warnings: &[String],
) -> Value {
    let (strings, bytes) = in_unit(parts, unit);
    let warnings: Vec<&String> = r.notes.iter().chain(warnings).collect();
    json!({
        "calculation_type": calc.name(),
        "model": model_json(r),
        "parameters": parameters,
        "memory_requirements": strings,
        "memory_bytes": bytes,
        "warnings": warnings,
    })
}

/// The layout, and the linear weights the checkpoint keeps in 16-bit.
fn storage_description(layout: String, unquantized: &[ModuleScope]) -> String {
    if unquantized.is_empty() {
        return layout;
    }
    let kept: Vec<String> = unquantized
        .iter()
        .map(|s| {
            let kind = format!("{:?}", s.kind).to_ascii_lowercase();
            match s.layer {
                Some(l) => format!("{kind} of layer {l}"),
                None => kind,
            }
        })
        .collect();
    format!(
        "{layout}; the checkpoint keeps these linear weights in 16-bit: {}",
        kept.join(", ")
    )
}

/// The inference answer.
pub(crate) fn inference_json(
    r: &Resolved,
    req: &InferenceRequest,
    e: &InferenceEstimate,
    unit: Unit,
) -> Value {
    let fmt = e.weight_format;
    let mut parameters = r.echo.clone();
    parameters.extend([
        ("precision".into(), json!(fmt.precision.name())),
        (
            "quantization".into(),
            json!(fmt.quantization.map(Quantization::name)),
        ),
        (
            "group_size".into(),
            json!(fmt.uses_group_size().then_some(fmt.group_size)),
        ),
        (
            "weight_storage".into(),
            json!(storage_description(fmt.describe(), &e.unquantized_modules)),
        ),
        (
            "kv_cache_precision".into(),
            json!(e.kv_cache_precision.name()),
        ),
        ("batch_size".into(), json!(req.batch_size)),
        ("sequence_length".into(), json!(req.sequence_length)),
        ("max_new_tokens".into(), json!(req.max_new_tokens)),
        ("logits".into(), json!(req.logits.name())),
        ("use_flash_attention".into(), json!(req.use_flash_attention)),
        ("load_mtp".into(), json!(req.load_mtp)),
        ("num_gpus".into(), json!(req.num_gpus)),
        ("engine".into(), json!(req.engine.name())),
    ]);
    if let Engine::Vllm(settings) = &req.engine {
        parameters.extend(vllm_parameters(settings, e.vllm.as_ref()));
    }
    parameters.insert("unit".into(), json!(unit.name()));
    let mut result = result_json(
        Calculation::Inference,
        r,
        parameters,
        &[
            ("model_weights", e.model_weights),
            ("kv_cache", e.kv_cache),
            ("activation_memory", e.activation_memory),
            ("runtime_overhead", e.runtime_overhead),
            ("inference_memory", e.inference_memory),
        ],
        unit,
        &e.warnings,
    );
    result["per_gpu"] = json!(req.num_gpus > 1);
    result["kv_cache_by_kind"] = cache_by_kind_json(&e.cache_by_kind, unit);
    if let Some(v) = &e.vllm {
        result["vllm"] = vllm_json(v, unit);
    }
    result
}

/// The cache by what keeps it: attention keys and values and the indexer's keys grow
/// with every token, the mixers' state is fixed per sequence.
fn cache_by_kind_json(c: &CacheBytes, unit: Unit) -> Value {
    // Each part is at most the whole, which the estimate already checked fits a u64.
    let part = |b: u128| Bytes(b as u64);
    let (strings, bytes) = in_unit(
        &[
            ("attention_kv", part(c.attention)),
            ("indexer_keys", part(c.indexer)),
            ("fixed_state", part(c.state)),
        ],
        unit,
    );
    json!({"memory": strings, "memory_bytes": bytes})
}

/// The vLLM settings as used: the GPU's memory, the share of it, and the scheduler's
/// limits (defaults filled in).
fn vllm_parameters(s: &VllmSettings, c: Option<&VllmCapacity>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("gpu".into(), json!(s.gpu_name));
    out.insert(
        "gpu_memory_gib".into(),
        json!(s.gpu_memory.0 as f64 / (1u64 << 30) as f64),
    );
    out.insert(
        "gpu_memory_utilization".into(),
        json!(s.gpu_memory_utilization),
    );
    if let Some(c) = c {
        out.insert(
            "max_num_batched_tokens".into(),
            json!(c.max_num_batched_tokens),
        );
        out.insert("max_num_seqs".into(), json!(c.max_num_seqs));
    }
    out.insert("enforce_eager".into(), json!(s.enforce_eager));
    out
}

/// What vLLM reports at start-up, per GPU: the budget and what it leaves for the KV
/// cache, the cache in blocks and tokens, and how many requests it holds.
pub(crate) fn vllm_json(c: &VllmCapacity, unit: Unit) -> Value {
    let parts = [
        ("requested_memory", c.requested_memory),
        ("non_kv_memory", c.non_kv_memory),
        ("profile_peak", c.profile_peak),
        ("non_torch_memory", c.non_torch_memory),
        ("available_kv_cache_memory", c.available_kv_cache_memory),
        ("cuda_graph_memory", c.cuda_graph_memory),
        ("request_kv_cache", c.request_kv_bytes),
    ];
    let (strings, bytes) = in_unit(&parts, unit);
    json!({
        "starts": c.starts(),
        "refusal": c.refusal,
        "kv_cache_tokens": c.kv_cache_tokens,
        "num_blocks": c.num_blocks,
        "block_size": c.block_size,
        "max_model_len": c.max_model_len,
        "max_concurrency": (c.max_concurrency * 100.0).round() / 100.0,
        "max_sequences": c.max_sequences,
        "max_num_batched_tokens": c.max_num_batched_tokens,
        "max_num_seqs": c.max_num_seqs,
        "memory": strings,
        "memory_bytes": bytes,
    })
}

/// The training request as resolved, for the answer's `parameters`.
fn training_parameters(
    r: &Resolved,
    req: &TrainingRequest,
    e: &TrainingEstimate,
    unit: Unit,
) -> Map<String, Value> {
    let peft = req.method.is_peft();
    let mut parameters = r.echo.clone();
    parameters.extend([
        ("precision".into(), json!(e.precision.name())),
        ("mixed_precision".into(), json!(e.mixed_precision)),
        ("method".into(), json!(req.method.name())),
        ("trainable_parameters".into(), json!(e.trainable_percent)),
        ("lora_rank".into(), json!(peft.then_some(req.lora_rank))),
        (
            "lora_target".into(),
            json!(peft.then_some(req.lora_target.name())),
        ),
        ("optimizer".into(), json!(req.optimizer.name())),
        (
            "gradient_checkpointing".into(),
            json!(if req.gradient_checkpointing {
                "full"
            } else {
                "none"
            }),
        ),
        ("batch_size".into(), json!(req.batch_size)),
        ("sequence_length".into(), json!(req.sequence_length)),
        ("use_flash_attention".into(), json!(req.use_flash_attention)),
        ("num_gpus".into(), json!(req.num_gpus)),
        ("framework".into(), json!(e.framework.name())),
        ("zero_stage".into(), json!(req.zero_stage)),
        (
            "optimizer_implementation".into(),
            json!(e.optimizer_implementation.name()),
        ),
        ("loss".into(), json!(req.loss.name())),
        (
            "offload_optimizer".into(),
            json!(req.offload_optimizer.name()),
        ),
        (
            "offload_parameters".into(),
            json!(req.offload_parameters.name()),
        ),
        ("unit".into(), json!(unit.name())),
    ]);
    if peft {
        parameters.insert("lora_dropout".into(), json!(req.lora_dropout));
    }
    if let Some(sharding) = e.fsdp_sharding {
        parameters.insert("fsdp_sharding".into(), json!(sharding.name()));
    }
    if let Some(base) = e.base_format {
        parameters.insert("base_weight_storage".into(), json!(base.describe()));
    }
    parameters
}

/// The training answer.
pub(crate) fn training_json(
    r: &Resolved,
    req: &TrainingRequest,
    e: &TrainingEstimate,
    unit: Unit,
) -> Value {
    let mut result = result_json(
        Calculation::Training,
        r,
        training_parameters(r, req, e, unit),
        &[
            ("model_weights", e.model_weights),
            ("gradients_memory", e.gradients_memory),
            ("optimizer_memory", e.optimizer_memory),
            ("activation_memory", e.activation_memory),
            ("runtime_overhead", e.runtime_overhead),
            ("training_memory", e.training_memory),
        ],
        unit,
        &e.warnings,
    );
    let d = e.details;
    result["details"] = json!({
        "trainable_parameter_count": d.trainable_parameters,
        "master_weights_bytes": d.master_weights.0,
        "optimizer_states_bytes": d.optimizer_states.0,
        "optimizer_step_workspace_bytes": d.optimizer_step_workspace.0,
        "communication_buffers_bytes": d.communication_buffers.0,
        "autocast_weight_copies_bytes": d.autocast_weight_copies.0,
        "loss_buffers_bytes": d.loss_buffers.0,
        "layers_with_activations": d.layers_with_activations,
    });
    result["per_gpu"] = json!(true);
    result["offloaded"] = json!({
        "host_memory_per_node": e.host_memory_per_node.format(unit),
        "host_memory_per_node_bytes": e.host_memory_per_node.0,
        "nvme_per_node": e.nvme_per_node.format(unit),
        "nvme_per_node_bytes": e.nvme_per_node.0,
    });
    result
}
