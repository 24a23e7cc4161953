//! GPU memory model for LLM inference and training.
//!
//! Pure: no I/O, no clock, no environment. Give it a [`Model`] (from the embedded
//! registry, a Hugging Face `config.json`, or explicit fields) and a request, and it
//! returns every memory component in bytes.
//!
//! ```
//! use calculator::{estimate_inference, InferenceRequest, RegistryEntry};
//! let model = &RegistryEntry::lookup("Qwen3-8B").unwrap().model;
//! let mut req = InferenceRequest::new(1, 4096);
//! req.max_new_tokens = 512;
//! let est = estimate_inference(model, &req).unwrap();
//! assert!(est.model_weights.0 > 16_000_000_000);
//! ```
//!
//! The modules are private; everything callers use is in the list below, one path
//! per item. [`limits`] stays a public namespace: it is a table of constants. The
//! derivation of every formula, with sources, is in `docs/methodology.md`; the module
//! map is in `docs/architecture.md`.

pub mod json;
pub mod limits;

mod architecture;
mod checkpoint;
mod choice;
mod config;
mod error;
mod families;
mod fit;
mod forward;
mod inference;
mod keys;
mod kv_cache;
mod linear;
mod model;
mod modules;
mod names;
mod numbers;
mod parameters;
mod pipeline;
mod precision;
mod published;
mod registry;
mod runtime;
mod suggest;
mod training;
mod units;
mod vllm;
mod warning;
mod weights;

pub use architecture::{Architecture, Indexer, MixerKind, Mla, Moe, StateMixer};
pub use checkpoint::{Checkpoint, ModuleScope};
pub use choice::Choice;
pub use config::{parse_config, ParsedConfig};
pub use error::CalcError;
pub use families::{Family, FAMILIES};
pub use fit::{max_batch_size, max_sequence_length, max_sequence_length_vllm, Workload};
pub use inference::{
    check_inference, estimate_inference, Engine, EngineKind, InferenceEstimate, InferenceRequest,
    Logits,
};
pub use kv_cache::{cache_rates, CacheBytes, CacheRates};
pub use limits::RangeError;
pub use linear::{LinearKind, Projection};
pub use model::{ExplicitModel, Model, UNSTATED_DTYPE};
pub use names::{resolve_name, Resolution};
pub use numbers::as_integer;
pub use parameters::ParameterCounts;
pub use precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
pub use published::Published;
pub use registry::RegistryEntry;
pub use runtime::{CUDA_CONTEXT_BYTES, QUANTIZED_COMPUTE_DTYPE};
pub use suggest::{clip, closest_name};
pub use training::{
    check_training, estimate_training, DeepspeedSettings, Framework, FsdpSharding, GradientLayout,
    LoraTarget, Loss, Method, Offload, Optimizer, OptimizerImplementation, PhaseMemory, StepPhase,
    TrainingDetails, TrainingEstimate, TrainingRequest, DEEPSPEED_BUCKET_ELEMENTS,
    DEEPSPEED_SUB_GROUP_ELEMENTS, DEFAULT_GPUS_PER_NODE, DEFAULT_LOSS_CHUNKS,
};
pub use units::{counted, Bytes, Unit};
pub use vllm::{
    refused_split, serve_batch_defaults, BlockTable, VllmCapacity, VllmSettings, VllmVersion,
    BLOCK_SIZE, DEFAULT_GPU_MEMORY_UTILIZATION, DEFAULT_VLLM_VERSION, KERNEL_REFUSAL,
    MLA_BLOCK_SIZE,
};
pub use warning::{Warning, WarningCode};
pub use weights::routed_expert_bytes;
