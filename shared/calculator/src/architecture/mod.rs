//! The architecture of a decoder-only transformer, as far as memory is concerned, and
//! its exact parameter count.
//!
//! Every count is a number of parameters (scalars), computed in `u128`.

mod parts;

pub use parts::{Indexer, MixerKind, Mla, Moe, Norm, QkNorm, StateMixer};

use crate::checkpoint::Checkpoint;
use crate::linear::{LinearKind, Projection};
use crate::precision::{MatrixShape, Precision};

/// Memory-relevant description of a decoder-only transformer. Widths are in features,
/// counts in units of the named thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// The `model_type` as given (or `llama` for explicit fields).
    pub model_type: String,
    /// The name of the family whose reader built it: its canonical `model_type`, or
    /// `llama-style` for an unknown `model_type` read as a llama-style decoder.
    pub family: &'static str,
    /// Residual stream width.
    pub hidden_size: u64,
    /// Decoder layers.
    pub num_layers: u64,
    /// Query heads.
    pub num_heads: u64,
    /// Key/value heads (1 for MQA, fewer than `num_heads` for GQA).
    pub num_kv_heads: u64,
    /// Dimension of one head.
    pub head_dim: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Width of the token embedding (differs from `hidden_size` only for OPT models
    /// with `word_embed_proj_dim`).
    pub embedding_dim: u64,
    /// Whether `lm_head` shares the input embedding matrix.
    pub tie_word_embeddings: bool,
    /// Hidden width of the dense MLP.
    pub intermediate_size: u64,
    /// SwiGLU/GeGLU (gate, up, down) rather than a two-matrix MLP.
    pub gated_mlp: bool,
    /// Whether dense MLP projections carry biases.
    pub mlp_bias: bool,
    /// Whether the query/key/value projections carry biases.
    pub qkv_bias: bool,
    /// Whether the attention output projection carries a bias.
    pub o_bias: bool,
    /// RMSNorm on queries and keys.
    pub qk_norm: QkNorm,
    /// The query projection also makes a per-feature sigmoid gate on the attention
    /// output (Qwen3-Next), doubling its width.
    pub attn_output_gate: bool,
    /// Decoder layers that have attention (all but those a [`StateMixer`] replaces).
    pub attention_layers: u64,
    /// The fixed-state token mixer of the other layers, when there is one.
    pub mixer: Option<StateMixer>,
    /// Multi-token-prediction layers the published checkpoint stores beside the decoder
    /// (`num_nextn_predict_layers`, `mtp_num_hidden_layers`); counted only when loaded
    /// ([`crate::Model::with_mtp_layers`]).
    pub mtp_layers: u64,
    /// Parameters of a multimodal wrapper's vision tower and projector, counted apart:
    /// not in the totals, which are the language model's.
    pub vision_tower_params: Option<u128>,
    /// Parameters outside the decoder layers' own shapes: the loaded multi-token-
    /// prediction layers' fusion projections (`2h -> h`) and their three norms.
    pub mtp_fusion_params: u128,
    /// Layers with neither a dense MLP nor experts (Nemotron-H's blocks hold one
    /// mixer each: attention, Mamba-2, an MLP or experts).
    pub ffn_free_layers: u64,
    /// One learned attention-sink logit per head (gpt-oss).
    pub attention_sinks: bool,
    /// One fused `qkv` matrix instead of three (matters for LoRA adapter shapes).
    pub fused_qkv: bool,
    /// One fused `gate_up` matrix instead of two (Phi-3).
    pub fused_gate_up: bool,
    /// Multi-head latent attention, when used.
    pub mla: Option<Mla>,
    /// The sparse-attention indexer of every layer, when there is one (with MLA).
    pub indexer: Option<Indexer>,
    /// Mixture-of-experts layers, when used.
    pub moe: Option<Moe>,
    /// The norm used throughout.
    pub norm: Norm,
    /// Norms per decoder layer (2 for most, 4 for Gemma 2/3, 1 for Falcon-7B).
    pub norms_per_layer: u64,
    /// Whether a norm follows the last layer.
    pub final_norm: bool,
    /// Rows of a learned absolute position table (GPT-2, OPT); 0 for rotary models.
    pub learned_positions: u64,
    /// Attention and MLP read the same normalised input (Falcon, GPT-J style).
    pub parallel_attention: bool,
    /// Sliding-window length of the layers that use one.
    pub sliding_window: Option<u64>,
    /// How many layers attend through the sliding window.
    pub sliding_layers: u64,
    /// The windowed layers attend within fixed chunks of `sliding_window` tokens
    /// rather than over the last `sliding_window` tokens (Llama 4): the same bound on
    /// what they cache, aligned to chunk starts.
    pub chunked_window: bool,
    /// Context length the model was trained for.
    pub max_position_embeddings: Option<u64>,
    /// `torch_dtype` of the published weights.
    pub torch_dtype: Option<Precision>,
    /// The published checkpoint's storage, when its `quantization_config` states one.
    pub checkpoint: Option<Checkpoint>,
    /// For MoE models, whether each decoder layer (by index) holds experts.
    pub moe_layer_mask: Vec<bool>,
    /// With a [`StateMixer`], whether each decoder layer (by index) holds it.
    pub mixer_layer_mask: Vec<bool>,
    /// Whether each decoder layer (by index) has attention; empty when every layer has.
    pub attention_layer_mask: Vec<bool>,
    /// A multimodal wrapper's own `model_type` (`gemma3`, `llama4`) when the language
    /// model was read from its `text_config`: what tools keyed by the loaded model's
    /// type (PEFT's default LoRA targets) see.
    pub wrapper_model_type: Option<String>,
}

