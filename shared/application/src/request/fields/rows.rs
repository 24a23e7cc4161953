//! The rows of the field table: one constant per request field, and the lists of
//! them in documented order. Data: each row states the field's endpoints, type and
//! range or choices, default and doc; `mod.rs` says what the columns mean.

use calculator::limits::{self, FieldRange, CONCURRENT_SEQUENCES, PLAN_MAX_GPUS};
use calculator::{
    serve_batch_defaults, Bytes, Choice, EngineKind, Framework, FsdpSharding, InferenceRequest,
    Logits, LoraTarget, Loss, Method, Offload, Optimizer, OptimizerImplementation, Precision,
    TrainingRequest, Unit, VllmSettings, VllmVersion, DEEPSPEED_BUCKET_ELEMENTS,
    DEEPSPEED_SUB_GROUP_ELEMENTS, DEFAULT_GPUS_PER_NODE, DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_GROUP_SIZE, DEFAULT_LOSS_CHUNKS, DEFAULT_VLLM_VERSION, QUANTIZED_COMPUTE_DTYPE,
    UNSTATED_DTYPE,
};
use serde_json::json;

use super::types::{Default, Endpoint, Field, Kind, Role};
use crate::request::calculation::Calculation;

use Endpoint::{Compare, Inference, Performance, Plan, Training};

const MEMORY: &[Endpoint] = &[Inference, Training, Plan];
const INFERENCE: &[Endpoint] = &[Inference, Plan];
const TRAINING: &[Endpoint] = &[Training, Plan];
const INFERENCE_ONLY: &[Endpoint] = &[Inference];
const MODEL_AND_SERVING: &[Endpoint] = &[Inference, Training, Plan, Performance];
const SERVING: &[Endpoint] = &[Inference, Plan, Performance];
const GPU_NAMED: &[Endpoint] = &[Inference, Performance];
const GPUS_OF_A_REPLICA: &[Endpoint] = &[Inference, Training, Performance];
const TRAFFIC: &[Endpoint] = &[Performance, Plan];
const PERFORMANCE_ONLY: &[Endpoint] = &[Performance];
const PLAN: &[Endpoint] = &[Plan];
const COMPARE: &[Endpoint] = &[Compare];
const EVERYWHERE: &[Endpoint] = &[Inference, Training, Plan, Compare];

const TO_INFERENCE: Option<&str> = Some("/api/memory/inference");
const TO_TRAINING: Option<&str> = Some("/api/memory/training");
const TO_INFERENCE_AND_PLAN: Option<&str> = Some("/api/memory/inference and /api/plan");
const TO_VLLM: Option<&str> =
    Some("/api/memory/inference (engine vllm), /api/plan and /api/performance");
const TO_PERFORMANCE: Option<&str> = Some("/api/performance");
const TO_TRAFFIC: Option<&str> = Some("/api/performance and inference plans (/api/plan)");

/// A row with no default override and no plan refusal.
const fn row(
    name: &'static str,
    on: &'static [Endpoint],
    role: Role,
    kind: Kind,
    default: Default,
    doc: &'static str,
    belongs: Option<&'static str>,
) -> Field {
    Field {
        name,
        on,
        role,
        kind,
        default,
        plan_default: None,
        doc,
        belongs,
        set_by_plan: None,
    }
}

/// An explicit architecture field.
const fn explicit(name: &'static str, range: FieldRange, doc: &'static str) -> Field {
    row(
        name,
        MODEL_AND_SERVING,
        Role::Explicit,
        Kind::Integer(range),
        Default::Absent,
        doc,
        None,
    )
}

/// A training workload field.
const fn training(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Field {
    row(
        name,
        TRAINING,
        Role::Workload,
        kind,
        default,
        doc,
        TO_TRAINING,
    )
}

/// An inference workload field.
const fn inference(
    name: &'static str,
    kind: Kind,
    default: Default,
    doc: &'static str,
    belongs: Option<&'static str>,
) -> Field {
    row(name, INFERENCE, Role::Workload, kind, default, doc, belongs)
}

/// A serving field: taken by the inference endpoints, plans and `/api/performance`.
const fn serving(
    name: &'static str,
    kind: Kind,
    default: Default,
    doc: &'static str,
    belongs: Option<&'static str>,
) -> Field {
    row(name, SERVING, Role::Workload, kind, default, doc, belongs)
}

/// A traffic field of `/api/performance` and inference plans.
const fn traffic(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Field {
    row(
        name,
        TRAFFIC,
        Role::Workload,
        kind,
        default,
        doc,
        TO_TRAFFIC,
    )
}

fn names<T: Choice>() -> Vec<&'static str> {
    T::names()
}

fn quantizations() -> Vec<&'static str> {
    let mut names = calculator::Quantization::names();
    names.push(NO_QUANTIZATION);
    names
}

