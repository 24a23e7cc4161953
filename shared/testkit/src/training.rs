//! The training runs the accounting tests derive by hand: Llama-3.1-8B and
//! Llama-3.1-70B under a request edited from one baseline each.

use crate::models::registry_model;
use calculator::{estimate_training, Model, TrainingEstimate, TrainingRequest};

/// Llama-3.1-8B's parameters (Ψ in the ZeRO paper's notation): 8,030,261,248.
pub const PSI: u64 = 8_030_261_248;

/// Llama-3.1-70B: 70,553,706,496 parameters.
pub const PSI_70B: u64 = 70_553_706_496;

/// Llama-3.1-70B's largest layer, the embedding: 128,256 × 8,192 parameters.
pub const LAYER_70B: u64 = 128_256 * 8_192;

/// Llama-3.1-8B from the registry.
pub fn llama_8b() -> &'static Model {
    registry_model("Llama-3.1-8B")
}

/// Llama-3.1-8B trained on one GPU, one sequence of 1,024 tokens, every other field
/// at its default until `edit` changes it.
pub fn train_8b(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
    let mut req = TrainingRequest::new(1, 1024);
    edit(&mut req);
    estimate_training(llama_8b(), &req).unwrap()
}

/// Llama-3.1-70B trained over 8 GPUs with gradient checkpointing, one sequence of
/// 4,096 tokens per GPU, until `edit` changes it.
pub fn train_70b(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
    let mut req = TrainingRequest::new(1, 4096);
    req.num_gpus = 8;
    req.gradient_checkpointing = true;
    edit(&mut req);
    let model = registry_model("Llama-3.1-70B");
    assert_eq!(model.params.total, PSI_70B as u128);
    estimate_training(model, &req).unwrap()
}
