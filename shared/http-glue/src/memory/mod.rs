//! The memory endpoints (`memory-inference`, `memory-training`, and `memory-compare`,
//! which evaluates many of either): which fields each accepts, and one evaluation from
//! request fields (`parse`) through the calculator to the answer (`respond`).

pub(crate) mod engine;
pub(crate) mod parse;
pub(crate) mod respond;

pub use engine::{ENGINES, MAX_GPU_MEMORY_GIB};
pub use parse::parse_unit;

use calculator::{estimate_inference, estimate_training, Bytes, Unit};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};

use crate::body::json_object;
use crate::fields::Fields;
use crate::response::ok;
use crate::ApiError;

/// Most configurations one `/api/memory/compare` request may hold.
pub const MAX_COMPARE_CONFIGURATIONS: usize = 50;

/// Which calculation a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calculation {
    /// `/api/memory/inference`
    Inference,
    /// `/api/memory/training`
    Training,
}

impl Calculation {
    /// Both, in the order the API lists them.
    pub const ALL: [Calculation; 2] = [Calculation::Inference, Calculation::Training];

    /// `inference` or `training`.
    pub fn name(self) -> &'static str {
        match self {
            Calculation::Inference => "inference",
            Calculation::Training => "training",
        }
    }

    /// Case-insensitive parse.
    pub fn parse(text: &str) -> Option<Calculation> {
        Calculation::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Every field the endpoint accepts: the model's, then the workload's.
    pub fn fields(self) -> Vec<&'static str> {
        let workload: &[&str] = match self {
            Calculation::Inference => &INFERENCE_WORKLOAD,
            Calculation::Training => &TRAINING_WORKLOAD,
        };
        MODEL_FIELDS.iter().chain(workload).copied().collect()
    }

    fn other_fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Calculation::Inference => &TRAINING_ONLY,
            Calculation::Training => &INFERENCE_ONLY,
        }
    }
}

/// Fields that name the model, on both endpoints: a registry name, a config object,
/// or explicit architecture values, and the `model_size` override.
pub const MODEL_FIELDS: [&str; 10] = [
    "model_name",
    "config",
    "model_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
];

/// The explicit architecture fields among [`MODEL_FIELDS`].
pub(crate) const EXPLICIT_FIELDS: &[&str] = MODEL_FIELDS.split_at(3).1;

/// The workload fields of `/api/memory/inference`, in the order the API documents them.
const INFERENCE_WORKLOAD: [&str; 19] = [
    "precision",
    "quantization",
    "group_size",
    "kv_cache_precision",
    "batch_size",
    "sequence_length",
    "max_new_tokens",
    "logits",
    "use_flash_attention",
    "load_mtp",
    "num_gpus",
    "engine",
    "gpu",
    "gpu_memory_gib",
    "gpu_memory_utilization",
    "max_num_batched_tokens",
    "max_num_seqs",
    "enforce_eager",
    "unit",
];

/// The workload fields of `/api/memory/training`, in the order the API documents them.
const TRAINING_WORKLOAD: [&str; 26] = [
    "precision",
    "mixed_precision",
    "method",
    "trainable_parameters",
    "lora_rank",
    "lora_target",
    "lora_dropout",
    "optimizer",
    "optimizer_implementation",
    "gradient_checkpointing",
    "batch_size",
    "sequence_length",
    "use_flash_attention",
    "loss",
    "loss_chunks",
    "num_gpus",
    "framework",
    "zero_stage",
    "fsdp_sharding",
    "gpus_per_node",
    "offload_optimizer",
    "offload_parameters",
    "reduce_bucket_size",
    "overlap_comm",
    "sub_group_size",
    "unit",
];

