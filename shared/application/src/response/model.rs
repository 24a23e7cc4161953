//! Views of a model: its parameter counts and the architecture values the calculator
//! extracted from its config.

use calculator::{cache_rates, Choice, Model, ParameterCounts};
use serde::Serialize;

/// Parameter counts, in parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParametersView {
    /// Every parameter.
    pub total: u64,
    /// The embedding matrices (input, and output when untied).
    pub embedding: u64,
    /// Everything else.
    pub non_embedding: u64,
    /// Those one token uses (routed experts: only the ones it is sent to).
    pub active: u64,
}

impl From<&ParameterCounts> for ParametersView {
    fn from(p: &ParameterCounts) -> ParametersView {
        // Counts are below the limits' 2^54 parameters: they fit a u64.
        ParametersView {
            total: p.total as u64,
            embedding: p.embedding as u64,
            non_embedding: p.non_embedding as u64,
            active: p.active as u64,
        }
    }
}

/// Mixture of experts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MoeView {
    num_experts: u64,
    experts_per_token: u64,
    expert_intermediate_size: u64,
    shared_expert_intermediate_size: u64,
    moe_layers: u64,
}

/// Multi-head latent attention.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MlaView {
    q_lora_rank: Option<u64>,
    kv_lora_rank: u64,
    qk_nope_head_dim: u64,
    qk_rope_head_dim: u64,
    v_head_dim: u64,
}

/// A fixed-state mixer (linear attention, state-space layers).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MixerView {
    kind: &'static str,
    layers: u64,
    heads: u64,
    conv_channels: u64,
    conv_kernel: u64,
    recurrent_state_values: u64,
}

/// A sparse-attention indexer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexerView {
    heads: u64,
    head_dim: u64,
}

/// How the cache grows, in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheGrowthView {
    attention_kv_bytes_per_token: u64,
    indexer_key_bytes_per_token: u64,
    fixed_state_bytes_per_sequence: u64,
}

/// The architecture as the calculator read it (`extracted_params`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArchitectureView {
    model_type: String,
    hidden_size: u64,
    num_hidden_layers: u64,
    num_attention_heads: u64,
    num_key_value_heads: u64,
    head_dim: u64,
    intermediate_size: u64,
    vocab_size: u64,
    tie_word_embeddings: bool,
    max_position_embeddings: Option<u64>,
    torch_dtype: &'static str,
    gated_mlp: bool,
    sliding_window: Option<u64>,
    sliding_window_layers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    moe: Option<MoeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mla: Option<MlaView>,
    attention_layers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    vision_tower_parameters: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_mixer: Option<MixerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    indexer: Option<IndexerView>,
    cache_growth: CacheGrowthView,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_quantization: Option<String>,
}

impl From<&Model> for ArchitectureView {
    fn from(model: &Model) -> ArchitectureView {
        let a = &model.arch;
        let rates = cache_rates(model);
        ArchitectureView {
            model_type: a.model_type.clone(),
            hidden_size: a.hidden_size,
            num_hidden_layers: a.num_layers,
            num_attention_heads: a.num_heads,
            num_key_value_heads: a.num_kv_heads,
            head_dim: a.head_dim,
            intermediate_size: a.intermediate_size,
            vocab_size: a.vocab_size,
            tie_word_embeddings: a.tie_word_embeddings,
            max_position_embeddings: a.max_position_embeddings,
            torch_dtype: model.default_precision().name(),
            gated_mlp: a.gated_mlp,
            sliding_window: a.sliding_window,
            sliding_window_layers: a.sliding_layers,
            moe: a.moe.map(|m| MoeView {
                num_experts: m.num_experts,
                experts_per_token: m.experts_per_token,
                expert_intermediate_size: m.expert_intermediate,
                shared_expert_intermediate_size: m.shared_intermediate,
                moe_layers: m.moe_layers,
            }),
            mla: a.mla.map(|m| MlaView {
                q_lora_rank: m.q_lora_rank,
                kv_lora_rank: m.kv_lora_rank,
                qk_nope_head_dim: m.qk_nope_head_dim,
                qk_rope_head_dim: m.qk_rope_head_dim,
                v_head_dim: m.v_head_dim,
            }),
            attention_layers: a.attention_layers,
            // Towers are below the limits' 2^54 parameters.
            vision_tower_parameters: a.vision_tower_params.map(|n| n as u64),
            state_mixer: a.mixer.map(|m| MixerView {
                kind: m.kind.name(),
                layers: m.layers,
                heads: m.heads,
                conv_channels: m.conv_channels,
                conv_kernel: m.conv_kernel,
                recurrent_state_values: m.recurrent_state,
            }),
            indexer: a.indexer.map(|ix| IndexerView {
                heads: ix.heads,
                head_dim: ix.head_dim,
            }),
            cache_growth: CacheGrowthView {
                attention_kv_bytes_per_token: rates.attention_per_token as u64,
                indexer_key_bytes_per_token: rates.indexer_per_token as u64,
                fixed_state_bytes_per_sequence: rates.state_per_sequence as u64,
            },
            published_quantization: a.checkpoint.as_ref().map(|c| c.method.clone()),
        }
    }
}
