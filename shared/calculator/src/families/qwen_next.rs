//! Qwen3-Next (`qwen3_next`): Gated DeltaNet linear attention in three of every four
//! layers (`full_attention_interval`, or `layer_types`), gated softmax attention in the
//! others, and Qwen2-MoE's experts (a gated shared expert) on every layer.
//!
//! The attention layers are Qwen3's (per-head q/k RMSNorm, no biases) with a query
//! projection twice as wide: half of it is a sigmoid gate on the attention output.
//! A Gated DeltaNet layer (`Qwen3NextGatedDeltaNet`) holds `in_proj_qkvz` (queries and
//! keys over `linear_num_key_heads`, values and the output gate z over
//! `linear_num_value_heads`), `in_proj_ba` (one decay input a and one write strength b
//! per value head), a depthwise causal `conv1d` without bias over q, k and v, `dt_bias`
//! and `A_log` per value head, a gated RMSNorm over one value head and `out_proj`. It
//! keeps no per-token cache: per sequence, the convolution's last inputs and one
//! `d_k x d_v` matrix per value head (methodology §4.3).

use super::family::{
    no_layer_slides, read_dense, read_mtp_layers, set_mixer, Family, DELTA_RULE_CHUNK,
};
use super::qwen::read_qwen_moe;
use crate::architecture::{Architecture, MixerKind, QkNorm, StateMixer};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `qwen3_next`
pub const QWEN3_NEXT: Family = Family {
    name: "qwen3_next",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: GATED_DELTANET_KEYS,
    read: read_qwen3_next,
    sliding_layers: no_layer_slides,
};

/// `qwen3_5_text` (the language model of the `qwen3_5` wrapper): Qwen3-Next's layers
/// with a dense MLP. Its projections are split (`in_proj_qkv` and `in_proj_z`,
/// `in_proj_b` and `in_proj_a`), which changes no count.
pub const QWEN3_5: Family = Family {
    name: "qwen3_5_text",
    aliases: &["qwen3_5"],
    ties_embeddings: false,
    feature_keys: GATED_DELTANET_KEYS,
    read: read_qwen3_5,
    sliding_layers: no_layer_slides,
};

/// `qwen3_5_moe_text` (the language model of the `qwen3_5_moe` wrapper): Qwen3-Next's
/// layers and experts.
pub const QWEN3_5_MOE: Family = Family {
    name: "qwen3_5_moe_text",
    aliases: &["qwen3_5_moe"],
    ties_embeddings: false,
    feature_keys: GATED_DELTANET_KEYS,
    read: read_qwen3_5_moe,
    sliding_layers: no_layer_slides,
};

/// `Qwen3_5MoeTextConfig.num_experts_per_tok`.
const QWEN3_5_MOE_TOP_K: u64 = 8;

/// The keys (and the `layer_types` entry) of Gated DeltaNet layers.
pub(super) const GATED_DELTANET_KEYS: &[&str] = &[
    "linear_num_value_heads",
    "linear_num_key_heads",
    "linear_conv_kernel_dim",
    "linear_attention",
];

/// Defaults of `Qwen3NextConfig`.
const DEFAULT_TOP_K: u64 = 10;
const DEFAULT_FULL_ATTENTION_INTERVAL: u64 = 4;
const DEFAULT_CONV_KERNEL: u64 = 4;
const DEFAULT_KEY_HEAD_DIM: u64 = 128;
const DEFAULT_VALUE_HEAD_DIM: u64 = 128;
const DEFAULT_KEY_HEADS: u64 = 16;
const DEFAULT_VALUE_HEADS: u64 = 32;

fn read_qwen3_next(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    gated_attention(keys, arch)?;
    // vLLM's `Qwen3NextMTP` reads `num_nextn_predict_layers`, 1 when the config (as the
    // released one) does not state it.
    read_mtp_layers(keys, arch, &["num_nextn_predict_layers"], 1)?;
    read_qwen_moe(keys, c, arch, true, DEFAULT_TOP_K)?;
    read_gated_deltanet(keys, c, arch)
}

