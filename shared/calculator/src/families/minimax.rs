//! MiniMax-M2 (`minimax_m2`): grouped-query attention with RMSNorm over all query
//! heads together and over all key heads together (`qk_norm_type: per_layer`), and
//! `num_local_experts` experts of `intermediate_size` on every layer, routed through a
//! gate with a per-expert score-correction bias (`use_routing_bias`); no shared
//! expert, no dense layers.

use super::family::{no_layer_slides, read_moe, Experts, Family};
use crate::architecture::{Architecture, QkNorm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `minimax_m2`
pub const MINIMAX_M2: Family = Family {
    name: "minimax_m2",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_minimax_m2,
    sliding_layers: no_layer_slides,
};

/// `MiniMaxM2Config.num_experts_per_tok`.
const DEFAULT_TOP_K: u64 = 8;

fn read_minimax_m2(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    // `attn_type_list`: 1 for softmax attention on every layer of M2; a 0 would be a
    // lightning (linear) attention layer, which this reader does not model.
    if let Some(softmax) = keys.flag_list("attn_type_list", c.layers)? {
        if softmax.iter().any(|s| !s) {
            return Err(CalcError::field(
                keys.path("attn_type_list"),
                "has lightning (linear) attention layers (0), which the calculator does not model for minimax_m2",
            ));
        }
    }
    if keys.flag("use_qk_norm")?.unwrap_or(true) {
        arch.qk_norm = match keys.text("qk_norm_type")? {
            None | Some("per_layer") => QkNorm::AcrossHeads,
            Some("per_head") => QkNorm::PerHead,
            Some(other) => {
                return Err(CalcError::field(
                    keys.path("qk_norm_type"),
                    format!(
                        "'{}' is not a q/k norm layout; per_layer or per_head",
                        crate::suggest::clip(other)
                    ),
                ))
            }
        };
    }
    let expert_width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    arch.intermediate_size = expert_width;
    let experts = Experts {
        count_keys: &["num_local_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: keys.flag("use_routing_bias")?.unwrap_or(true),
        default_count: None,
    };
    read_moe(keys, arch, experts, expert_width, 0, |_| true)
}
