//! `nemotron_h` (Nemotron-H, Nemotron Nano 2 and 3): each block holds one mixer, named
//! by `hybrid_override_pattern` (`M` Mamba-2, `*` attention, `-` a squared-ReLU MLP,
//! `E` squared-ReLU experts), with one norm; no positions in attention.

use super::family::{no_layer_slides, read_moe, set_mixer, Experts, Family};
use super::mamba::{check_inner, flag, Mamba2};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `nemotron_h`
pub const NEMOTRON_H: Family = Family {
    name: "nemotron_h",
    aliases: &[],
    ties_embeddings: false,
    // `mamba_d_state` and `mamba_expand` are older spellings `NemotronHConfig` accepts
    // (the inner width is `mamba_num_heads x mamba_head_dim` whatever `expand` says).
    feature_keys: &[
        "hybrid_override_pattern",
        "layers_block_type",
        "ssm_state_size",
        "mamba_d_state",
        "mamba_expand",
    ],
    read: read_nemotron_h,
    sliding_layers: no_layer_slides,
};

/// Defaults of `NemotronHConfig`.
const NEMOTRON_H_GROUPS: u64 = 8;

const NEMOTRON_H_CHUNK: u64 = 128;

const NEMOTRON_H_TOP_K: u64 = 6;

fn read_nemotron_h(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    let blocks = block_pattern(keys, c.layers)?;
    if !blocks
        .iter()
        .any(|b| matches!(b, Block::Mamba | Block::Attention))
    {
        return Err(CalcError::field(
            keys.path("hybrid_override_pattern"),
            "has no Mamba (M) or attention (*) block: nothing mixes tokens",
        ));
    }
    if keys.find(&["moe_latent_size"]).is_some() {
        // Nemotron 3 Super's experts work in a latent width behind two projections.
        return Err(CalcError::field(
            keys.path("moe_latent_size"),
            "latent experts (fc1/fc2_latent_proj) are not modelled yet; read as plain experts they would misstate the parameters",
        ));
    }
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.norms_per_layer = 1;
    arch.gated_mlp = false;
    let heads = keys.required(&["mamba_num_heads"], 1, limits::MAX_HEADS)?;
    let head_dim = keys.required(&["mamba_head_dim"], 1, limits::MAX_HEAD_DIM)?;
    let bias = keys.flag("use_bias")?.unwrap_or(false);
    let m = Mamba2 {
        heads,
        head_dim,
        d_inner: heads * head_dim,
        groups: keys.uint_or(
            &["n_groups", "mamba_n_groups"],
            1,
            limits::MAX_HEAD_DIM,
            NEMOTRON_H_GROUPS,
        )?,
        d_state: keys.required(
            &["ssm_state_size", "mamba_d_state"],
            1,
            limits::MAX_HEAD_DIM,
        )?,
        kernel: keys.uint_or(&["conv_kernel", "mamba_d_conv"], 1, limits::MAX_HEAD_DIM, 4)?,
        conv_bias: flag(keys, &["use_conv_bias", "mamba_conv_bias"], true)?,
        in_proj_bias: bias,
        out_proj_bias: bias,
        norm: true,
        chunk: keys.uint_or(
            &["chunk_size", "mamba_chunk_size"],
            1,
            limits::MAX_HEAD_DIM,
            NEMOTRON_H_CHUNK,
        )?,
        // vLLM's `NemotronHForCausalLMConfig` takes the config's
        // `mamba_ssm_cache_dtype`, else fp32.
        vllm_state_fp32: keys
            .text("mamba_ssm_cache_dtype")?
            .is_none_or(|d| d == "float32"),
    };
    check_inner(keys, &m, "mamba_num_heads")?;
    let count = |kind: Block| blocks.iter().filter(|b| **b == kind).count() as u64;
    if count(Block::Mlp) > 0 {
        arch.intermediate_size =
            keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    }
    if count(Block::Experts) > 0 {
        let width = keys.required(&["moe_intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
        let shared = keys.uint_or(&["n_shared_experts"], 0, limits::MAX_EXPERTS, 1)?
            * keys.uint_or(
                &["moe_shared_expert_intermediate_size"],
                0,
                limits::MAX_INTERMEDIATE,
                0,
            )?;
        let experts = Experts {
            count_keys: &["n_routed_experts"],
            default_top_k: NEMOTRON_H_TOP_K,
            router_bias: true,
            default_count: None,
        };
        read_moe(keys, arch, experts, width, shared, |i| {
            blocks[i as usize] == Block::Experts
        })?;
        if let Some(moe) = arch.moe.as_mut() {
            moe.gated_experts = false;
        }
    }
    let mask: Vec<bool> = blocks.iter().map(|b| *b == Block::Mamba).collect();
    set_mixer(arch, mask, m.mixer(c.hidden));
    arch.attention_layers = count(Block::Attention);
    arch.attention_layer_mask = blocks.iter().map(|b| *b == Block::Attention).collect();
    arch.ffn_free_layers = count(Block::Mamba) + count(Block::Attention);
    Ok(())
}

/// One Nemotron-H block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Mamba,
    Attention,
    Mlp,
    Experts,
}

/// The blocks, from `hybrid_override_pattern` (`M*-E`) or `layers_block_type` (names).
fn block_pattern(keys: &Keys, layers: u64) -> Result<Vec<Block>, CalcError> {
    let bad = |key: &str, what: &str| CalcError::field(keys.path(key), what.to_owned());
    if let Some((key, v)) = keys.find(&["hybrid_override_pattern"]) {
        let text = v.as_str().ok_or_else(|| bad(key, "must be a string"))?;
        if text.len() as u64 != layers {
            return Err(bad(
                key,
                &format!("has {} blocks for {layers} layers", text.len()),
            ));
        }
        return text
            .chars()
            .map(|ch| match ch {
                'M' => Ok(Block::Mamba),
                '*' => Ok(Block::Attention),
                '-' => Ok(Block::Mlp),
                'E' => Ok(Block::Experts),
                _ => Err(bad(
                    key,
                    "may hold only M (Mamba-2), * (attention), - (MLP) and E (experts)",
                )),
            })
            .collect();
    }
    let Some(types) = keys.layer_types_under("layers_block_type", layers)? else {
        return Err(bad("hybrid_override_pattern", "is required"));
    };
    types
        .iter()
        .map(|t| match *t {
            "mamba" | "linear_attention" => Ok(Block::Mamba),
            "attention" | "full_attention" => Ok(Block::Attention),
            "mlp" => Ok(Block::Mlp),
            "moe" => Ok(Block::Experts),
            _ => Err(bad(
                "layers_block_type",
                "may hold only mamba, attention, mlp and moe",
            )),
        })
        .collect()
}
