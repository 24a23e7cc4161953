//! gpt-oss: attention with biases (on by default) and one learned sink logit per head,
//! `num_local_experts` experts with biased projections and a biased router, local and
//! global layers alternating.

use super::family::{alternate_layers_slide, read_moe, Experts, Family};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `gpt_oss`
pub const GPT_OSS: Family = Family {
    name: "gpt_oss",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_gpt_oss,
    sliding_layers: alternate_layers_slide,
};

/// `GptOssConfig.num_experts_per_tok`.
const DEFAULT_TOP_K: u64 = 4;

fn read_gpt_oss(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    let bias = c.attention_bias.unwrap_or(true);
    arch.qkv_bias = bias;
    arch.o_bias = bias;
    arch.attention_sinks = true;
    let expert_width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    arch.intermediate_size = expert_width;
    let experts = Experts {
        count_keys: &["num_local_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: true,
        default_count: None,
    };
    read_moe(keys, arch, experts, expert_width, 0, |_| true)?;
    if let Some(moe) = arch.moe.as_mut() {
        moe.expert_bias = true;
        // Every expert's gate and up are one interleaved `gate_up_proj`.
        moe.fused_expert_gate_up = true;
    }
    Ok(())
}
