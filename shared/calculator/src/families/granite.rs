//! `granitemoehybrid` (Granite 4.0 H): `layer_types` of `mamba` and `attention`, every
//! layer with a gated shared MLP and, where configured, experts.

use super::family::{no_layer_slides, read_moe, set_mixer, Experts, Family};
use super::mamba::{check_inner, expanded, prefixed_mamba2, PrefixedKeys};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `granitemoehybrid`
pub const GRANITE_MOE_HYBRID: Family = Family {
    name: "granitemoehybrid",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[
        "mamba_d_state",
        "mamba_n_heads",
        "mamba_expand",
        "mamba",
        "attention",
    ],
    read: read_granite,
    sliding_layers: no_layer_slides,
};

/// Defaults of `GraniteMoeHybridConfig`: `num_experts_per_tok`, `num_local_experts`,
/// `shared_intermediate_size`, `mamba_n_heads`.
const GRANITE_TOP_K: u64 = 2;

const GRANITE_EXPERTS: u64 = 8;

const GRANITE_SHARED: u64 = 1024;

const GRANITE_MAMBA_HEADS: u64 = 128;

fn read_granite(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    // `GraniteMoeHybridConfig` makes every layer Mamba when `layer_types` is absent.
    let mamba_layers: Vec<bool> = match keys.layer_types(c.layers)? {
        Some(types) => types.iter().map(|t| *t == "mamba").collect(),
        None => vec![true; c.layers as usize],
    };
    let shared = keys.uint_or(
        &["shared_intermediate_size"],
        1,
        limits::MAX_INTERMEDIATE,
        GRANITE_SHARED,
    )?;
    let experts = keys.uint_or(
        &["num_local_experts"],
        0,
        limits::MAX_EXPERTS,
        GRANITE_EXPERTS,
    )?;
    if experts == 0 {
        // No experts (Granite 4.0 Micro): the shared MLP is the dense MLP, its gate and
        // up one `input_linear`.
        arch.intermediate_size = shared;
        arch.fused_gate_up = true;
    } else {
        let width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
        let e = Experts {
            count_keys: &["num_local_experts"],
            default_top_k: GRANITE_TOP_K,
            router_bias: false,
            default_count: Some(GRANITE_EXPERTS),
        };
        read_moe(keys, arch, e, width, shared, |_| true)?;
        if let Some(moe) = arch.moe.as_mut() {
            // `input_linear` holds gate and up, for the experts and the shared MLP.
            moe.fused_expert_gate_up = true;
            moe.fused_shared_gate_up = true;
        }
    }
    if mamba_layers.iter().any(|m| *m) {
        let heads = keys.uint_or(
            &["mamba_n_heads"],
            1,
            limits::MAX_HEADS,
            GRANITE_MAMBA_HEADS,
        )?;
        let d_inner = expanded(keys, c.hidden)?;
        // `mamba_d_head` "auto" (the class default) is the inner width over the heads.
        let head_dim = match keys.find(&["mamba_d_head"]) {
            None => d_inner / heads,
            Some((_, v)) if v.as_str() == Some("auto") => d_inner / heads,
            Some(_) => keys.required(&["mamba_d_head"], 1, limits::MAX_HEAD_DIM)?,
        };
        let names = PrefixedKeys {
            out_proj_bias: "mamba_proj_bias",
            norm: None,
        };
        let m = prefixed_mamba2(keys, (heads, head_dim, d_inner), names)?;
        check_inner(keys, &m, "mamba_n_heads")?;
        set_mixer(arch, mamba_layers, m.mixer(c.hidden));
    }
    Ok(())
}
