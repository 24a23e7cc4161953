//! OPT: biased projections, a plain ReLU MLP of `ffn_dim`, LayerNorm, learned
//! positions offset by 2 rows, tied embeddings, and (350M) a narrower
//! `word_embed_proj_dim` embedding with `project_in`/`project_out`.

use super::family::{no_layer_slides, Family};
use crate::architecture::{Architecture, Norm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `opt`
pub const OPT: Family = Family {
    name: "opt",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_opt,
    sliding_layers: no_layer_slides,
};

/// `OPTConfig.max_position_embeddings`.
const DEFAULT_POSITIONS: u64 = 2048;
/// `OPTLearnedPositionalEmbedding` keeps 2 extra rows (its `offset`).
const POSITION_OFFSET: u64 = 2;

fn read_opt(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    let bias = keys.flag("enable_bias")?.unwrap_or(true);
    arch.qkv_bias = bias;
    arch.o_bias = bias;
    arch.mlp_bias = bias;
    arch.gated_mlp = false;
    arch.norm = Norm::Layer {
        bias: keys.flag("layer_norm_elementwise_affine")?.unwrap_or(true),
    };
    arch.intermediate_size = keys.required(&["ffn_dim"], 1, limits::MAX_INTERMEDIATE)?;
    arch.embedding_dim = keys
        .uint(&["word_embed_proj_dim"], 1, limits::MAX_HIDDEN)?
        .unwrap_or(c.hidden);
    arch.learned_positions = c.max_positions.unwrap_or(DEFAULT_POSITIONS) + POSITION_OFFSET;
    arch.final_norm = keys.flag("do_layer_norm_before")?.unwrap_or(true)
        && !keys.flag("_remove_final_layer_norm")?.unwrap_or(false);
    Ok(())
}
