//! The parts of an architecture that vary by family: norms, latent attention, the
//! fixed-state mixers, the sparse-attention indexer and the experts.

use crate::choice::choice;

/// The normalisation layer and whether it carries a bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// RMSNorm: one weight vector.
    Rms,
    /// LayerNorm: weight, and bias when `true`.
    Layer {
        /// Whether the norm has a bias vector.
        bias: bool,
    },
}

impl Norm {
    /// Parameters of one norm over `width` features.
    pub fn params(self, width: u64) -> u128 {
        match self {
            Norm::Rms | Norm::Layer { bias: false } => width as u128,
            Norm::Layer { bias: true } => 2 * width as u128,
        }
    }
}

/// RMSNorm on queries and keys before the rotary embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QkNorm {
    /// None.
    None,
    /// Over each head, one `head_dim` weight for queries and one for keys (Qwen3,
    /// Gemma 3, GLM-4.5).
    PerHead,
    /// Over all heads together: weights of `num_heads x head_dim` for queries and
    /// `num_kv_heads x head_dim` for keys (MiniMax-M2's `qk_norm_type: per_layer`).
    AcrossHeads,
    /// Over each head without a weight (Llama 4's L2 norm, on its rotary layers only).
    Unweighted,
}

/// Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values go through
/// low-rank projections and only the compressed latent plus the rope key is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mla {
    /// Rank of the query compression, `None` for a plain query projection.
    pub q_lora_rank: Option<u64>,
    /// Rank of the key/value compression (the cached latent width).
    pub kv_lora_rank: u64,
    /// Per-head query/key dimensions without rotary embedding.
    pub qk_nope_head_dim: u64,
    /// Per-head query/key dimensions with rotary embedding (the key part is shared
    /// across heads and cached).
    pub qk_rope_head_dim: u64,
    /// Per-head value dimension.
    pub v_head_dim: u64,
    /// transformers' cache holds the decompressed per-head keys and values instead of
    /// the latent (Kimi-Linear's own modelling code does).
    pub expanded_cache: bool,
}

choice!(
    /// The kind of a [`StateMixer`]; the name is the one the API reports.
    MixerKind {
        /// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5).
        GatedDeltaNet => "gated_deltanet",
        /// Mamba-2 state-space layers.
        Mamba2 => "mamba2",
        /// Mamba (-1) selective state-space layers (Jamba): one state per channel.
        Mamba1 => "mamba",
        /// Kimi Delta Attention linear layers (Kimi-Linear).
        KimiDelta => "kimi_delta_attention",
    }
);

impl MixerKind {
    /// The kernel libraries transformers trains this mixer with when they are
    /// installed (the path the training activations follow).
    pub fn training_kernels(self) -> &'static str {
        match self {
            MixerKind::GatedDeltaNet | MixerKind::KimiDelta => {
                "flash-linear-attention and causal-conv1d"
            }
            MixerKind::Mamba2 | MixerKind::Mamba1 => "mamba_ssm and causal-conv1d",
        }
    }
}

/// A token mixer that keeps a fixed-size state per sequence instead of a per-token KV
/// cache: linear attention or a state-space layer. It replaces attention in the
/// decoder layers it sits in. Widths are in features, counts per layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateMixer {
    /// Which mixer.
    pub kind: MixerKind,
    /// Decoder layers whose token mixer this is.
    pub layers: u64,
    /// Heads of the recurrence (value heads, SSM heads): what tensor parallelism splits.
    pub heads: u64,
    /// Output width of the input projection(s), every stream they make together.
    pub in_proj: u64,
    /// Separate matrices the input projection is made of (each saves its own input
    /// copy where projections do not share one: Qwen3-Next's 2, Qwen3.5's 4, Kimi
    /// Delta Attention's 6, Mamba's 1).
    pub in_matrices: u64,
    /// Width of the mixer's low-rank inner bottleneck: Mamba-1's `dt_rank` (the step
    /// size's projection), Kimi Delta Attention's gate rank (`head_dim`); 0 for the
    /// others.
    pub low_rank: u64,
    /// transformers' Qwen3.5 code for Gated DeltaNet: q and k enter
    /// flash-linear-attention (0.5 and later) at their own head count, and the gated
    /// output norm is eager PyTorch. False for Qwen3-Next's code (q and k repeated to
    /// the value heads, fla's fused norm) and the other kinds.
    pub qwen3_5_code: bool,
    /// Input width of the output projection.
    pub out_proj: u64,
    /// Channels of the causal depthwise convolution.
    pub conv_channels: u64,
    /// Taps of that convolution.
    pub conv_kernel: u64,
    /// Parameters beyond the two projections: convolution weights (and bias), decay,
    /// step and skip vectors, the gated output norm.
    pub other_params: u128,
    /// Values of the recurrent state of one sequence (all heads).
    pub recurrent_state: u64,
    /// Tokens per chunk of the chunked-scan kernel, which materializes the state at
    /// every chunk boundary in a forward pass; `None` for a scan that keeps it in
    /// registers (Mamba-1's selective scan).
    pub scan_chunk: Option<u64>,
    /// Mamba-2's B/C groups, which vLLM replicates to shard them over more GPUs than
    /// there are groups; 0 for the other kinds.
    pub groups: u64,
    /// Convolution channels of one B/C group (`2 x d_state`); 0 for the other kinds.
    pub group_channels: u64,
    /// Whether vLLM keeps the recurrent state in fp32 by default (`mamba_ssm_cache_dtype`
    /// as the model's config or vLLM's model class sets it) rather than the model dtype.
    pub vllm_state_fp32: bool,
}

/// DeepSeek-V3.2's sparse-attention indexer (the "lightning indexer"): small
/// attention over the query latent that picks the `index_topk` tokens each query
/// attends to. It keeps one key of `head_dim` per token and layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indexer {
    /// Indexer heads (`index_n_heads`).
    pub heads: u64,
    /// Dimension of its queries and its one cached key (`index_head_dim`).
    pub head_dim: u64,
}

/// Mixture-of-experts feed-forward layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub num_experts: u64,
    /// Experts each token is routed to.
    pub experts_per_token: u64,
    /// Hidden width of one routed expert's MLP.
    pub expert_intermediate: u64,
    /// Total hidden width of the always-on shared expert(s); 0 when there is none.
    pub shared_intermediate: u64,
    /// Qwen2-MoE's sigmoid gate on the shared expert (`hidden -> 1`).
    pub shared_expert_gate: bool,
    /// Whether the router has a bias (gpt-oss).
    pub router_bias: bool,
    /// Whether expert projections carry biases (gpt-oss).
    pub expert_bias: bool,
    /// How many decoder layers are MoE layers; the others use the dense MLP.
    pub moe_layers: u64,
    /// Whether experts (routed and shared) are gated MLPs (gate, up, down) rather than
    /// two matrices (Nemotron-H's squared-ReLU experts).
    pub gated_experts: bool,
    /// Whether each routed expert's gate and up projections are one matrix in the
    /// model code (gpt-oss's and Llama 4's `gate_up_proj`, Granite's `input_linear`):
    /// one LoRA adapter spans both.
    pub fused_expert_gate_up: bool,
    /// The same for the shared experts (Granite's shared MLP `input_linear`).
    pub fused_shared_gate_up: bool,
}
