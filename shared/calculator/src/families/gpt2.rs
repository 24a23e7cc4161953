//! GPT-2 and GPT-BigCode (StarCoder): fused biased `c_attn`, a plain GELU MLP of
//! `n_inner` (default `4h`), LayerNorm with bias, learned positions, tied embeddings;
//! StarCoder is multi-query by default.

use super::family::{no_layer_slides, Family};
use crate::architecture::{Architecture, Norm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `gpt2`
pub const GPT2: Family = Family {
    name: "gpt2",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_gpt2,
    sliding_layers: no_layer_slides,
};

/// `gpt_bigcode`
pub const GPT_BIGCODE: Family = Family {
    name: "gpt_bigcode",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_gpt_bigcode,
    sliding_layers: no_layer_slides,
};

/// `GPT2Config.n_positions`.
const DEFAULT_POSITIONS: u64 = 1024;

fn read_gpt_bigcode(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    let multi_query = keys.flag("multi_query")?.unwrap_or(true);
    read_gpt2_layout(keys, c, arch, if multi_query { 1 } else { c.heads })
}

fn read_gpt2(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_gpt2_layout(keys, c, arch, c.heads)
}

fn read_gpt2_layout(
    keys: &Keys,
    c: &Common,
    arch: &mut Architecture,
    kv_heads: u64,
) -> Result<(), CalcError> {
    arch.num_kv_heads = kv_heads;
    arch.qkv_bias = true;
    arch.o_bias = true;
    arch.mlp_bias = true;
    arch.gated_mlp = false;
    arch.fused_qkv = true;
    arch.norm = Norm::Layer { bias: true };
    arch.intermediate_size = keys
        .uint(
            &["n_inner", "intermediate_size"],
            1,
            limits::MAX_INTERMEDIATE,
        )?
        .unwrap_or(4 * c.hidden);
    arch.learned_positions = c.max_positions.unwrap_or(DEFAULT_POSITIONS);
    Ok(())
}
