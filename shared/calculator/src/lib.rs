//! GPU memory model for LLM inference and training.
//!
//! Pure: no I/O, no clock, no environment. Give it a [`Model`] (from the embedded
//! [`registry`], a Hugging Face `config.json`, or explicit fields) and a request, and
//! it returns every memory component in bytes.
//!
//! ```
//! use calculator::{registry, estimate_inference, InferenceRequest};
//! let model = &registry::lookup("Qwen3-8B").unwrap().model;
//! let mut req = InferenceRequest::new(1, 4096);
//! req.max_new_tokens = 512;
//! let est = estimate_inference(model, &req).unwrap();
//! assert!(est.model_weights.0 > 16_000_000_000);
//! ```
//!
//! The derivation of every formula, with sources, is in `docs/methodology.md`.

pub mod architecture;
pub mod checkpoint;
pub mod choice;
pub mod config;
pub mod error;
pub mod families;
pub mod fit;
pub mod inference;
pub mod kv_cache;
pub mod limits;
pub mod model;
pub mod names;
pub mod numbers;
pub mod parameters;
pub mod precision;
pub mod registry;
pub mod runtime;
pub mod suggest;
pub mod training;
pub mod units;
pub mod vllm;
pub mod weights;

pub use architecture::Architecture;
pub use choice::Choice;
pub use error::CalcError;
pub use families::Family;
pub use fit::{max_batch_size, max_sequence_length, max_sequence_length_vllm, Workload};
pub use inference::{estimate_inference, Engine, InferenceEstimate, InferenceRequest, Logits};
pub use model::{ExplicitModel, Model, UNSTATED_DTYPE};
pub use parameters::ParameterCounts;
pub use precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
pub use runtime::CUDA_CONTEXT_BYTES;
pub use training::{
    estimate_training, DeepspeedSettings, Framework, FsdpSharding, LoraTarget, Loss, Method,
    Offload, Optimizer, OptimizerImplementation, TrainingDetails, TrainingEstimate,
    TrainingRequest,
};
pub use units::{Bytes, Unit};
pub use vllm::{VllmCapacity, VllmSettings};
