//! Mixtral: Mistral's attention with `num_local_experts` routed experts of
//! `intermediate_size` in every layer, top-2 by default.

use super::family::{every_layer_slides, read_moe, Experts, Family};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `mixtral`: a `sliding_window` applies to every layer.
pub const MIXTRAL: Family = Family {
    name: "mixtral",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_mixtral,
    sliding_layers: every_layer_slides,
};

/// `MixtralConfig.num_experts_per_tok`.
const DEFAULT_TOP_K: u64 = 2;

fn read_mixtral(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.qkv_bias = false;
    arch.o_bias = false;
    let expert_width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    arch.intermediate_size = expert_width;
    let experts = Experts {
        count_keys: &["num_local_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: false,
        default_count: None,
    };
    read_moe(keys, arch, experts, expert_width, 0, |_| true)
}
