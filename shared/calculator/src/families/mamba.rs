//! Mamba hybrids: decoders whose layers mix attention with Mamba state-space layers,
//! which keep a fixed state per sequence (methodology §4.3).
//!
//! - `nemotron_h` (Nemotron-H, Nemotron Nano 2 and 3): each block holds one mixer, named
//!   by `hybrid_override_pattern` (`M` Mamba-2, `*` attention, `-` a squared-ReLU MLP,
//!   `E` squared-ReLU experts), with one norm; no positions in attention.
//! - `granitemoehybrid` (Granite 4.0 H): `layer_types` of `mamba` and `attention`, every
//!   layer with a gated shared MLP and, where configured, experts.
//! - `falcon_h1` (Falcon-H1): attention and Mamba-2 side by side in every layer, then a
//!   gated MLP.
//! - `jamba` (Jamba): attention on every `attn_layer_period`-th layer, Mamba (-1) on the
//!   others, experts on every `expert_layer_period`-th.
//!
//! A Mamba-2 layer holds `in_proj` (hidden -> z and x over `d_inner`, B and C over
//! `n_groups x d_state`, one step size per head), a depthwise causal `conv1d` over x, B
//! and C, `dt_bias`, `A_log` and `D` per head, a gated RMSNorm over `d_inner` and
//! `out_proj`. It keeps per sequence the convolution's last inputs and one
//! `head_dim x d_state` matrix per head. A Mamba-1 layer keeps one `d_state` vector per
//! channel of `d_inner`.

use super::{no_layer_slides, read_moe, set_mixer, Experts, Family};
use crate::architecture::{Architecture, MixerKind, StateMixer};
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

/// `granitemoehybrid`
pub const GRANITE_MOE_HYBRID: Family = Family {
    name: "granitemoehybrid",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[
        "mamba_d_state",
        "mamba_n_heads",
        "mamba_expand",
        "mamba",
        "attention",
    ],
    read: read_granite,
    sliding_layers: no_layer_slides,
};

/// `falcon_h1`
pub const FALCON_H1: Family = Family {
    name: "falcon_h1",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &["mamba_d_state", "mamba_n_heads", "mamba_expand"],
    read: read_falcon_h1,
    sliding_layers: no_layer_slides,
};

/// `jamba`
pub const JAMBA: Family = Family {
    name: "jamba",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &["mamba_d_state", "mamba_expand", "attn_layer_period"],
    read: read_jamba,
    sliding_layers: no_layer_slides,
};

/// `chunk_size` of transformers' `Mamba2Config`, for configs that do not state theirs.
const MAMBA2_CHUNK: u64 = 256;

/// The shape of one Mamba-2 layer, in the config's terms.
struct Mamba2 {
    heads: u64,
    head_dim: u64,
    d_inner: u64,
    groups: u64,
    d_state: u64,
    kernel: u64,
    conv_bias: bool,
    in_proj_bias: bool,
    out_proj_bias: bool,
    norm: bool,
    chunk: u64,
    /// vLLM keeps the SSM state in fp32 (Nemotron-H).
    vllm_state_fp32: bool,
}

impl Mamba2 {
    fn mixer(&self, hidden: u64) -> StateMixer {
        let bc = 2 * self.groups * self.d_state;
        let in_proj = 2 * self.d_inner + bc + self.heads;
        let conv_channels = self.d_inner + bc;
        let flag = |on: bool, n: u64| if on { n as u128 } else { 0 };
        StateMixer {
            kind: MixerKind::Mamba2,
            layers: 0,
            heads: self.heads,
            in_proj,
            in_matrices: 1,
            low_rank: 0,
            qwen3_5_code: false,
            out_proj: self.d_inner,
            conv_channels,
            conv_kernel: self.kernel,
            // conv1d (and its bias), dt_bias, A_log and D per head, the gated norm, and
            // the projections' biases.
            other_params: (conv_channels * self.kernel) as u128
                + flag(self.conv_bias, conv_channels)
                + 3 * self.heads as u128
                + flag(self.norm, self.d_inner)
                + flag(self.in_proj_bias, in_proj)
                + flag(self.out_proj_bias, hidden),
            recurrent_state: self.heads * self.head_dim * self.d_state,
            scan_chunk: Some(self.chunk),
            groups: self.groups,
            group_channels: 2 * self.d_state,
            vllm_state_fp32: self.vllm_state_fp32,
        }
    }
}

/// `mamba_expand x hidden_size`, at most the largest MLP width.
fn expanded(keys: &Keys, hidden: u64) -> Result<u64, CalcError> {
    let expand = keys.uint_or(&["mamba_expand"], 1, limits::MAX_HEAD_DIM, 2)?;
    let d_inner = expand * hidden;
    if d_inner > limits::MAX_INTERMEDIATE {
        return Err(CalcError::field(
            keys.path("mamba_expand"),
            format!(
                "makes a Mamba inner width of {d_inner}; at most {}",
                limits::MAX_INTERMEDIATE
            ),
        ));
    }
    Ok(d_inner)
}

/// `n_heads x head_dim` must be the inner width the projections use.
fn check_inner(keys: &Keys, m: &Mamba2, heads_key: &str) -> Result<(), CalcError> {
    if m.heads * m.head_dim != m.d_inner {
        return Err(CalcError::field(
            keys.path(heads_key),
            format!(
                "{} heads x head_dim {} must equal the Mamba inner width {}",
                m.heads, m.head_dim, m.d_inner
            ),
        ));
    }
    if !m.heads.is_multiple_of(m.groups) {
        return Err(CalcError::field(
            keys.path(heads_key),
            format!("must be a multiple of the Mamba groups ({})", m.groups),
        ));
    }
    Ok(())
}

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