fn calculations() -> Vec<&'static str> {
    Calculation::names()
}

/// `quantization`'s value for no named format.
pub const NO_QUANTIZATION: &str = "none";

/// `gradient_checkpointing`'s names besides `true` and `false` (the old service's).
pub const CHECKPOINTING_NAMES: [&str; 2] = ["none", "full"];

fn inference_defaults() -> InferenceRequest {
    InferenceRequest::new(1, 1)
}

fn training_defaults() -> TrainingRequest {
    TrainingRequest::new(1, 1)
}

/// vLLM's default batch as a sentence: `field` 0 is tokens per step, 1 sequences.
fn batch_default(field: usize) -> String {
    let pick = |(tokens, seqs, _): (u64, u64, &str)| [tokens, seqs][field];
    let large = pick(serve_batch_defaults(Bytes(u64::MAX), None));
    let small = pick(serve_batch_defaults(Bytes(0), None));
    format!("{large} on GPUs with 70 GiB or more (A100s excepted), else {small} (vllm serve's defaults)")
}

/// `model_name`.
pub const MODEL_NAME: Field = row(
    "model_name",
    MODEL_AND_SERVING,
    Role::Model,
    Kind::Text,
    Default::Absent,
    "A registry name or Hugging Face repo id (variants and quantized checkpoints too).",
    None,
);
/// `revision`.
pub const REVISION: Field = row(
    "revision",
    MODEL_AND_SERVING,
    Role::Model,
    Kind::Text,
    Default::Value(|| json!(hub::DEFAULT_REVISION)),
    "The branch, tag or commit of a model_name read from the Hugging Face Hub.",
    None,
);
/// `config`.
pub const CONFIG: Field = row(
    "config",
    MODEL_AND_SERVING,
    Role::Model,
    Kind::Object,
    Default::Absent,
    "A Hugging Face config.json object.",
    None,
);
/// `model_size`.
pub const MODEL_SIZE: Field = row(
    "model_size",
    MODEL_AND_SERVING,
    Role::Model,
    Kind::Number(limits::MODEL_SIZE),
    Default::Absent,
    "Parameters, in billions: the count the weights are computed from.",
    None,
);
/// `hidden_size`.
pub const HIDDEN_SIZE: Field = explicit(
    "hidden_size",
    limits::HIDDEN_SIZE,
    "Residual width (explicit model).",
);
/// `num_hidden_layers`.
pub const NUM_HIDDEN_LAYERS: Field = explicit(
    "num_hidden_layers",
    limits::NUM_HIDDEN_LAYERS,
    "Decoder layers (explicit model).",
);
/// `num_attention_heads`.
pub const NUM_ATTENTION_HEADS: Field = explicit(
    "num_attention_heads",
    limits::NUM_ATTENTION_HEADS,
    "Query heads (explicit model).",
);
/// `num_key_value_heads`.
pub const NUM_KEY_VALUE_HEADS: Field = explicit(
    "num_key_value_heads",
    limits::NUM_KEY_VALUE_HEADS,
    "Key/value heads (explicit model; default: the query heads).",
);
/// `head_dim`.
pub const HEAD_DIM: Field = explicit(
    "head_dim",
    limits::HEAD_DIM,
    "Head dimension (explicit model; default: hidden / heads).",
);
/// `intermediate_size`.
pub const INTERMEDIATE_SIZE: Field = explicit(
    "intermediate_size",
    limits::INTERMEDIATE_SIZE,
    "MLP width (explicit model; default: solved from model_size, else 4 x hidden).",
);
/// `vocab_size`.
pub const VOCAB_SIZE: Field = explicit(
    "vocab_size",
    limits::VOCAB_SIZE,
    "Vocabulary (explicit model; default 32000).",
);

