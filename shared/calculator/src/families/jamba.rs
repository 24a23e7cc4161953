//! `jamba` (Jamba): attention on every `attn_layer_period`-th layer, Mamba (-1) on the
//! others, experts on every `expert_layer_period`-th.

use super::family::{no_layer_slides, read_moe, set_mixer, Experts, Family};
use super::mamba::{expanded, flag};
use crate::architecture::{Architecture, MixerKind, StateMixer};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `jamba`
pub const JAMBA: Family = Family {
    name: "jamba",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &["mamba_d_state", "mamba_expand", "attn_layer_period"],
    read: read_jamba,
    sliding_layers: no_layer_slides,
};

/// Defaults of `JambaConfig`.
const JAMBA_ATTN_PERIOD: u64 = 8;

const JAMBA_ATTN_OFFSET: u64 = 4;

const JAMBA_EXPERT_PERIOD: u64 = 2;

const JAMBA_EXPERT_OFFSET: u64 = 1;

const JAMBA_TOP_K: u64 = 2;

const JAMBA_EXPERTS: u64 = 16;

fn read_jamba(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let period = |name, default| keys.uint_or(&[name], 1, limits::MAX_LAYERS, default);
    let offset = |name, default| keys.uint_or(&[name], 0, limits::MAX_LAYERS, default);
    let (ap, ao) = (
        period("attn_layer_period", JAMBA_ATTN_PERIOD)?,
        offset("attn_layer_offset", JAMBA_ATTN_OFFSET)?,
    );
    let (ep, eo) = (
        period("expert_layer_period", JAMBA_EXPERT_PERIOD)?,
        offset("expert_layer_offset", JAMBA_EXPERT_OFFSET)?,
    );
    if ao >= ap {
        return Err(CalcError::field(
            keys.path("attn_layer_offset"),
            format!("must be below attn_layer_period ({ap})"),
        ));
    }
    if eo >= ep {
        return Err(CalcError::field(
            keys.path("expert_layer_offset"),
            format!("must be below expert_layer_period ({ep})"),
        ));
    }
    let experts = keys.uint_or(
        &["num_experts", "num_local_experts"],
        1,
        limits::MAX_EXPERTS,
        JAMBA_EXPERTS,
    )?;
    if experts > 1 {
        let e = Experts {
            count_keys: &["num_experts", "num_local_experts"],
            default_top_k: JAMBA_TOP_K,
            router_bias: false,
            default_count: Some(JAMBA_EXPERTS),
        };
        let width = arch.intermediate_size;
        read_moe(keys, arch, e, width, 0, |i| i % ep == eo)?;
    }
    let d_inner = expanded(keys, c.hidden)?;
    let d_state = keys.uint_or(&["mamba_d_state"], 1, limits::MAX_HEAD_DIM, 16)?;
    let kernel = keys.uint_or(&["mamba_d_conv"], 1, limits::MAX_HEAD_DIM, 4)?;
    let dt_rank = match keys.find(&["mamba_dt_rank"]) {
        Some((_, v)) if v.as_str() == Some("auto") => c.hidden.div_ceil(16),
        _ => keys.uint_or(
            &["mamba_dt_rank"],
            1,
            limits::MAX_INTERMEDIATE,
            c.hidden.div_ceil(16),
        )?,
    } as u128;
    let proj_bias = flag(keys, &["mamba_proj_bias"], false)?;
    let conv_bias = flag(keys, &["mamba_conv_bias"], true)?;
    let inner_norms = flag(keys, &["mamba_inner_layernorms"], true)?;
    let (di, n, h) = (d_inner as u128, d_state as u128, c.hidden as u128);
    let bias = |on: bool, w: u128| if on { w } else { 0 };
    let mixer = StateMixer {
        kind: MixerKind::Mamba1,
        layers: 0,
        heads: d_inner,
        in_proj: 2 * d_inner,
        in_matrices: 1,
        low_rank: dt_rank as u64,
        qwen3_5_code: false,
        out_proj: d_inner,
        conv_channels: d_inner,
        conv_kernel: kernel,
        // conv1d (and bias), x_proj (d_inner -> dt_rank + 2 d_state), dt_proj and its
        // bias, A_log (d_inner x d_state), D, the dt/B/C norms, projection biases.
        other_params: di * kernel as u128
            + bias(conv_bias, di)
            + di * (dt_rank + 2 * n)
            + dt_rank * di
            + di
            + di * n
            + di
            + bias(inner_norms, dt_rank + 2 * n)
            + bias(proj_bias, 2 * di + h),
        recurrent_state: d_inner * d_state,
        scan_chunk: None,
        groups: 0,
        group_channels: 0,
        vllm_state_fp32: false,
    };
    let mask = (0..c.layers).map(|i| i % ap != ao).collect();
    set_mixer(arch, mask, mixer);
    Ok(())
}
