//! GLM-4.5 / 4.6 (`glm4_moe`): grouped-query attention with biases on q/k/v (by
//! `attention_bias`) and optional per-head q/k RMSNorm (`use_qk_norm`), then
//! DeepSeek-V3's expert layout: `first_k_dense_replace` dense layers, then
//! `n_routed_experts` routed experts of `moe_intermediate_size` plus `n_shared_experts`
//! shared ones on every layer, a router with a per-expert score-correction bias.
//! The multi-token-prediction layer the checkpoints store (`model.layers.N`,
//! `num_nextn_predict_layers`) is loaded only for MTP speculative decoding (`load_mtp`).

use super::family::{no_layer_slides, read_moe, read_mtp_layers, Experts, Family};
use crate::architecture::{Architecture, QkNorm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `glm4_moe`
pub const GLM4_MOE: Family = Family {
    name: "glm4_moe",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_glm4_moe,
    sliding_layers: no_layer_slides,
};

/// Defaults of `Glm4MoeConfig`: `num_experts_per_tok`, `n_shared_experts`,
/// `first_k_dense_replace`, `n_routed_experts`, `moe_intermediate_size`.
const DEFAULT_TOP_K: u64 = 8;
const DEFAULT_EXPERTS: u64 = 128;
const DEFAULT_EXPERT_WIDTH: u64 = 1408;
const DEFAULT_SHARED: u64 = 1;
const DEFAULT_FIRST_DENSE: u64 = 1;

fn read_glm4_moe(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    // The bias sits on q, k and v only; the output projection never has one.
    arch.o_bias = false;
    if keys.flag("use_qk_norm")?.unwrap_or(false) {
        arch.qk_norm = QkNorm::PerHead;
    }
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    read_mtp_layers(keys, arch, &["num_nextn_predict_layers"], 0)?;
    let expert_width = keys.uint_or(
        &["moe_intermediate_size"],
        1,
        limits::MAX_INTERMEDIATE,
        DEFAULT_EXPERT_WIDTH,
    )?;
    let shared = keys.uint_or(
        &["n_shared_experts"],
        0,
        limits::MAX_EXPERTS,
        DEFAULT_SHARED,
    )?;
    let first_dense = keys.uint_or(&["first_k_dense_replace"], 0, c.layers, DEFAULT_FIRST_DENSE)?;
    let experts = Experts {
        count_keys: &["n_routed_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: true,
        default_count: Some(DEFAULT_EXPERTS),
    };
    read_moe(
        keys,
        arch,
        experts,
        expert_width,
        shared * expert_width,
        |i| i >= first_dense,
    )
}
