//! Llama 4 (`llama4_text`; the multimodal `llama4` wrapper's `text_config`): experts
//! on every `interleave_moe_layer_step`-th layer (or the layers `moe_layers` lists),
//! each MoE layer with `num_local_experts` routed experts of `intermediate_size`, one
//! shared expert of the same width and a bias-free router; the other layers are dense
//! MLPs of `intermediate_size_mlp`. Three of every four layers use rotary positions
//! and chunked local attention over `attention_chunk_size` tokens (their cache never
//! holds more than one chunk, read as a window); every `no_rope_layer_interval`-th
//! layer is global without positions. The rotary layers normalize q and k per head
//! without a weight.

use super::family::{read_moe, Experts, Family};
use crate::architecture::{Architecture, QkNorm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `llama4_text`
pub const LLAMA4: Family = Family {
    name: "llama4_text",
    aliases: &["llama4"],
    ties_embeddings: false,
    feature_keys: &["attention_chunk_size", "interleave_moe_layer_step"],
    read: read_llama4,
    sliding_layers: chunked_layers,
};

/// Defaults of `Llama4TextConfig`: `num_experts_per_tok`, `interleave_moe_layer_step`,
/// and the interval of the global (no-rope) layers.
const DEFAULT_TOP_K: u64 = 1;
const DEFAULT_MOE_STEP: u64 = 1;
const NO_ROPE_LAYER_INTERVAL: u64 = 4;
const DEFAULT_CHUNK: u64 = 8192;

fn read_llama4(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.chunked_window = true;
    // The chunk when the config states none (`attention_chunk_size`).
    arch.sliding_window = Some(DEFAULT_CHUNK);
    if keys.flag("use_qk_norm")?.unwrap_or(true) {
        arch.qk_norm = QkNorm::Unweighted;
    }
    let expert_width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    arch.intermediate_size =
        keys.required(&["intermediate_size_mlp"], 1, limits::MAX_INTERMEDIATE)?;
    let listed = keys.index_list("moe_layers", c.layers)?;
    let step = keys.uint_or(
        &["interleave_moe_layer_step"],
        1,
        limits::MAX_LAYERS,
        DEFAULT_MOE_STEP,
    )?;
    let moe_layers: Vec<bool> = if keys.find(&["moe_layers"]).is_some() {
        listed
    } else {
        // `Llama4TextConfig`: layers step-1, 2·step-1, …
        (0..c.layers).map(|i| (i + 1) % step == 0).collect()
    };
    let experts = Experts {
        count_keys: &["num_local_experts"],
        default_top_k: DEFAULT_TOP_K,
        router_bias: false,
        default_count: None,
    };
    read_moe(keys, arch, experts, expert_width, expert_width, |i| {
        moe_layers[i as usize]
    })?;
    if let Some(moe) = arch.moe.as_mut() {
        // The routed experts' gate and up are one `gate_up_proj` parameter.
        moe.fused_expert_gate_up = true;
    }
    Ok(())
}

/// Layers with rotary positions attend in chunks: those `no_rope_layers` marks 1, or by
/// default all but every `no_rope_layer_interval`-th (4).
fn chunked_layers(keys: &Keys, c: &Common) -> Result<u64, CalcError> {
    let empty = keys
        .find(&["no_rope_layers"])
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|l| l.is_empty());
    match keys.flag_list("no_rope_layers", c.layers) {
        // An empty list means the default, as in `Llama4TextConfig`.
        _ if empty => {}
        Ok(Some(rope)) => return Ok(rope.iter().filter(|r| **r).count() as u64),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    let interval = keys.uint_or(
        &["no_rope_layer_interval"],
        1,
        limits::MAX_LAYERS,
        NO_ROPE_LAYER_INTERVAL,
    )?;
    Ok(c.layers - c.layers / interval)
}
