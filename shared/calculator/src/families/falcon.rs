//! Falcon: fused `query_key_value`, a plain (ungated) MLP of `ffn_hidden_size`
//! (default `4h`), LayerNorm with bias, tied embeddings. The old architecture (7B/40B)
//! is multi-query with parallel attention and one or two norms; the new one
//! (`new_decoder_architecture`, 180B) has `num_kv_heads` groups and two norms.

use super::family::{no_layer_slides, Family};
use crate::architecture::{Architecture, Norm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `falcon`
pub const FALCON: Family = Family {
    name: "falcon",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_falcon,
    sliding_layers: no_layer_slides,
};

fn read_falcon(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    let new_arch = keys.flag("new_decoder_architecture")?.unwrap_or(false);
    let multi_query = keys.flag("multi_query")?.unwrap_or(true);
    arch.num_kv_heads = if new_arch {
        c.kv_heads.unwrap_or(c.heads)
    } else if multi_query {
        1
    } else {
        c.heads
    };
    arch.parallel_attention = keys.flag("parallel_attn")?.unwrap_or(true);
    let bias = keys.flag("bias")?.unwrap_or(false);
    arch.qkv_bias = bias;
    arch.o_bias = bias;
    arch.mlp_bias = bias;
    arch.gated_mlp = false;
    arch.fused_qkv = true;
    arch.norm = Norm::Layer { bias: true };
    arch.intermediate_size = keys
        .uint(&["ffn_hidden_size"], 1, limits::MAX_INTERMEDIATE)?
        .unwrap_or(4 * c.hidden);
    arch.norms_per_layer = if new_arch {
        keys.uint(&["num_ln_in_parallel_attn"], 1, 2)?.unwrap_or(2)
    } else if arch.parallel_attention {
        1
    } else {
        2
    };
    Ok(())
}
