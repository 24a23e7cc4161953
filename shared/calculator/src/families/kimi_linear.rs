//! Kimi-Linear (`kimi_linear`): Kimi Delta Attention (KDA) linear layers on the layers
//! `linear_attn_config.kda_layers` lists (1-based) and DeepSeek-V3's multi-head latent
//! attention without a query latent on the others, with DeepSeek-V3's experts.
//!
//! A KDA layer (vllm-project/vllm@1d03ed8fbdcb127140c12f2d2f15a7192c3daf0c `vllm/model_executor/layers/kda.py`, and Moonshot's `modeling_kimi.py`, <https://huggingface.co/moonshotai/Kimi-Linear-48B-A3B-Instruct/blob/main/modeling_kimi.py>)
//! holds q, k and v projections over `num_heads x head_dim`, a depthwise short
//! convolution (no bias) over each, a low-rank forget gate (`f_a_proj` to `head_dim`,
//! `f_b_proj` back), a write strength per head (`b_proj`), a low-rank output gate
//! (`g_a_proj`, `g_b_proj`), `dt_bias` per channel, `A_log` per head, a gated norm over
//! one head and `o_proj`. It keeps per sequence the three convolutions' last inputs and
//! a `head_dim x head_dim` fp32 matrix per head. Moonshot's modelling code caches the
//! MLA layers' decompressed keys and values per head, not the latent.

use serde_json::Value;

use super::deepseek::read_deepseek_v3;
use super::family::{no_layer_slides, set_mixer, Family, DELTA_RULE_CHUNK};
use crate::architecture::{Architecture, MixerKind, StateMixer};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `kimi_linear`
pub const KIMI_LINEAR: Family = Family {
    name: "kimi_linear",
    aliases: &[],
    ties_embeddings: false,
    // Moonshot's checkpoints nest the KDA settings in `linear_attn_config`; transformers
    // 5's `KimiLinearConfig` writes them flat, with `layer_types` naming the layers.
    feature_keys: &[
        "linear_attn_config",
        "linear_num_heads",
        "linear_head_dim",
        "linear_conv_kernel_dim",
        "linear_attention",
    ],
    read: read_kimi_linear,
    sliding_layers: no_layer_slides,
};

/// `short_conv_kernel_size` when `linear_attn_config` does not state it, and
/// transformers' `linear_conv_kernel_dim` default.
const DEFAULT_SHORT_CONV: u64 = 4;

/// transformers 5's `KimiLinearConfig` defaults for the flat spelling
/// (`linear_head_dim`, `linear_num_heads`; huggingface/transformers v5.25.0
/// `src/transformers/models/kimi_linear/configuration_kimi_linear.py`), and that
/// release's default layer pattern when `layer_types` is absent: full attention on
/// every fourth layer from the fifth, KDA elsewhere (other releases place it
/// differently; a config that states `layer_types` is read as stated).
const FLAT_HEAD_DIM: u64 = 128;
const FLAT_HEADS: u64 = 32;
const FLAT_FULL_EVERY: u64 = 4;

/// The KDA layers' heads, head width, short-convolution kernel and which layers they
/// are, from `linear_attn_config` or from transformers 5's flat keys.
struct Kda {
    heads: u64,
    head_dim: u64,
    kernel: u64,
    mask: Vec<bool>,
}

fn read_kda(keys: &Keys, layers: u64) -> Result<Kda, CalcError> {
    if let Some((cfg, path)) = keys.object("linear_attn_config")? {
        let linear = Keys::new(cfg, &path);
        return Ok(Kda {
            heads: linear.required(&["num_heads"], 1, limits::MAX_HEADS)?,
            head_dim: linear.required(&["head_dim"], 1, limits::MAX_HEAD_DIM)?,
            kernel: linear.uint_or(
                &["short_conv_kernel_size"],
                1,
                limits::MAX_HEAD_DIM,
                DEFAULT_SHORT_CONV,
            )?,
            mask: kda_layers(cfg.get("kda_layers"), &path, layers)?,
        });
    }
    let mask = match keys.layer_types(layers)? {
        Some(types) => types
            .iter()
            .map(|t| match *t {
                "linear_attention" => Ok(true),
                "full_attention" => Ok(false),
                _ => Err(CalcError::field(
                    keys.path("layer_types"),
                    "may hold only linear_attention and full_attention",
                )),
            })
            .collect::<Result<Vec<bool>, CalcError>>()?,
        None => (0..layers)
            .map(|i| !(i > 0 && i % FLAT_FULL_EVERY == 0))
            .collect(),
    };
    Ok(Kda {
        heads: keys.uint_or(&["linear_num_heads"], 1, limits::MAX_HEADS, FLAT_HEADS)?,
        head_dim: keys.uint_or(&["linear_head_dim"], 1, limits::MAX_HEAD_DIM, FLAT_HEAD_DIM)?,
        kernel: keys.uint_or(
            &["linear_conv_kernel_dim"],
            1,
            limits::MAX_HEAD_DIM,
            DEFAULT_SHORT_CONV,
        )?,
        mask,
    })
}

fn read_kimi_linear(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_deepseek_v3(keys, c, arch)?;
    if let Some(m) = arch.mla.as_mut() {
        m.expanded_cache = true;
    }
    let Kda {
        heads,
        head_dim: d,
        kernel,
        mask,
    } = read_kda(keys, c.layers)?;
    let width = heads * d;
    let (w, dd, hh) = (width as u128, d as u128, heads as u128);
    set_mixer(
        arch,
        mask,
        StateMixer {
            kind: MixerKind::KimiDelta,
            layers: 0,
            heads,
            // q, k, v; the forget gate's and the output gate's low-rank inputs; b.
            in_proj: 3 * width + 2 * d + heads,
            // q, k, v, f_a, g_a and b; the gates' second halves read the rank-d first.
            in_matrices: 6,
            low_rank: d,
            qwen3_5_code: false,
            out_proj: width,
            conv_channels: 3 * width,
            conv_kernel: kernel,
            // The three convolutions, f_b and g_b (head_dim -> width), dt_bias per
            // channel, A_log per head, the gated norm over one head.
            other_params: 3 * w * kernel as u128 + 2 * dd * w + w + hh + dd,
            recurrent_state: heads * d * d,
            scan_chunk: Some(DELTA_RULE_CHUNK),
            groups: 0,
            group_channels: 0,
            // vLLM's `kda_state_dtype` always keeps it in fp32.
            vllm_state_fp32: true,
        },
    );
    Ok(())
}

/// One flag per layer: whether `kda_layers` (1-based layer numbers) lists it.
fn kda_layers(list: Option<&Value>, path: &str, layers: u64) -> Result<Vec<bool>, CalcError> {
    let bad = || {
        CalcError::field(
            format!("{path}.kda_layers"),
            format!("must be a list of at most {layers} layer numbers from 1 to {layers}"),
        )
    };
    let list = list
        .and_then(Value::as_array)
        .filter(|l| l.len() as u64 <= layers)
        .ok_or_else(bad)?;
    let mut mask = vec![false; layers as usize];
    for v in list {
        let n = v
            .as_u64()
            .filter(|n| (1..=layers).contains(n))
            .ok_or_else(bad)?;
        mask[n as usize - 1] = true;
    }
    Ok(mask)
}