const TRAINING_ONLY: [(&str, &str); 21] = [
    ("mixed_precision", "/api/memory/training"),
    ("method", "/api/memory/training"),
    ("trainable_parameters", "/api/memory/training"),
    ("lora_rank", "/api/memory/training"),
    ("lora_target", "/api/memory/training"),
    ("lora_dropout", "/api/memory/training"),
    ("optimizer", "/api/memory/training"),
    ("optimizer_implementation", "/api/memory/training"),
    ("gradient_checkpointing", "/api/memory/training"),
    ("loss", "/api/memory/training"),
    ("loss_chunks", "/api/memory/training"),
    ("framework", "/api/memory/training"),
    ("zero_stage", "/api/memory/training"),
    ("fsdp_sharding", "/api/memory/training"),
    ("gpus_per_node", "/api/memory/training"),
    ("offload_optimizer", "/api/memory/training"),
    ("offload_parameters", "/api/memory/training"),
    ("reduce_bucket_size", "/api/memory/training"),
    ("overlap_comm", "/api/memory/training"),
    ("sub_group_size", "/api/memory/training"),
    ("calculation_type", "/api/memory/compare"),
];

const INFERENCE_ONLY: [(&str, &str); 14] = [
    (
        "quantization",
        "/api/memory/inference (training supports a 4-bit base through method qlora)",
    ),
    ("group_size", "/api/memory/inference"),
    ("kv_cache_precision", "/api/memory/inference"),
    ("max_new_tokens", "/api/memory/inference"),
    ("logits", "/api/memory/inference"),
    ("load_mtp", "/api/memory/inference and /api/plan"),
    ("engine", "/api/memory/inference and /api/plan"),
    ("gpu", "/api/memory/inference (engine vllm)"),
    ("gpu_memory_gib", "/api/memory/inference (engine vllm)"),
    (
        "gpu_memory_utilization",
        "/api/memory/inference (engine vllm) and /api/plan",
    ),
    (
        "max_num_batched_tokens",
        "/api/memory/inference (engine vllm) and /api/plan",
    ),
    (
        "max_num_seqs",
        "/api/memory/inference (engine vllm) and /api/plan",
    ),
    (
        "enforce_eager",
        "/api/memory/inference (engine vllm) and /api/plan",
    ),
    ("calculation_type", "/api/memory/compare"),
];

/// One evaluated request: the answer's JSON and its total per GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// `inference_memory` or `training_memory`, in bytes.
    pub total: Bytes,
    /// The answer, as the endpoint returns it.
    pub body: Value,
}

/// Evaluates one request object. `prefix` places field names in errors (`""` or
/// `configurations[3].`), `default_unit` applies when the object has no `unit`.
pub fn evaluate(
    calc: Calculation,
    map: &Map<String, Value>,
    prefix: &str,
    default_unit: Unit,
) -> Result<Evaluated, ApiError> {
    let f = Fields::new(map, prefix);
    f.reject_unknown(&calc.fields(), calc.other_fields())?;
    let resolved = parse::resolve_model(&f)?;
    let unit = parse_unit(&f, default_unit)?;
    let calc_error = |e| ApiError::from_calc(e, prefix, resolved.field());
    Ok(match calc {
        Calculation::Inference => {
            let req = parse::inference_request(&f, engine::Context::Memory)?;
            let e = estimate_inference(&resolved.model, &req).map_err(calc_error)?;
            Evaluated {
                total: e.inference_memory,
                body: respond::inference_json(&resolved, &req, &e, unit),
            }
        }
        Calculation::Training => {
            let req = parse::training_request(&f)?;
            let e = estimate_training(&resolved.model, &req).map_err(calc_error)?;
            Evaluated {
                total: e.training_memory,
                body: respond::training_json(&resolved, &req, &e, unit),
            }
        }
    })
}

/// The handler body of `memory-inference` and `memory-training`: the request body as a
/// JSON object, evaluated, answered in the default unit unless it names one.
pub fn answer(calc: Calculation, request: &Request) -> Result<Response<Body>, ApiError> {
    let fields = json_object(request)?;
    Ok(ok(&evaluate(calc, &fields, "", Unit::default())?.body))
}
