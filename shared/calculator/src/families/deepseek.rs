//! DeepSeek-V3 (and V2's layout): multi-head latent attention (queries and keys/values
//! through low-rank projections; only the latent and the shared rope key are cached),
//! `n_routed_experts` routed plus `n_shared_experts` shared experts on every
//! `moe_layer_freq`-th layer after the first `first_k_dense_replace` dense ones.
//! Kimi K2 and DeepSeek-V3.1 are `deepseek_v3` configs. DeepSeek-V3.2 (`deepseek_v32`)
//! adds to every layer a sparse-attention indexer (`index_n_heads` heads of
//! `index_head_dim` over the query latent, one cached key per token) that picks the
//! `index_topk` tokens each query attends to. The multi-token-prediction layers the
//! checkpoints store (`num_nextn_predict_layers`) are loaded only for MTP speculative
//! decoding (`load_mtp`).

use super::family::{no_layer_slides, read_moe, read_mtp_layers, Experts, Family};
use crate::architecture::{Architecture, Indexer, Mla};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `deepseek_v3`
pub const DEEPSEEK_V3: Family = Family {
    name: "deepseek_v3",
    // Kimi K2's config.json names its own type and loads as `DeepseekV3Config`.
    aliases: &["kimi_k2"],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_deepseek_v3,
    sliding_layers: no_layer_slides,
};

/// `deepseek_v32`
pub const DEEPSEEK_V32: Family = Family {
    name: "deepseek_v32",
    aliases: &[],
    ties_embeddings: false,
    // transformers 5's `DeepseekV32Config` names every layer `indexed_attention` in
    // `layer_types`.
    feature_keys: &["index_topk", "index_n_heads", "indexed_attention"],
    read: read_deepseek_v32,
    sliding_layers: no_layer_slides,
};

/// `DeepseekV3Config.num_experts_per_tok`.
const DEFAULT_TOP_K: u64 = 8;

pub(super) fn read_mla(keys: &Keys) -> Result<Mla, CalcError> {
    let dim = |name: &'static str| keys.required(&[name], 1, limits::MAX_HEAD_DIM);
    let kv_lora_rank = dim("kv_lora_rank")?;
    Ok(Mla {
        q_lora_rank: keys.uint(&["q_lora_rank"], 1, limits::MAX_HEAD_DIM)?,
        kv_lora_rank,
        qk_nope_head_dim: dim("qk_nope_head_dim")?,
        qk_rope_head_dim: dim("qk_rope_head_dim")?,
        v_head_dim: dim("v_head_dim")?,
        expanded_cache: false,
    })
}

pub(super) fn read_deepseek_v3(
    keys: &Keys,
    c: &Common,
    arch: &mut Architecture,
) -> Result<(), CalcError> {
    let mla = read_mla(keys)?;
    arch.mla = Some(mla);
    read_mtp_layers(keys, arch, &["num_nextn_predict_layers"], 0)?;
    arch.num_kv_heads = c.heads;
    arch.head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let expert_width = keys.required(&["moe_intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let shared = keys.uint_or(
        &["n_shared_experts", "num_shared_experts"],
        0,
        limits::MAX_EXPERTS,
        0,
    )?;
    let first_dense = keys.uint_or(&["first_k_dense_replace"], 0, c.layers, 0)?;
    let freq = keys.uint_or(&["moe_layer_freq"], 1, limits::MAX_LAYERS, 1)?;
    // The router's `e_score_correction_bias` (one value per expert) is a stored
    // parameter of every MoE layer.
    let experts = Experts {
        // Kimi-Linear names the counts `num_experts` and `num_shared_experts`.
        count_keys: &["n_routed_experts", "num_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: true,
        default_count: None,
    };
    read_moe(
        keys,
        arch,
        experts,
        expert_width,
        shared * expert_width,
        |i| i >= first_dense && i % freq == 0,
    )
}

/// DeepSeek-V3's layout and the indexer, whose query projection reads the query latent
/// (so `q_lora_rank` is required).
fn read_deepseek_v32(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_deepseek_v3(keys, c, arch)?;
    if let Some(types) = keys.layer_types(c.layers)? {
        if types.iter().any(|t| *t != "indexed_attention") {
            return Err(CalcError::field(
                keys.path("layer_types"),
                "may hold only indexed_attention: every DeepSeek-V3.2 layer has the indexer; other layers beside them are not modelled",
            ));
        }
    }
    let dim = |name: &'static str| keys.required(&[name], 1, limits::MAX_HEAD_DIM);
    let heads = keys.required(&["index_n_heads"], 1, limits::MAX_HEADS)?;
    let head_dim = dim("index_head_dim")?;
    if arch.mla.and_then(|m| m.q_lora_rank).is_none() {
        return Err(CalcError::field(
            keys.path("q_lora_rank"),
            "is required: the sparse-attention indexer projects the query latent",
        ));
    }
    arch.indexer = Some(Indexer { heads, head_dim });
    Ok(())
}