fn read_qwen3_5(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    gated_attention(keys, arch)?;
    read_mtp_layers(keys, arch, &["mtp_num_hidden_layers"], 0)?;
    read_dense(keys, c, arch)?;
    read_gated_deltanet(keys, c, arch)
}

fn read_qwen3_5_moe(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    gated_attention(keys, arch)?;
    read_mtp_layers(keys, arch, &["mtp_num_hidden_layers"], 0)?;
    read_qwen_moe(keys, c, arch, true, QWEN3_5_MOE_TOP_K)?;
    read_gated_deltanet(keys, c, arch)
}

/// Qwen3's attention (per-head q/k norm) with the output gate, which Qwen3.5 configs
/// state as `attn_output_gate` (on by default, as Qwen3-Next always has it).
fn gated_attention(keys: &Keys, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.qk_norm = QkNorm::PerHead;
    arch.attn_output_gate = keys.flag("attn_output_gate")?.unwrap_or(true);
    Ok(())
}

/// Reads the Gated DeltaNet layers and which layers they are: those `layer_types` names
/// `linear_attention`, else all but every `full_attention_interval`-th.
pub(super) fn read_gated_deltanet(
    keys: &Keys,
    c: &Common,
    arch: &mut Architecture,
) -> Result<(), CalcError> {
    let width = |name, default| keys.uint_or(&[name], 1, limits::MAX_HEAD_DIM, default);
    let heads = |name, default| keys.uint_or(&[name], 1, limits::MAX_HEADS, default);
    let d_k = width("linear_key_head_dim", DEFAULT_KEY_HEAD_DIM)?;
    let d_v = width("linear_value_head_dim", DEFAULT_VALUE_HEAD_DIM)?;
    let n_k = heads("linear_num_key_heads", DEFAULT_KEY_HEADS)?;
    let n_v = heads("linear_num_value_heads", DEFAULT_VALUE_HEADS)?;
    if !n_v.is_multiple_of(n_k) {
        return Err(CalcError::field(
            keys.path("linear_num_value_heads"),
            format!("must be a multiple of linear_num_key_heads ({n_k})"),
        ));
    }
    let kernel = width("linear_conv_kernel_dim", DEFAULT_CONV_KERNEL)?;
    let (key_dim, value_dim) = (n_k * d_k, n_v * d_v);
    let qwen3_5 = arch.model_type.starts_with("qwen3_5");
    let conv_channels = 2 * key_dim + value_dim;
    let mask = match keys.layer_types(c.layers)? {
        Some(types) => types.iter().map(|t| *t == "linear_attention").collect(),
        None => {
            let interval = keys
                .uint(&["full_attention_interval"], 1, limits::MAX_LAYERS)?
                .unwrap_or(DEFAULT_FULL_ATTENTION_INTERVAL);
            (0..c.layers).map(|i| (i + 1) % interval != 0).collect()
        }
    };
    set_mixer(
        arch,
        mask,
        StateMixer {
            kind: MixerKind::GatedDeltaNet,
            layers: 0,
            heads: n_v,
            // q, k, v and z; then b and a per value head.
            in_proj: 2 * key_dim + 2 * value_dim + 2 * n_v,
            // Qwen3-Next fuses them as qkvz and ba; Qwen3.5 keeps qkv, z, b and a.
            in_matrices: if qwen3_5 { 4 } else { 2 },
            low_rank: 0,
            qwen3_5_code: qwen3_5,
            out_proj: value_dim,
            conv_channels,
            conv_kernel: kernel,
            // conv1d weight (no bias), dt_bias and A_log per value head, the norm over
            // one value head.
            other_params: (conv_channels * kernel + 2 * n_v + d_v) as u128,
            recurrent_state: n_v * d_k * d_v,
            scan_chunk: Some(DELTA_RULE_CHUNK),
            groups: 0,
            group_channels: 0,
            // Qwen3.5's configs ask for an fp32 state (`mamba_ssm_dtype`), which vLLM
            // applies; Qwen3-Next's do not.
            vllm_state_fp32: keys.text("mamba_ssm_dtype")? == Some("float32"),
        },
    );
    Ok(())
}
