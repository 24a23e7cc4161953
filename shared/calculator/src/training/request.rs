//! A training request and its estimate, as the calculator's types.

use super::vocabulary::{
    DeepspeedSettings, Framework, FsdpSharding, LoraTarget, Loss, Method, Offload, Optimizer,
    OptimizerImplementation,
};
use crate::choice::choice;
use crate::precision::{Precision, WeightFormat};
use crate::units::Bytes;
use crate::warning::Warning;

/// A training request, after parsing.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingRequest {
    /// Compute dtype (float32, float16, bfloat16); `None` uses the model's.
    pub precision: Option<Precision>,
    /// 16-bit compute with fp32 master weights, fp32 gradients for the optimizer and
    /// fp32 optimizer state (`true`), or everything in the 16-bit dtype (`false`).
    pub mixed_precision: bool,
    /// Fine-tuning method.
    pub method: Method,
    /// Percent (0-100] of weights trained, for `full` and `freeze`.
    pub trainable_percent: Option<f64>,
    /// LoRA rank.
    pub lora_rank: u64,
    /// LoRA target modules, by kind (or PEFT's default for the model).
    pub lora_target: LoraTarget,
    /// LoRA target modules by name, as PEFT's `target_modules` list takes them
    /// (`q_proj`, `c_attn`, ...); when not empty it replaces `lora_target`.
    pub lora_modules: Vec<String>,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Recompute each layer in backward instead of storing its activations.
    pub gradient_checkpointing: bool,
    /// Micro-batch per GPU, in sequences.
    pub batch_size: u64,
    /// Tokens per sequence.
    pub sequence_length: u64,
    /// Flash attention (no materialised score matrix).
    pub use_flash_attention: bool,
    /// Data-parallel GPUs.
    pub num_gpus: u64,
    /// DeepSpeed's ZeRO stage 0-3.
    pub zero_stage: u8,
    /// Training framework; `None`: DeepSpeed when `zero_stage` > 0 or a DeepSpeed
    /// setting is given, FSDP when `fsdp_sharding` is, else transformers.
    pub framework: Option<Framework>,
    /// FSDP's sharding strategy; `None`: [`FsdpSharding::DEFAULT`] (FSDP only).
    pub fsdp_sharding: Option<FsdpSharding>,
    /// GPUs per node: the hybrid-shard group and the host memory's node; `None`:
    /// [`super::DEFAULT_GPUS_PER_NODE`] (at most `num_gpus`).
    pub gpus_per_node: Option<u64>,
    /// Adam/AdamW implementation; `None`: [`OptimizerImplementation::DEFAULT`].
    pub optimizer_implementation: Option<OptimizerImplementation>,
    /// Where the optimizer state lives.
    pub offload_optimizer: Offload,
    /// Where the weights live between uses (DeepSpeed ZeRO-3, FSDP).
    pub offload_parameters: Offload,
    /// How the loss is computed.
    pub loss: Loss,
    /// Chunks of the chunked loss; `None`: [`DEFAULT_LOSS_CHUNKS`].
    pub loss_chunks: Option<u64>,
    /// The training loop holds the model's output (its logits, in the compute dtype)
    /// through backward, as `outputs = model(**batch); outputs.loss.backward()` does;
    /// the Trainer's `compute_loss` returns the loss alone, so they are freed first.
    pub hold_logits: bool,
    /// LoRA dropout probability, `0 <= p <= 1`.
    pub lora_dropout: f64,
    /// DeepSpeed's bucket settings; `None`: DeepSpeed's defaults.
    pub deepspeed: Option<DeepspeedSettings>,
    /// Micro-batches whose gradients add up before each optimizer step: above 1 the
    /// gradients stay allocated through the next micro-batch's forward pass.
    pub gradient_accumulation_steps: u64,
}

/// Chunks of the chunked loss by default: torchtune's `num_output_chunks` (8).
pub const DEFAULT_LOSS_CHUNKS: u64 = 8;

impl TrainingRequest {
    /// A request with every optional field at its default.
    pub fn new(batch_size: u64, sequence_length: u64) -> TrainingRequest {
        TrainingRequest {
            precision: None,
            mixed_precision: true,
            method: Method::Full,
            trainable_percent: None,
            lora_rank: 8,
            lora_target: LoraTarget::AllLinear,
            lora_modules: Vec::new(),
            optimizer: Optimizer::AdamW,
            gradient_checkpointing: false,
            batch_size,
            sequence_length,
            use_flash_attention: true,
            num_gpus: 1,
            zero_stage: 0,
            framework: None,
            fsdp_sharding: None,
            gpus_per_node: None,
            optimizer_implementation: None,
            offload_optimizer: Offload::None,
            offload_parameters: Offload::None,
            loss: Loss::Standard,
            loss_chunks: None,
            hold_logits: false,
            lora_dropout: 0.0,
            deepspeed: None,
            gradient_accumulation_steps: 1,
        }
    }
}

