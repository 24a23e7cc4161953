//! The cache a sequence keeps, by what keeps it (`docs/methodology.md` §4): attention
//! keys and values per token (by attention kind, layer windows, cache dtype and tensor
//! parallelism), the sparse-attention indexer's keys per token, and the fixed state of
//! linear-attention and state-space layers per sequence.

use crate::architecture::{Indexer, MixerKind, StateMixer};
use crate::model::Model;
use crate::precision::Precision;
use crate::runtime::FP32_BYTES;

/// Values per fp32 scale of the indexer's fp8 keys: DeepSeek-V3.2's reference
/// implementation (deepseek-ai/DeepSeek-V3.2-Exp@3b99a5350d260b7c2a357e82362305509e2d0724 `inference/model.py`, `Indexer`: `k_cache` fp8 and `k_scale_cache`
/// fp32 of `head_dim // block_size`, block 128) and vLLM's indexer cache (128 fp8
/// bytes + one 4-byte scale per token) agree.
const INDEXER_SCALE_BLOCK: u128 = 128;

/// The cache on one GPU, bytes, by what keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheBytes {
    /// Keys and values of the attention layers: grows with every token (up to a window
    /// on sliding and chunked layers).
    pub attention: u128,
    /// Keys of the sparse-attention indexer: grows with every token.
    pub indexer: u128,
    /// Convolution and recurrent state of linear-attention and state-space layers: a
    /// fixed size per sequence, whatever its length.
    pub state: u128,
}

impl CacheBytes {
    /// All of it.
    pub fn total(&self) -> u128 {
        self.attention + self.indexer + self.state
    }
}

/// Values per group in quantized KV caches (the `q_group_size` default of
/// transformers' `QuantizedCache`), each group with a 16-bit scale and zero point.
const KV_QUANT_GROUP: u128 = 64;

/// Bits of one cached value, with group scales for integer caches.
fn kv_bits(p: Precision) -> (u128, u128) {
    match p {
        Precision::Int8 | Precision::Int4 => {
            (p.bits() as u128 * KV_QUANT_GROUP + 32, KV_QUANT_GROUP)
        }
        _ => (p.bits() as u128, 1),
    }
}

/// Key/value heads one GPU stores under tensor parallelism (replicated when fewer
/// heads than GPUs).
pub(crate) fn kv_heads_per_gpu(model: &Model, gpus: u64) -> u64 {
    model.arch.num_kv_heads.div_ceil(gpus)
}

/// Values one GPU caches per token in one attention layer. A multi-head latent
/// attention (MLA) layer caches its compressed latent and the shared rope key
/// (`kv_lora_rank + qk_rope_head_dim`), replicated on every GPU: vLLM's MLA backends
/// do, and so does transformers 5 (measured with 5.17.0: keys `[b, 1, s, r_kv]`, values
/// `[b, 1, s, d_rope]`; transformers 4 cached the decompressed per-head keys and values,
/// 71x more for DeepSeek-V3; methodology §4).
pub(crate) fn values_per_token_layer(model: &Model, gpus: u64) -> u128 {
    let arch = &model.arch;
    match arch.mla {
        Some(m) if m.expanded_cache => {
            let heads = arch.num_heads.div_ceil(gpus) as u128;
            heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) as u128
        }
        Some(m) => (m.kv_lora_rank + m.qk_rope_head_dim) as u128,
        None => 2 * kv_heads_per_gpu(model, gpus) as u128 * arch.head_dim as u128,
    }
}

/// Bytes of `values` cached values in `precision` (with group scales), rounded up.
pub(crate) fn cached_bytes(values: u128, precision: Precision) -> u128 {
    let (bits, per) = kv_bits(precision);
    (values * bits).div_ceil(per * 8)
}

/// Bytes one indexer key takes: fp8 values and one fp32 scale per 128 (replicated on
/// every GPU: it has one head).
pub(crate) fn indexer_bytes_per_token_layer(ix: Indexer) -> u128 {
    let d = ix.head_dim as u128;
    d + d.div_ceil(INDEXER_SCALE_BLOCK) * FP32_BYTES
}

/// Bytes of one sequence's state in one mixer layer as transformers keeps it, on one
/// GPU (heads and channels split over `gpus`): the convolution's last `conv_kernel`
/// inputs in the compute dtype (`a` bytes), and the recurrent state, which the delta-rule
/// kernels (flash-linear-attention's Gated DeltaNet and KDA, and transformers' torch
/// fallback) return in fp32 while the Mamba caches keep it in the model dtype.
pub(crate) fn state_bytes_per_sequence_layer(m: StateMixer, a: u128, gpus: u64) -> u128 {
    let conv = m.conv_channels.div_ceil(gpus) as u128 * m.conv_kernel as u128 * a;
    let recurrent_bytes = match m.kind {
        MixerKind::GatedDeltaNet | MixerKind::KimiDelta => FP32_BYTES,
        MixerKind::Mamba2 | MixerKind::Mamba1 => a,
    };
    let heads = m.heads.div_ceil(gpus) as u128;
    conv + heads * (m.recurrent_state / m.heads.max(1)) as u128 * recurrent_bytes
}

/// The cache on one GPU for `sequences` sequences of `tokens` tokens: attention keys
/// and values in `precision`, the indexer's keys, and the mixers' state with the
/// compute dtype of `a` bytes.
pub(crate) fn cache_bytes(
    model: &Model,
    precision: Precision,
    a: u128,
    sequences: u128,
    tokens: u128,
    gpus: u64,
) -> CacheBytes {
    let arch = &model.arch;
    let values = sequences * arch.cached_token_layers(tokens) * values_per_token_layer(model, gpus);
    let indexer = arch.indexer.map_or(0, |ix| {
        sequences * tokens * arch.attention_layers as u128 * indexer_bytes_per_token_layer(ix)
    });
    let state = arch.mixer.map_or(0, |m| {
        sequences * m.layers as u128 * state_bytes_per_sequence_layer(m, a, gpus)
    });
    CacheBytes {
        attention: cached_bytes(values, precision),
        indexer,
        state,
    }
}

/// How fast one sequence's cache grows, on one GPU, with the cache in the model's
/// dtype as transformers keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheRates {
    /// Attention keys and values per token, every attention layer (sliding and chunked
    /// layers stop growing at their window), bytes.
    pub attention_per_token: u128,
    /// The same in values (elements), whatever dtype stores them.
    pub attention_values_per_token: u128,
    /// Indexer keys per token, bytes.
    pub indexer_per_token: u128,
    /// Fixed state of the mixer layers per sequence, bytes.
    pub state_per_sequence: u128,
}

/// The [`CacheRates`] of a model in its published dtype on one GPU.
pub fn cache_rates(model: &Model) -> CacheRates {
    let arch = &model.arch;
    let a = crate::runtime::compute_bytes(model.default_precision());
    CacheRates {
        attention_per_token: arch.attention_layers as u128 * values_per_token_layer(model, 1) * a,
        attention_values_per_token: arch.attention_layers as u128
            * values_per_token_layer(model, 1),
        indexer_per_token: arch.indexer.map_or(0, |ix| {
            arch.attention_layers as u128 * indexer_bytes_per_token_layer(ix)
        }),
        state_per_sequence: arch.mixer.map_or(0, |m| {
            m.layers as u128 * state_bytes_per_sequence_layer(m, a, 1)
        }),
    }
}
