//! Training memory per GPU: weights, gradients, optimizer state, activations and
//! runtime overhead, for full fine-tuning, freezing, LoRA and QLoRA, with ZeRO
//! sharding. Derivations and sources: `docs/methodology.md` §7.
//!
//! - `vocabulary`: methods, LoRA targets, optimizers (names and parsing);
//! - `trainable`: which parameters a method trains;
//! - `targets`: which linear modules LoRA adapts (by kind, PEFT's default, or names);
//! - `optimizer`: gradients, master weights, optimizer state and step temporaries;
//! - `framework`: where each framework keeps them (DDP, DeepSpeed ZeRO, FSDP, offload);
//! - `activations`: what one micro-batch keeps for backward;
//! - `checks`: what a request may ask;
//! - `estimate`: the per-GPU total;
//! - `request`: the request and the estimate, as types.

mod activations;
mod checks;
mod estimate;
mod framework;
mod optimizer;
mod request;
mod targets;
mod trainable;
mod vocabulary;

pub use checks::check_training;
pub use estimate::estimate_training;
pub use optimizer::GradientLayout;
pub use request::{
    PhaseMemory, StepPhase, TrainingDetails, TrainingEstimate, TrainingRequest, DEFAULT_LOSS_CHUNKS,
};
pub use vocabulary::{
    DeepspeedSettings, Framework, FsdpSharding, LoraTarget, Loss, Method, Offload, Optimizer,
    OptimizerImplementation, DEEPSPEED_BUCKET_ELEMENTS, DEEPSPEED_SUB_GROUP_ELEMENTS,
    DEFAULT_GPUS_PER_NODE,
};
