//! The memory endpoints' answers: every input as resolved, each component as a string
//! in the requested unit and as exact bytes, and the warnings.

use calculator::checkpoint::ModuleScope;
use calculator::{
    Bytes, InferenceEstimate, InferenceRequest, Quantization, TrainingEstimate, TrainingRequest,
    Unit,
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

/// The response of one calculation: components as strings in `unit` and as bytes.
fn result_json(
    calc: Calculation,
    r: &Resolved,
    parameters: Map<String, Value>,
    parts: &[(&str, Bytes)],
    unit: Unit,
    warnings: &[String],
) -> Value {
    let mut strings = Map::new();
    let mut bytes = Map::new();
    let warnings: Vec<&String> = r.notes.iter().chain(warnings).collect();
    for (name, b) in parts {
        strings.insert((*name).into(), json!(b.format(unit)));
        bytes.insert((*name).into(), json!(b.0));
    }
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
        ("num_gpus".into(), json!(req.num_gpus)),
        ("unit".into(), json!(unit.name())),
    ]);
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
    result
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
        ("zero_stage".into(), json!(req.zero_stage)),
        ("unit".into(), json!(unit.name())),
    ]);
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
        "loss_buffers_bytes": d.loss_buffers.0,
        "layers_with_activations": d.layers_with_activations,
    });
    result["per_gpu"] = json!(true);
    result
}