/// `precision`.
pub const PRECISION: Field = row(
    "precision",
    MODEL_AND_SERVING,
    Role::Workload,
    Kind::Choice(names::<Precision>),
    Default::Described(|| {
        format!("the published checkpoint's format when it is quantized, else the model's torch_dtype ({} when it has none)", UNSTATED_DTYPE.name())
    }),
    "Weight precision (inference) or compute precision (training).",
    None,
);
/// `quantization`.
pub const QUANTIZATION: Field = serving(
    "quantization",
    Kind::Choice(quantizations),
    Default::Absent,
    "A named storage layout of quantized weights.",
    Some("/api/memory/inference (training supports a 4-bit base through method qlora)"),
);
/// `group_size`.
pub const GROUP_SIZE: Field = serving(
    "group_size",
    Kind::Integer(limits::GROUP_SIZE),
    Default::Value(|| json!(DEFAULT_GROUP_SIZE)),
    "Values per scale of group-wise int4/int8 formats.",
    TO_INFERENCE,
);
/// `kv_cache_precision`.
pub const KV_CACHE_PRECISION: Field = serving(
    "kv_cache_precision",
    Kind::Choice(names::<Precision>),
    Default::Described(|| {
        format!(
            "the compute dtype ({} for quantized weights)",
            QUANTIZED_COMPUTE_DTYPE.name()
        )
    }),
    "Precision of the KV cache.",
    TO_INFERENCE,
);
/// `mixed_precision`.
pub const MIXED_PRECISION: Field = training(
    "mixed_precision",
    Kind::Boolean,
    Default::Value(|| json!(training_defaults().mixed_precision)),
    "fp32 master weights and optimizer state beside 16-bit compute.",
);
/// `method`.
pub const METHOD: Field = training(
    "method",
    Kind::Choice(names::<Method>),
    Default::Value(|| json!(training_defaults().method.name())),
    "Fine-tuning method.",
);
/// `trainable_parameters`.
pub const TRAINABLE_PARAMETERS: Field = training(
    "trainable_parameters",
    Kind::Fraction(limits::TRAINABLE_PARAMETERS),
    Default::Value(|| json!(limits::MAX_TRAINABLE_PERCENT)),
    "Percent of the weights trained (full and freeze).",
);
/// `lora_rank`.
pub const LORA_RANK: Field = training(
    "lora_rank",
    Kind::Integer(limits::LORA_RANK),
    Default::Value(|| json!(training_defaults().lora_rank)),
    "LoRA rank.",
);
/// `lora_target`.
pub const LORA_TARGET: Field = training(
    "lora_target",
    Kind::Choice(names::<LoraTarget>),
    Default::Value(|| json!(training_defaults().lora_target.name())),
    "The linear layers LoRA adapts: a name, or a list of module names as PEFT's target_modules takes them.",
);
/// `lora_dropout`.
pub const LORA_DROPOUT: Field = training(
    "lora_dropout",
    Kind::Number(limits::LORA_DROPOUT),
    Default::Value(|| json!(training_defaults().lora_dropout)),
    "LoRA dropout probability (lora and qlora).",
);
/// `optimizer`.
pub const OPTIMIZER: Field = training(
    "optimizer",
    Kind::Choice(names::<Optimizer>),
    Default::Value(|| json!(training_defaults().optimizer.name())),
    "Optimizer (Hugging Face optim names too).",
);
/// `optimizer_implementation`.
pub const OPTIMIZER_IMPLEMENTATION: Field = training(
    "optimizer_implementation",
    Kind::Choice(names::<OptimizerImplementation>),
    Default::Value(|| json!(OptimizerImplementation::DEFAULT.name())),
    "How PyTorch runs Adam and AdamW.",
);
/// `gradient_accumulation_steps`.
pub const GRADIENT_ACCUMULATION_STEPS: Field = training(
    "gradient_accumulation_steps",
    Kind::Integer(limits::GRADIENT_ACCUMULATION_STEPS),
    Default::Value(|| json!(training_defaults().gradient_accumulation_steps)),
    "Micro-batches per optimizer step: above 1 the gradients stay allocated through each forward pass.",
);
/// `gradient_checkpointing`.
pub const GRADIENT_CHECKPOINTING: Field = training(
    "gradient_checkpointing",
    Kind::BooleanOr(&CHECKPOINTING_NAMES),
    Default::Value(|| {
        json!(if training_defaults().gradient_checkpointing {
            "full"
        } else {
            "none"
        })
    }),
    "Recompute each layer in backward instead of storing its activations.",
);
/// `batch_size`.
pub const BATCH_SIZE: Field = row(
    "batch_size",
    MEMORY,
    Role::Workload,
    Kind::Integer(limits::BATCH_SIZE),
    Default::Required("required"),
    "Sequences served together (inference) or the micro-batch per GPU (training).",
    None,
);
/// `sequence_length`.
pub const SEQUENCE_LENGTH: Field = row(
    "sequence_length",
    MEMORY,
    Role::Workload,
    Kind::Integer(limits::SEQUENCE_LENGTH),
    Default::Required("required"),
    "Prompt tokens (inference) or tokens (training) per sequence.",
    None,
);
/// `max_new_tokens`.
pub const MAX_NEW_TOKENS: Field = inference(
    "max_new_tokens",
    Kind::Integer(limits::MAX_NEW_TOKENS_RANGE),
    Default::Value(|| json!(inference_defaults().max_new_tokens)),
    "Tokens generated per sequence.",
    TO_INFERENCE,
);
/// `logits`.
pub const LOGITS: Field = inference(
    "logits",
    Kind::Choice(names::<Logits>),
    Default::Value(|| json!(inference_defaults().logits.name())),
    "Which positions' logits the prompt's forward pass computes.",
    TO_INFERENCE,
);
/// `use_flash_attention`.
pub const USE_FLASH_ATTENTION: Field = row(
    "use_flash_attention",
    MEMORY,
    Role::Workload,
    Kind::Boolean,
    Default::Value(|| json!(inference_defaults().use_flash_attention)),
    "Flash attention (no materialised score matrix).",
    None,
);
/// `load_mtp`.
pub const LOAD_MTP: Field = serving(
    "load_mtp",
    Kind::Boolean,
    Default::Value(|| json!(inference_defaults().load_mtp)),
    "Load the checkpoint's multi-token-prediction layers.",
    TO_INFERENCE_AND_PLAN,
);
/// `loss`.
pub const LOSS: Field = training(
    "loss",
    Kind::Choice(names::<Loss>),
    Default::Value(|| json!(training_defaults().loss.name())),
    "How the cross-entropy loss is computed.",
);
/// `loss_chunks`.
pub const LOSS_CHUNKS: Field = training(
    "loss_chunks",
    Kind::Integer(limits::LOSS_CHUNKS),
    Default::Value(|| json!(DEFAULT_LOSS_CHUNKS)),
    "Chunks of the chunked loss.",
);
/// `hold_logits`.
pub const HOLD_LOGITS: Field = training(
    "hold_logits",
    Kind::Boolean,
    Default::Value(|| json!(training_defaults().hold_logits)),
    "The training loop holds the model's output (its logits) through backward.",
);
/// `num_gpus`.
pub const NUM_GPUS: Field = Field {
    set_by_plan: Some("a plan chooses the GPUs per candidate; limit them with max_gpus"),
    ..row(
        "num_gpus",
        GPUS_OF_A_REPLICA,
        Role::Workload,
        Kind::Integer(limits::NUM_GPUS),
        Default::Value(|| json!(inference_defaults().num_gpus)),
        "Tensor-parallel (inference) or data-parallel (training) GPUs.",
        None,
    )
};
/// `engine`.
pub const ENGINE: Field = Field {
    plan_default: Some(Default::Value(|| json!(EngineKind::Vllm.name()))),
    ..inference(
        "engine",
        Kind::Choice(names::<EngineKind>),
        Default::Value(|| json!(inference_defaults().engine.name())),
        "The serving engine.",
        TO_INFERENCE_AND_PLAN,
    )
};
/// `gpu`.
pub const GPU: Field = Field {
    set_by_plan: Some("a plan tries every catalog GPU; name the ones to consider in gpus"),
    ..row(
        "gpu",
        GPU_NAMED,
        Role::Workload,
        Kind::Text,
        Default::Required("required with `vllm` (or `gpu_memory_gib`)"),
        "The GPU vLLM starts on, by catalog name.",
        Some("/api/memory/inference (engine vllm)"),
    )
};
/// `gpu_memory_gib`.
pub const GPU_MEMORY_GIB: Field = Field {
    set_by_plan: Some("a plan tries every catalog GPU; add your own in custom_gpus"),
    ..row(
        "gpu_memory_gib",
        INFERENCE_ONLY,
        Role::Workload,
        Kind::Number(limits::GPU_MEMORY_GIB),
        Default::Required("required with `vllm` (or `gpu`)"),
        "The GPU's total memory as its driver reports it, in GiB.",
        Some("/api/memory/inference (engine vllm)"),
    )
};
/// `mode` (a plan's).
pub const MODE: Field = row(
    "mode",
    PLAN,
    Role::Plan,
    Kind::Choice(calculations),
    Default::Required("required"),
    "The workload's kind: inference or training.",
    None,
);
/// `gpus` (a plan's).
pub const GPUS: Field = row(
    "gpus",
    PLAN,
    Role::Plan,
    Kind::List,
    Default::Described(|| "every CUDA GPU an instance carries".into()),
    "GPU names to consider, from /api/gpus or custom_gpus.",
    None,
);
/// `instance_types` (a plan's).
pub const INSTANCE_TYPES: Field = row(
    "instance_types",
    PLAN,
    Role::Plan,
    Kind::List,
    Default::Described(|| "all".into()),
    "Instance types to consider.",
    None,
);
/// `max_gpus` (a plan's).
pub const MAX_GPUS: Field = row(
    "max_gpus",
    PLAN,
    Role::Plan,
    Kind::Integer(PLAN_MAX_GPUS),
    Default::Absent,
    "Most GPUs per candidate.",
    None,
);
/// `search` (a training plan's).
pub const SEARCH: Field = row(
    "search",
    PLAN,
    Role::Plan,
    Kind::Boolean,
    Default::Value(|| json!(false)),
    "Training plans: each candidate takes the first DeepSpeed setting that fits, in order of step time (ZeRO 0-3, then activation checkpointing, then optimizer and parameter offload).",
    None,
);
/// `gpu_memory_utilization`.
pub const GPU_MEMORY_UTILIZATION: Field = Field {
    plan_default: Some(Default::Described(|| {
        format!(
            "vLLM's default under vllm_version for inference with engine vllm ({} from 0.21, {} before), else {DEFAULT_GPU_MEMORY_UTILIZATION}",
            VllmVersion::From021.default_gpu_memory_utilization(),
            VllmVersion::Upto020.default_gpu_memory_utilization(),
        )
    })),
    ..serving(
        "gpu_memory_utilization",
        Kind::Fraction(limits::GPU_MEMORY_UTILIZATION),
        Default::Described(|| {
            format!(
                "vLLM's default under vllm_version: {} from 0.21, {} before",
                VllmVersion::From021.default_gpu_memory_utilization(),
                VllmVersion::Upto020.default_gpu_memory_utilization(),
            )
        }),
        "The share of each GPU the workload may use (vLLM's).",
        TO_VLLM,
    )
};
/// `concurrent_sequences` (a plan's).
pub const CONCURRENT_SEQUENCES_FIELD: Field = row(
    "concurrent_sequences",
    PLAN,
    Role::Plan,
    Kind::Integer(CONCURRENT_SEQUENCES),
    Default::Absent,
    "Requests the whole candidate must hold at once (inference).",
    None,
);
/// `custom_gpus` (a plan's).
pub const CUSTOM_GPUS: Field = row(
    "custom_gpus",
    PLAN,
    Role::Plan,
    Kind::List,
    Default::Described(|| "none".into()),
    "GPUs of your own: name, memory_gib, usd_per_hour, bandwidth_gbps.",
    None,
);
/// `prices` (a plan's).
pub const PRICES: Field = row(
    "prices",
    PLAN,
    Role::Plan,
    Kind::Object,
    Default::Described(|| "the catalog's".into()),
    "USD per hour by instance type, replacing the catalog's.",
    None,
);
/// `max_num_batched_tokens`.
pub const MAX_NUM_BATCHED_TOKENS: Field = serving(
    "max_num_batched_tokens",
    Kind::Integer(limits::MAX_NUM_BATCHED_TOKENS),
    Default::Described(|| batch_default(0)),
    "Tokens per vLLM scheduler step.",
    TO_VLLM,
);
/// `max_num_seqs`.
pub const MAX_NUM_SEQS: Field = serving(
    "max_num_seqs",
    Kind::Integer(limits::MAX_NUM_SEQS),
    Default::Described(|| batch_default(1)),
    "Sequences per vLLM scheduler step.",
    TO_VLLM,
);
/// `enforce_eager`.
pub const ENFORCE_EAGER: Field = serving(
    "enforce_eager",
    Kind::Boolean,
    Default::Value(|| json!(VllmSettings::new(Bytes(0)).enforce_eager)),
    "No CUDA graphs.",
    TO_VLLM,
);
/// `vllm_version`.
pub const VLLM_VERSION: Field = serving(
    "vllm_version",
    Kind::Choice(names::<VllmVersion>),
    Default::Value(|| json!(DEFAULT_VLLM_VERSION.name())),
    "The vLLM releases whose start-up budget to follow (a release number such as 0.19.0 is read as its range).",
    TO_VLLM,
);
/// `input_tokens`.
pub const INPUT_TOKENS: Field = traffic(
    "input_tokens",
    Kind::Integer(limits::INPUT_TOKENS),
    Default::Required("required (/api/performance; plans: with output_tokens)"),
    "Mean prompt tokens of a request.",
);
/// `output_tokens`.
pub const OUTPUT_TOKENS: Field = traffic(
    "output_tokens",
    Kind::Integer(limits::OUTPUT_TOKENS),
    Default::Required("required (/api/performance; plans: with input_tokens)"),
    "Mean output tokens of a request.",
);
/// `concurrency`.
pub const CONCURRENCY: Field = traffic(
    "concurrency",
    Kind::Integer(limits::CONCURRENCY),
    Default::Absent,
    "Clients each waiting for their answer before the next request (give this or requests_per_second).",
);
/// `requests_per_second`.
pub const REQUESTS_PER_SECOND: Field = traffic(
    "requests_per_second",
    Kind::Fraction(limits::REQUESTS_PER_SECOND),
    Default::Absent,
    "Requests arriving at random, this many a second on average (or give concurrency).",
);
/// `ttft_ms`.
pub const TTFT_MS: Field = row(
    "ttft_ms",
    PLAN,
    Role::Plan,
    Kind::Fraction(limits::TTFT_MS),
    Default::Absent,
    "Target median time to first token, ms (inference plans with a traffic).",
    None,
);
/// `tpot_ms`.
pub const TPOT_MS: Field = row(
    "tpot_ms",
    PLAN,
    Role::Plan,
    Kind::Fraction(limits::TPOT_MS),
    Default::Absent,
    "Target median time per output token, ms (inference plans with a traffic).",
    None,
);
/// `expert_parallel`.
pub const EXPERT_PARALLEL: Field = serving(
    "expert_parallel",
    Kind::Boolean,
    Default::Value(|| json!(VllmSettings::new(Bytes(0)).expert_parallel)),
    "Spread whole routed experts over a replica's GPUs (vLLM's --enable-expert-parallel), MoE models.",
    TO_VLLM,
);
/// `pipeline_parallel_size`.
pub const PIPELINE_PARALLEL_SIZE: Field = Field {
    set_by_plan: Some("a plan chooses the split per candidate; pipeline stages are its nodes"),
    ..row(
        "pipeline_parallel_size",
        INFERENCE_ONLY,
        Role::Workload,
        Kind::Integer(limits::PIPELINE_PARALLEL_SIZE),
        Default::Value(|| json!(VllmSettings::new(Bytes(0)).pipeline_parallel_size)),
        "vLLM pipeline stages (--pipeline-parallel-size), each over num_gpus GPUs, typically one a node; the answer is per GPU of the stage that holds the fewest KV blocks.",
        TO_INFERENCE,
    )
};
/// `data_parallel_size`.
pub const DATA_PARALLEL_SIZE: Field = Field {
    set_by_plan: Some("a plan chooses the split per candidate; its replicas are the data-parallel ranks"),
    ..row(
        "data_parallel_size",
        INFERENCE_ONLY,
        Role::Workload,
        Kind::Integer(limits::DATA_PARALLEL_SIZE),
        Default::Value(|| json!(VllmSettings::new(Bytes(0)).data_parallel_size)),
        "vLLM engine ranks (--data-parallel-size), each over num_gpus GPUs; with expert_parallel they share the experts.",
        TO_INFERENCE,
    )
};
/// `instance`.
pub const INSTANCE: Field = row(
    "instance",
    PERFORMANCE_ONLY,
    Role::Workload,
    Kind::Text,
    Default::Absent,
    "A catalog instance type: its GPU, GPU link and price (instead of gpu).",
    TO_PERFORMANCE,
);
/// `usd_per_gpu_hour`.
pub const USD_PER_GPU_HOUR: Field = row(
    "usd_per_gpu_hour",
    PERFORMANCE_ONLY,
    Role::Workload,
    Kind::Number(limits::USD_PER_GPU_HOUR),
    Default::Absent,
    "Price of one GPU for an hour, USD (default: the instance's price over its GPUs).",
    TO_PERFORMANCE,
);
/// `framework`.
pub const FRAMEWORK: Field = training(
    "framework",
    Kind::Choice(names::<Framework>),
    Default::Described(|| {
        format!("{}; {} when zero_stage is above 0 or a DeepSpeed setting is given, {} when fsdp_sharding is", Framework::Transformers.name(), Framework::Deepspeed.name(), Framework::Fsdp.name())
    }),
    "The software that runs the training loop.",
);
/// `zero_stage`.
pub const ZERO_STAGE: Field = training(
    "zero_stage",
    Kind::Integer(limits::ZERO_STAGE),
    Default::Value(|| json!(training_defaults().zero_stage)),
    "DeepSpeed's ZeRO stage.",
);
/// `fsdp_sharding`.
pub const FSDP_SHARDING: Field = training(
    "fsdp_sharding",
    Kind::Choice(names::<FsdpSharding>),
    Default::Value(|| json!(FsdpSharding::DEFAULT.name())),
    "FSDP's sharding strategy.",
);
/// `gpus_per_node`.
pub const GPUS_PER_NODE: Field = training(
    "gpus_per_node",
    Kind::Integer(limits::GPUS_PER_NODE),
    Default::Value(|| json!(DEFAULT_GPUS_PER_NODE)),
    "GPUs of one node: the hybrid-shard group, the host figure's node.",
);
/// `offload_optimizer`.
pub const OFFLOAD_OPTIMIZER: Field = training(
    "offload_optimizer",
    Kind::Choice(names::<Offload>),
    Default::Value(|| json!(training_defaults().offload_optimizer.name())),
    "Where the optimizer state lives.",
);
/// `offload_parameters`.
pub const OFFLOAD_PARAMETERS: Field = training(
    "offload_parameters",
    Kind::Choice(names::<Offload>),
    Default::Value(|| json!(training_defaults().offload_parameters.name())),
    "Where the weights live between uses.",
);
/// `reduce_bucket_size`.
pub const REDUCE_BUCKET_SIZE: Field = training(
    "reduce_bucket_size",
    Kind::Integer(limits::REDUCE_BUCKET_SIZE),
    Default::Value(|| json!(DEEPSPEED_BUCKET_ELEMENTS)),
    "DeepSpeed's gradient bucket, in elements.",
);
/// `overlap_comm`.
pub const OVERLAP_COMM: Field = training(
    "overlap_comm",
    Kind::Boolean,
    Default::Described(|| "true at zero_stage 3, else false (DeepSpeed's)".into()),
    "DeepSpeed's overlapping of communication and backward.",
);
/// `sub_group_size`.
pub const SUB_GROUP_SIZE: Field = training(
    "sub_group_size",
    Kind::Integer(limits::SUB_GROUP_SIZE),
    Default::Value(|| json!(DEEPSPEED_SUB_GROUP_ELEMENTS)),
    "DeepSpeed's optimizer sub-group at stage 3, in elements.",
);
/// `calculation_type` (a compare's).
pub const CALCULATION_TYPE: Field = row(
    "calculation_type",
    COMPARE,
    Role::Compare,
    Kind::Choice(calculations),
    Default::Required("required"),
    "inference or training, for every configuration.",
    Some("/api/memory/compare"),
);
/// `configurations` (a compare's).
pub const CONFIGURATIONS: Field = row(
    "configurations",
    COMPARE,
    Role::Compare,
    Kind::List,
    Default::Required("required"),
    "The requests compared, each as its memory endpoint takes it.",
    None,
);
/// `unit`.
pub const UNIT: Field = row(
    "unit",
    EVERYWHERE,
    Role::Workload,
    Kind::Choice(names::<Unit>),
    Default::Value(|| json!(Unit::default().name())),
    "The unit of the answer's strings (bytes are always exact).",
    None,
);