/// The feed-forward block of one decoder layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedForward {
    /// None: the layer holds only a token mixer (Nemotron-H's attention and Mamba
    /// blocks).
    None,
    /// The dense MLP.
    Dense,
    /// Routed experts, with the shared experts where there are.
    Experts,
}

/// What one decoder layer holds ([`Architecture::layer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerMakeup {
    /// Softmax attention.
    pub attention: bool,
    /// The fixed-state [`StateMixer`] (beside attention in Falcon-H1's parallel
    /// layers, instead of it elsewhere).
    pub mixer: bool,
    /// Its feed-forward block.
    pub feed_forward: FeedForward,
}

/// A family of identical linear weight matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearGroup {
    /// What the matrices are.
    pub kind: LinearKind,
    /// Which projection of their block they are.
    pub projection: Projection,
    /// Their shape and number.
    pub shape: MatrixShape,
}

impl Architecture {
    /// A llama-style decoder (gated MLP, RMSNorm, rotary positions, two norms per layer,
    /// no biases, untied, full attention) with the given shape; families adjust the
    /// rest. The MLP width starts at 0 for the caller to set.
    pub fn llama_like(
        model_type: &str,
        family: &'static str,
        hidden_size: u64,
        num_layers: u64,
        num_heads: u64,
        head_dim: u64,
        vocab_size: u64,
    ) -> Architecture {
        Architecture {
            model_type: model_type.to_owned(),
            family,
            hidden_size,
            num_layers,
            num_heads,
            num_kv_heads: num_heads,
            head_dim,
            vocab_size,
            embedding_dim: hidden_size,
            tie_word_embeddings: false,
            intermediate_size: 0,
            gated_mlp: true,
            mlp_bias: false,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            attn_output_gate: false,
            attention_layers: num_layers,
            mixer: None,
            ffn_free_layers: 0,
            mtp_layers: 0,
            vision_tower_params: None,
            mtp_fusion_params: 0,
            attention_sinks: false,
            fused_qkv: false,
            fused_gate_up: false,
            mla: None,
            indexer: None,
            moe: None,
            norm: Norm::Rms,
            norms_per_layer: 2,
            final_norm: true,
            learned_positions: 0,
            parallel_attention: false,
            sliding_window: None,
            sliding_layers: 0,
            chunked_window: false,
            max_position_embeddings: None,
            torch_dtype: None,
            checkpoint: None,
            moe_layer_mask: Vec::new(),
            mixer_layer_mask: Vec::new(),
            attention_layer_mask: Vec::new(),
            wrapper_model_type: None,
        }
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> u64 {
        match self.mla {
            Some(m) => self.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim),
            None => self.num_heads * self.head_dim,
        }
    }

    /// Output width of the (unfused) query projection: the queries, and as much again
    /// for the output gate where there is one.
    pub fn q_proj_width(&self) -> u64 {
        if self.attn_output_gate {
            2 * self.q_dim()
        } else {
            self.q_dim()
        }
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> u64 {
        match self.mla {
            Some(m) => self.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim),
            None => self.num_kv_heads * self.head_dim,
        }
    }

    /// Width of the attention output before the output projection.
    pub fn attn_out_dim(&self) -> u64 {
        match self.mla {
            Some(m) => self.num_heads * m.v_head_dim,
            None => self.num_heads * self.head_dim,
        }
    }

    /// What decoder layer `index` (from 0) holds, read from the layer masks: attention
    /// unless a mask says otherwise, the mixer where its mask says, experts where the
    /// MoE mask says, no feed-forward in the mixer-only blocks of a model that has them.
    pub fn layer(&self, index: u64) -> LayerMakeup {
        let flag = |mask: &[bool]| mask.get(index as usize).copied().unwrap_or(false);
        let attention = self.attention_layer_mask.is_empty() || flag(&self.attention_layer_mask);
        let mixer = self.mixer.is_some() && flag(&self.mixer_layer_mask);
        let feed_forward = if self.ffn_free_layers > 0 && (attention || mixer) {
            FeedForward::None
        } else if flag(&self.moe_layer_mask) {
            FeedForward::Experts
        } else {
            FeedForward::Dense
        };
        LayerMakeup {
            attention,
            mixer,
            feed_forward,
        }
    }

