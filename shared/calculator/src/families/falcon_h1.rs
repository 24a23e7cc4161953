//! `falcon_h1` (Falcon-H1): attention and Mamba-2 side by side in every layer, then a
//! gated MLP.

use super::family::{no_layer_slides, set_mixer, Family};
use super::mamba::{check_inner, expanded, prefixed_mamba2, PrefixedKeys};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `falcon_h1`
pub const FALCON_H1: Family = Family {
    name: "falcon_h1",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &["mamba_d_state", "mamba_n_heads", "mamba_expand"],
    read: read_falcon_h1,
    sliding_layers: no_layer_slides,
};

fn read_falcon_h1(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let d_inner = match keys.uint(&["mamba_d_ssm"], 1, limits::MAX_INTERMEDIATE)? {
        Some(d) => d,
        None => expanded(keys, c.hidden)?,
    };
    let heads = keys.required(&["mamba_n_heads"], 1, limits::MAX_HEADS)?;
    let head_dim = keys.required(&["mamba_d_head"], 1, limits::MAX_HEAD_DIM)?;
    let names = PrefixedKeys {
        out_proj_bias: "projectors_bias",
        norm: Some("mamba_rms_norm"),
    };
    let m = prefixed_mamba2(keys, (heads, head_dim, d_inner), names)?;
    check_inner(keys, &m, "mamba_n_heads")?;
    // Every layer holds both, side by side.
    set_mixer(arch, vec![true; c.layers as usize], m.mixer(c.hidden));
    arch.attention_layers = c.layers;
    arch.attention_layer_mask = Vec::new();
    Ok(())
}