/// Every request field, in the order the API documents them.
pub const FIELDS: [&Field; 71] = [
    &MODEL_NAME,
    &REVISION,
    &CONFIG,
    &MODEL_SIZE,
    &HIDDEN_SIZE,
    &NUM_HIDDEN_LAYERS,
    &NUM_ATTENTION_HEADS,
    &NUM_KEY_VALUE_HEADS,
    &HEAD_DIM,
    &INTERMEDIATE_SIZE,
    &VOCAB_SIZE,
    &PRECISION,
    &QUANTIZATION,
    &GROUP_SIZE,
    &KV_CACHE_PRECISION,
    &MIXED_PRECISION,
    &METHOD,
    &TRAINABLE_PARAMETERS,
    &LORA_RANK,
    &LORA_TARGET,
    &LORA_DROPOUT,
    &OPTIMIZER,
    &OPTIMIZER_IMPLEMENTATION,
    &GRADIENT_CHECKPOINTING,
    &GRADIENT_ACCUMULATION_STEPS,
    &BATCH_SIZE,
    &SEQUENCE_LENGTH,
    &MAX_NEW_TOKENS,
    &LOGITS,
    &USE_FLASH_ATTENTION,
    &LOAD_MTP,
    &LOSS,
    &LOSS_CHUNKS,
    &HOLD_LOGITS,
    &NUM_GPUS,
    &ENGINE,
    &GPU,
    &GPU_MEMORY_GIB,
    &MODE,
    &GPUS,
    &INSTANCE_TYPES,
    &MAX_GPUS,
    &SEARCH,
    &GPU_MEMORY_UTILIZATION,
    &CONCURRENT_SEQUENCES_FIELD,
    &CUSTOM_GPUS,
    &PRICES,
    &MAX_NUM_BATCHED_TOKENS,
    &MAX_NUM_SEQS,
    &ENFORCE_EAGER,
    &VLLM_VERSION,
    &INPUT_TOKENS,
    &OUTPUT_TOKENS,
    &CONCURRENCY,
    &REQUESTS_PER_SECOND,
    &TTFT_MS,
    &TPOT_MS,
    &EXPERT_PARALLEL,
    &DATA_PARALLEL_SIZE,
    &PIPELINE_PARALLEL_SIZE,
    &INSTANCE,
    &USD_PER_GPU_HOUR,
    &FRAMEWORK,
    &ZERO_STAGE,
    &FSDP_SHARDING,
    &GPUS_PER_NODE,
    &OFFLOAD_OPTIMIZER,
    &OFFLOAD_PARAMETERS,
    &REDUCE_BUCKET_SIZE,
    &OVERLAP_COMM,
    &SUB_GROUP_SIZE,
];

/// The compare's own fields and `unit`, in order.
pub const COMPARE_FIELDS: [&Field; 3] = [&CALCULATION_TYPE, &CONFIGURATIONS, &UNIT];

/// A plan's own fields, in order (`gpu_memory_utilization` is an inference field too;
/// the traffic fields are `/api/performance`'s too).
pub const PLAN_FIELDS: [&Field; 16] = [
    &MODE,
    &GPUS,
    &INSTANCE_TYPES,
    &MAX_GPUS,
    &SEARCH,
    &GPU_MEMORY_UTILIZATION,
    &CONCURRENT_SEQUENCES_FIELD,
    &CUSTOM_GPUS,
    &PRICES,
    &INPUT_TOKENS,
    &OUTPUT_TOKENS,
    &CONCURRENCY,
    &REQUESTS_PER_SECOND,
    &TTFT_MS,
    &TPOT_MS,
    &EXPERT_PARALLEL,
];
