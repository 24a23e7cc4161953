//! `GET /api/config/options`: every accepted value, with the facts behind it. The
//! defaults and limits come from the field table.

use std::collections::BTreeMap;

use calculator::limits::{self, MAX_BODY_BYTES, MAX_COMPARE_CONFIGURATIONS, MAX_LISTED};
use calculator::{
    Choice, EngineKind, Framework, FsdpSharding, GradientLayout, Logits, LoraTarget, Loss, Method,
    Offload, Optimizer, OptimizerImplementation, Precision, Quantization, RegistryEntry, Unit,
    CUDA_CONTEXT_BYTES,
};
use lambda_http::{Body, Error, Request, Response};
use planner::HOURS_PER_MONTH;
use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{ok, respond, Route};
use crate::request::fields::{
    fields_of, Endpoint, Kind, CHECKPOINTING_NAMES, ENGINE, FIELDS, PLAN_FIELDS,
};

/// `GET /api/config/options`.
pub const ROUTE: Route = Route::new("GET", "/api/config/options", "config-options");

/// A number format.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct DataType {
    name: &'static str,
    bytes_per_value: f64,
    quantized: bool,
}

/// A named quantized format and the precisions it comes in.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct QuantizationFormat {
    name: &'static str,
    precisions: Vec<&'static str>,
}

/// What an optimizer keeps, per trainable parameter, in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct OptimizerFacts {
    name: &'static str,
    state_bytes_per_trainable_parameter: Option<f64>,
    bytes_per_trainable_parameter_mixed_precision: BTreeMap<&'static str, Option<f64>>,
    step_workspace_bytes_per_trainable_parameter: BTreeMap<&'static str, Option<f64>>,
    note: &'static str,
}

/// A training method.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct MethodFacts {
    name: &'static str,
    description: &'static str,
}

/// Which methods are supervised fine-tuning and which parameter-efficient.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct SftOrPeft {
    sft: [&'static str; 2],
    peft: [&'static str; 2],
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Options {
    data_types: Vec<DataType>,
    quantization_formats: Vec<QuantizationFormat>,
    optimizers: Vec<OptimizerFacts>,
    training_methods: Vec<MethodFacts>,
    sft_or_peft: SftOrPeft,
    lora_targets: Vec<&'static str>,
    logits: Vec<&'static str>,
    gradient_checkpointing: [&'static str; 2],
    zero_stages: Vec<u64>,
    frameworks: Vec<&'static str>,
    fsdp_sharding: Vec<&'static str>,
    offload: Vec<&'static str>,
    losses: Vec<&'static str>,
    optimizer_implementations: Vec<&'static str>,
    units: Vec<&'static str>,
    engines: Vec<&'static str>,
    /// Every memory field's default, from the field table.
    pub defaults: BTreeMap<&'static str, Value>,
    /// The plan's own defaults, from the field table.
    pub plan_defaults: BTreeMap<&'static str, Value>,
    /// Every limit.
    pub limits: BTreeMap<&'static str, Value>,
    available_models: Vec<&'static str>,
}

fn optimizer_note(o: Optimizer) -> &'static str {
    match o {
        Optimizer::Adafactor => "factored second moment: 4 bytes x (rows + columns) per matrix, about 0.01 bytes per parameter for LLM weights",
        Optimizer::QuantizedAdamW => "two 8-bit moments with an fp32 scale per 256 values (bitsandbytes)",
        Optimizer::SgdNoMomentum => "no state",
        Optimizer::Sgd | Optimizer::Lion => "one fp32 momentum buffer",
        Optimizer::AdamW | Optimizer::Adam => "fp32 first and second moments",
    }
}

fn optimizer_facts(o: Optimizer) -> OptimizerFacts {
    // Mixed precision, per trainable parameter, as the accounting charges it:
    // DeepSpeed a 16-bit weight, 16-bit and fp32 gradients, an fp32 master and the
    // states; torch autocast (transformers) and FSDP an fp32 weight that is its own
    // master, an fp32 gradient and the states (autocast adds its 16-bit copy).
    let mixed = GradientLayout::new(Precision::Bfloat16, true);
    let states = o.state_bytes_per_param(mixed.fp32_states);
    let deepspeed = (2 + mixed.grad_16bit + mixed.grad_fp32 + mixed.master) as f64;
    let fp32_params = (mixed.master + mixed.grad_fp32) as f64;
    OptimizerFacts {
        name: o.name(),
        state_bytes_per_trainable_parameter: states,
        bytes_per_trainable_parameter_mixed_precision: BTreeMap::from([
            (
                Framework::Transformers.name(),
                states.map(|s| s + fp32_params + mixed.grad_16bit as f64),
            ),
            (Framework::Deepspeed.name(), states.map(|s| s + deepspeed)),
            (Framework::Fsdp.name(), states.map(|s| s + fp32_params)),
        ]),
        step_workspace_bytes_per_trainable_parameter: OptimizerImplementation::ALL
            .iter()
            .map(|&i| {
                (
                    i.name(),
                    o.step_workspace_bytes_per_param(i, mixed.fp32_states),
                )
            })
            .collect(),
        note: optimizer_note(o),
    }
}

fn method_description(m: Method) -> &'static str {
    match m {
        Method::Full => "every weight trained (or trainable_parameters percent of them)",
        Method::Lora => "rank-r adapters on a frozen 16-bit base",
        Method::Qlora => "rank-r adapters on a frozen 4-bit NF4 base (double-quantized constants)",
        Method::Freeze => "the last 2 layers trained (or trainable_parameters percent of the weights), the rest frozen",
    }
}

/// Every memory field with a default (given or described), and the CUDA context.
fn defaults() -> BTreeMap<&'static str, Value> {
    let mut out: BTreeMap<&'static str, Value> = fields_of(Endpoint::Inference)
        .into_iter()
        .chain(fields_of(Endpoint::Training))
        .filter(|f| !f.default.json().is_null())
        .map(|f| (f.name, f.default.json()))
        .collect();
    out.insert("runtime_overhead_bytes", json!(CUDA_CONTEXT_BYTES));
    out
}