choice!(
    /// A moment of one training step (`docs/methodology.md` §7.6). Gradients are freed
    /// after each optimizer step (`zero_grad(set_to_none=True)`), so what one GPU holds
    /// differs from moment to moment; the answer's total is the largest.
    StepPhase {
        /// The end of the forward pass: every saved activation and the loss buffers;
        /// the gradients only when they accumulate over micro-batches.
        Forward => "forward",
        /// The start of backward: the activations still held, with the first
        /// gradients backward makes, the output layer's.
        Backward => "backward",
        /// The end of backward: every gradient; the activations freed layer by layer.
        BackwardEnd => "backward_end",
        /// The optimizer step: gradients, optimizer state and the step's temporaries.
        OptimizerStep => "optimizer_step",
    }
);

/// What one GPU holds at one moment of the step, per component, in bytes; `total`
/// is their sum (the runtime overhead is apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseMemory {
    /// The moment.
    pub phase: StepPhase,
    /// Weights in their storage, with adapters, gathered layers and autocast copies.
    pub weights: Bytes,
    /// Gradients alive then, with the framework's communication buffers.
    pub gradients: Bytes,
    /// Master weights and optimizer state, with the step's temporaries at the step.
    pub optimizer: Bytes,
    /// Activations kept for backward and the loss buffers, while held.
    pub activations: Bytes,
    /// The sum of the four.
    pub total: Bytes,
}

/// Parts of the estimate that explain the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TrainingDetails {
    /// Parameters that receive gradients (weights, or LoRA adapters).
    pub trainable_parameters: u64,
    /// fp32 master copy of the trainable weights (mixed precision), per GPU.
    pub master_weights: Bytes,
    /// Optimizer moments, per GPU.
    pub optimizer_states: Bytes,
    /// Temporaries of the optimizer step (PyTorch's multi-tensor implementations), per
    /// GPU; held at the optimizer step, after the activations are freed.
    pub optimizer_step_workspace: Bytes,
    /// The framework's communication buffers per GPU: those kept from step to step
    /// (inside every phase's gradients) and ZeRO 1-2's, which exist during backward.
    pub communication_buffers: Bytes,
    /// torch autocast's 16-bit copies of the trained weights per GPU (inside
    /// `model_weights`).
    pub autocast_weight_copies: Bytes,
    /// Logits and cross-entropy buffers at the loss, per GPU (inside activations).
    pub loss_buffers: Bytes,
    /// Layers whose activations are kept for backward.
    pub layers_with_activations: u64,
}

/// Training memory per GPU with the inputs as resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingEstimate {
    /// The framework, as resolved.
    pub framework: Framework,
    /// The Adam/AdamW implementation, as resolved.
    pub optimizer_implementation: OptimizerImplementation,
    /// FSDP's sharding strategy as resolved (framework fsdp only).
    pub fsdp_sharding: Option<FsdpSharding>,
    /// Compute dtype.
    pub precision: Precision,
    /// Whether mixed precision applies (false for float32 compute).
    pub mixed_precision: bool,
    /// Storage of the frozen 4-bit base (QLoRA only).
    pub base_format: Option<WeightFormat>,
    /// Percent of the model's parameters that train: the request's
    /// `trainable_parameters` where given, the adapters' share for LoRA and QLoRA.
    pub trainable_percent: f64,
    /// Weights held by one GPU at the peak: the model in its storage format plus
    /// adapters.
    pub model_weights: Bytes,
    /// Gradients (with communication buffers) one GPU holds at the peak.
    pub gradients_memory: Bytes,
    /// Master weights and optimizer state one GPU holds at the peak, with the step's
    /// temporaries when the peak is the optimizer step.
    pub optimizer_memory: Bytes,
    /// Activations and loss buffers one GPU holds at the peak (0 when the peak falls
    /// after backward; the `forward` phase holds them all).
    pub activation_memory: Bytes,
    /// CUDA context and library state.
    pub runtime_overhead: Bytes,
    /// The peak one GPU must hold: the largest phase of the step (`peak_phase`) plus
    /// the runtime overhead; the four components above are that phase's.
    pub training_memory: Bytes,
    /// The moment of the step where the peak falls.
    pub peak_phase: StepPhase,
    /// Every moment of the step, in order, each with its components.
    pub phases: [PhaseMemory; 4],
    /// Host memory that offloaded state takes on one node (its GPUs together), with
    /// the pinned buffers; 0 without offload.
    pub host_memory_per_node: Bytes,
    /// NVMe bytes offloaded state takes on one node; 0 without NVMe offload.
    pub nvme_per_node: Bytes,
    /// Explanation of the totals.
    pub details: TrainingDetails,
    /// Assumptions and notes.
    pub warnings: Vec<Warning>,
}

impl TrainingEstimate {
    /// What one GPU holds at `phase` of the step.
    pub fn phase(&self, phase: StepPhase) -> &PhaseMemory {
        // The phases are in step order, the variants' order.
        &self.phases[phase as usize]
    }
}
