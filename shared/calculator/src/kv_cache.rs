//! The KV cache: values per cached token by attention kind, layer windows, cache dtype
//! and tensor parallelism (`docs/methodology.md` §4).

use crate::model::Model;
use crate::precision::Precision;

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
        Some(m) => (m.kv_lora_rank + m.qk_rope_head_dim) as u128,
        None => 2 * kv_heads_per_gpu(model, gpus) as u128 * arch.head_dim as u128,
    }
}

/// Bytes of `values` cached values in `precision` (with group scales), rounded up.
pub(crate) fn cached_bytes(values: u128, precision: Precision) -> u128 {
    let (bits, per) = kv_bits(precision);
    (values * bits).div_ceil(per * 8)
}

/// KV-cache bytes on one GPU for `sequences` sequences of `tokens` tokens.
pub(crate) fn kv_cache_bytes(
    model: &Model,
    precision: Precision,
    sequences: u128,
    tokens: u128,
    gpus: u64,
) -> u128 {
    let values =
        sequences * model.arch.cached_token_layers(tokens) * values_per_token_layer(model, gpus);
    cached_bytes(values, precision)
}