/// The plan's own fields' defaults (`null` where there is none), the engine a plan
/// defaults to, and the month its prices are for.
fn plan_defaults() -> BTreeMap<&'static str, Value> {
    let mut out: BTreeMap<&'static str, Value> = PLAN_FIELDS
        .iter()
        .map(|f| (f.name, f.plan_default.unwrap_or(f.default).json()))
        .collect();
    if let Some(engine) = ENGINE.plan_default {
        out.insert(ENGINE.name, engine.json());
    }
    out.insert("hours_per_month", json!(HOURS_PER_MONTH));
    out
}

/// Every limit: each integer field's largest value, and the limits of requests.
fn limits_json() -> BTreeMap<&'static str, Value> {
    let mut out: BTreeMap<&'static str, Value> = FIELDS
        .iter()
        .filter_map(|f| match f.kind {
            Kind::Integer(r) if f.on(Endpoint::Inference) || f.on(Endpoint::Training) => {
                Some((f.name, json!(r.max)))
            }
            _ => None,
        })
        .collect();
    out.insert(
        "model_size_billions",
        json!(limits::MAX_MODEL_SIZE_BILLIONS),
    );
    out.insert("compare_configurations", json!(MAX_COMPARE_CONFIGURATIONS));
    out.insert("request_body_bytes", json!(MAX_BODY_BYTES));
    out.insert("gpu_memory_gib", json!(limits::MAX_GPU_MEMORY_GIB));
    out.insert(
        limits::PLAN_MAX_GPUS.field,
        json!(limits::PLAN_MAX_GPUS.max),
    );
    out.insert(
        limits::CONCURRENT_SEQUENCES.field,
        json!(limits::CONCURRENT_SEQUENCES.max),
    );
    out.insert("plan_list_entries", json!(MAX_LISTED));
    out
}

/// The answer.
pub fn options() -> Options {
    Options {
        data_types: Precision::ALL
            .iter()
            .map(|p| DataType {
                name: p.name(),
                bytes_per_value: p.bits() as f64 / 8.0,
                quantized: p.is_quantized(),
            })
            .collect(),
        quantization_formats: Quantization::ALL
            .iter()
            .map(|q| QuantizationFormat {
                name: q.name(),
                precisions: q.precisions().iter().map(|p| p.name()).collect(),
            })
            .collect(),
        optimizers: Optimizer::ALL.iter().map(|&o| optimizer_facts(o)).collect(),
        training_methods: Method::ALL
            .iter()
            .map(|&m| MethodFacts {
                name: m.name(),
                description: method_description(m),
            })
            .collect(),
        sft_or_peft: SftOrPeft {
            sft: [Method::Full.name(), Method::Freeze.name()],
            peft: [Method::Lora.name(), Method::Qlora.name()],
        },
        lora_targets: LoraTarget::names(),
        logits: Logits::names(),
        gradient_checkpointing: CHECKPOINTING_NAMES,
        zero_stages: (limits::ZERO_STAGE.min..=limits::ZERO_STAGE.max).collect(),
        frameworks: Framework::names(),
        fsdp_sharding: FsdpSharding::names(),
        offload: Offload::names(),
        losses: Loss::names(),
        optimizer_implementations: OptimizerImplementation::names(),
        units: Unit::names(),
        engines: EngineKind::names(),
        defaults: defaults(),
        plan_defaults: plan_defaults(),
        limits: limits_json(),
        available_models: RegistryEntry::all()
            .iter()
            .map(|e| e.name.as_str())
            .collect(),
    }
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| Ok(ok(&options()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{event, status_and_json};

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
            RegistryEntry::all().len()
        );
        assert_eq!(body["sft_or_peft"]["peft"], json!(["lora", "qlora"]));
        assert_eq!(body["units"], json!(["GB", "GiB", "MB", "MiB"]));
    }
}