/// A flag under any of `names`, or `default`.
fn flag(keys: &Keys, names: &[&'static str], default: bool) -> Result<bool, CalcError> {
    for name in names {
        if let Some(v) = keys.flag(name)? {
            return Ok(v);
        }
    }
    Ok(default)
}

/// Defaults of `GraniteMoeHybridConfig`: `num_experts_per_tok`, `num_local_experts`,
/// `shared_intermediate_size`, `mamba_n_heads`.
const GRANITE_TOP_K: u64 = 2;
const GRANITE_EXPERTS: u64 = 8;
const GRANITE_SHARED: u64 = 1024;
const GRANITE_MAMBA_HEADS: u64 = 128;

fn read_granite(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    // `GraniteMoeHybridConfig` makes every layer Mamba when `layer_types` is absent.
    let mamba_layers: Vec<bool> = match keys.layer_types(c.layers)? {
        Some(types) => types.iter().map(|t| *t == "mamba").collect(),
        None => vec![true; c.layers as usize],
    };
    let shared = keys.uint_or(
        &["shared_intermediate_size"],
        1,
        limits::MAX_INTERMEDIATE,
        GRANITE_SHARED,
    )?;
    let experts = keys.uint_or(
        &["num_local_experts"],
        0,
        limits::MAX_EXPERTS,
        GRANITE_EXPERTS,
    )?;
    if experts == 0 {
        // No experts (Granite 4.0 Micro): the shared MLP is the dense MLP.
        arch.intermediate_size = shared;
    } else {
        let width = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
        let e = Experts {
            count_keys: &["num_local_experts"],
            default_top_k: GRANITE_TOP_K,
            router_bias: false,
            default_count: Some(GRANITE_EXPERTS),
        };
        read_moe(keys, arch, e, width, shared, |_| true)?;
    }
    if mamba_layers.iter().any(|m| *m) {
        let heads = keys.uint_or(
            &["mamba_n_heads"],
            1,
            limits::MAX_HEADS,
            GRANITE_MAMBA_HEADS,
        )?;
        let d_inner = expanded(keys, c.hidden)?;
        // `mamba_d_head` "auto" (the class default) is the inner width over the heads.
        let head_dim = match keys.find(&["mamba_d_head"]) {
            None => d_inner / heads,
            Some((_, v)) if v.as_str() == Some("auto") => d_inner / heads,
            Some(_) => keys.required(&["mamba_d_head"], 1, limits::MAX_HEAD_DIM)?,
        };
        let m = Mamba2 {
            heads,
            head_dim,
            d_inner,
            groups: keys.uint_or(&["mamba_n_groups"], 1, limits::MAX_HEAD_DIM, 1)?,
            d_state: keys.uint_or(&["mamba_d_state"], 1, limits::MAX_HEAD_DIM, 256)?,
            kernel: keys.uint_or(&["mamba_d_conv"], 1, limits::MAX_HEAD_DIM, 4)?,
            conv_bias: flag(keys, &["mamba_conv_bias"], true)?,
            in_proj_bias: flag(keys, &["mamba_proj_bias"], false)?,
            out_proj_bias: flag(keys, &["mamba_proj_bias"], false)?,
            norm: true,
            chunk: keys.uint_or(&["mamba_chunk_size"], 1, limits::MAX_HEAD_DIM, MAMBA2_CHUNK)?,
            vllm_state_fp32: false,
        };
        check_inner(keys, &m, "mamba_n_heads")?;
        set_mixer(arch, mamba_layers, m.mixer(c.hidden));
    }
    Ok(())
}

fn read_falcon_h1(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    let d_inner = match keys.uint(&["mamba_d_ssm"], 1, limits::MAX_INTERMEDIATE)? {
        Some(d) => d,
        None => expanded(keys, c.hidden)?,
    };
    let m = Mamba2 {
        heads: keys.required(&["mamba_n_heads"], 1, limits::MAX_HEADS)?,
        head_dim: keys.required(&["mamba_d_head"], 1, limits::MAX_HEAD_DIM)?,
        d_inner,
        groups: keys.uint_or(&["mamba_n_groups"], 1, limits::MAX_HEAD_DIM, 1)?,
        d_state: keys.uint_or(&["mamba_d_state"], 1, limits::MAX_HEAD_DIM, 256)?,
        kernel: keys.uint_or(&["mamba_d_conv"], 1, limits::MAX_HEAD_DIM, 4)?,
        conv_bias: flag(keys, &["mamba_conv_bias"], true)?,
        in_proj_bias: flag(keys, &["mamba_proj_bias"], false)?,
        out_proj_bias: flag(keys, &["projectors_bias"], false)?,
        norm: flag(keys, &["mamba_rms_norm"], false)?,
        chunk: keys.uint_or(&["mamba_chunk_size"], 1, limits::MAX_HEAD_DIM, MAMBA2_CHUNK)?,
        vllm_state_fp32: false,
    };
    check_inner(keys, &m, "mamba_n_heads")?;
    // Every layer holds both, side by side.
    set_mixer(arch, vec![true; c.layers as usize], m.mixer(c.hidden));
    arch.attention_layers = c.layers;
    arch.attention_layer_mask = Vec::new();
    Ok(())
}

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