    /// Decoder layers that use the dense MLP.
    pub fn dense_layers(&self) -> u64 {
        self.num_layers - self.moe.map_or(0, |m| m.moe_layers) - self.ffn_free_layers
    }

    /// Every linear weight matrix of the decoder layers, grouped by shape.
    pub fn linear_groups(&self) -> Vec<LinearGroup> {
        let h = self.hidden_size;
        let layers = self.attention_layers as u128;
        let mut out = Vec::with_capacity(20);
        let mut push = |kind, projection, rows_in, cols_out, count: u128| {
            if count > 0 && rows_in > 0 && cols_out > 0 {
                out.push(LinearGroup {
                    kind,
                    projection,
                    shape: MatrixShape {
                        rows_in,
                        cols_out,
                        count,
                    },
                });
            }
        };
        use LinearKind::*;
        use Projection::*;
        match self.mla {
            Some(m) => {
                match m.q_lora_rank {
                    Some(r) => {
                        push(Attention, QueryA, h, r, layers);
                        push(Attention, QueryB, r, self.q_dim(), layers);
                    }
                    None => push(Attention, Query, h, self.q_dim(), layers),
                }
                push(
                    Attention,
                    KeyValueA,
                    h,
                    m.kv_lora_rank + m.qk_rope_head_dim,
                    layers,
                );
                push(
                    Attention,
                    KeyValueB,
                    m.kv_lora_rank,
                    self.num_heads * (m.qk_nope_head_dim + m.v_head_dim),
                    layers,
                );
                if let (Some(ix), Some(r)) = (self.indexer, m.q_lora_rank) {
                    // wq_b from the query latent, wk from the normalized input; the
                    // per-head weights projection stays 16-bit (`attention_extra`).
                    push(Attention, IndexerQuery, r, ix.heads * ix.head_dim, layers);
                    push(Attention, IndexerKey, h, ix.head_dim, layers);
                }
            }
            None if self.fused_qkv => push(
                Attention,
                QueryKeyValue,
                h,
                self.q_dim() + 2 * self.kv_dim(),
                layers,
            ),
            None => {
                push(Attention, Query, h, self.q_proj_width(), layers);
                push(Attention, Key, h, self.kv_dim(), layers);
                push(Attention, Value, h, self.kv_dim(), layers);
            }
        }
        push(Attention, Output, self.attn_out_dim(), h, layers);
        if let Some(m) = self.mixer {
            push(Mixer, MixerIn, h, m.in_proj, m.layers as u128);
            push(Mixer, MixerOut, m.out_proj, h, m.layers as u128);
        }

        let dense = self.dense_layers() as u128;
        let i = self.intermediate_size;
        if self.gated_mlp && self.fused_gate_up {
            push(Mlp, GateUp, h, 2 * i, dense);
        } else if self.gated_mlp {
            push(Mlp, Gate, h, i, dense);
            push(Mlp, Up, h, i, dense);
        } else {
            push(Mlp, Up, h, i, dense);
        }
        push(Mlp, Down, i, h, dense);
        if self.embedding_dim != h {
            push(Mlp, EmbedIn, self.embedding_dim, h, 1);
            push(Mlp, EmbedOut, h, self.embedding_dim, 1);
        }

        if let Some(moe) = self.moe {
            let experts = moe.num_experts as u128 * moe.moe_layers as u128;
            let ie = moe.expert_intermediate;
            let shared = moe.moe_layers as u128;
            let si = moe.shared_intermediate;
            for (kind, width, count, fused) in [
                (Expert, ie, experts, moe.fused_expert_gate_up),
                (SharedExpert, si, shared, moe.fused_shared_gate_up),
            ] {
                match (moe.gated_experts, fused) {
                    (true, true) => push(kind, GateUp, h, 2 * width, count),
                    (true, false) => {
                        push(kind, Gate, h, width, count);
                        push(kind, Up, h, width, count);
                    }
                    (false, _) => push(kind, Up, h, width, count),
                }
                push(kind, Down, width, h, count);
            }
        }
        out
    }

    /// Sum over attention layers of the tokens each one's KV cache holds for a context
    /// of `tokens`: sliding-window (and chunked) layers keep at most the window; layers
    /// a [`StateMixer`] replaces keep none.
    pub fn cached_token_layers(&self, tokens: u128) -> u128 {
        let full_layers = (self.attention_layers - self.sliding_layers) as u128;
        let window = self
            .sliding_window
            .map_or(tokens, |w| tokens.min(w as u128));
        full_layers * tokens + self.sliding_layers as u128 * window
    }
}
