//! The Mamba-2 mixer the Mamba hybrids share: its shape from a config's keys and the
//! checks on it (methodology §4.3). The families are `nemotron_h`, `granite`,
//! `falcon_h1` and `jamba`.
//!
//! A Mamba-2 layer holds `in_proj` (hidden -> z and x over `d_inner`, B and C over
//! `n_groups x d_state`, one step size per head), a depthwise causal `conv1d` over x, B
//! and C, `dt_bias`, `A_log` and `D` per head, a gated RMSNorm over `d_inner` and
//! `out_proj`. It keeps per sequence the convolution's last inputs and one
//! `head_dim x d_state` matrix per head. A Mamba-1 layer keeps one `d_state` vector per
//! channel of `d_inner`.

use crate::architecture::{MixerKind, StateMixer};
use crate::error::CalcError;
use crate::keys::Keys;
use crate::limits;

/// `chunk_size` of transformers' `Mamba2Config`, for configs that do not state theirs.
pub(super) const MAMBA2_CHUNK: u64 = 256;

/// The shape of one Mamba-2 layer, in the config's terms.
pub(super) struct Mamba2 {
    pub heads: u64,
    pub head_dim: u64,
    pub d_inner: u64,
    pub groups: u64,
    pub d_state: u64,
    pub kernel: u64,
    pub conv_bias: bool,
    pub in_proj_bias: bool,
    pub out_proj_bias: bool,
    pub norm: bool,
    pub chunk: u64,
    /// vLLM keeps the SSM state in fp32 (Nemotron-H).
    pub vllm_state_fp32: bool,
}

impl Mamba2 {
    pub(super) fn mixer(&self, hidden: u64) -> StateMixer {
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
pub(super) fn expanded(keys: &Keys, hidden: u64) -> Result<u64, CalcError> {
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
pub(super) fn check_inner(keys: &Keys, m: &Mamba2, heads_key: &str) -> Result<(), CalcError> {
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

/// A flag under any of `names`, or `default`.
pub(super) fn flag(keys: &Keys, names: &[&'static str], default: bool) -> Result<bool, CalcError> {
    for name in names {
        if let Some(v) = keys.flag(name)? {
            return Ok(v);
        }
    }
    Ok(default)
}

/// How the `mamba_`-prefixed configs (Falcon-H1, Granite-4.0-H) name what the other
/// families spell their own way.
pub(super) struct PrefixedKeys {
    /// The key of the output projection's bias.
    pub out_proj_bias: &'static str,
    /// The key of the gated norm's switch; `None`: the norm is always there.
    pub norm: Option<&'static str>,
}

/// A Mamba-2 layer of `heads` × `head_dim` (inner width `d_inner`) read from the
/// `mamba_*` keys both prefixed families share, with their config classes' common
/// defaults (1 group, state 256, kernel 4, conv bias on, projection bias off).
pub(super) fn prefixed_mamba2(
    keys: &Keys,
    (heads, head_dim, d_inner): (u64, u64, u64),
    names: PrefixedKeys,
) -> Result<Mamba2, CalcError> {
    Ok(Mamba2 {
        heads,
        head_dim,
        d_inner,
        groups: keys.uint_or(&["mamba_n_groups"], 1, limits::MAX_HEAD_DIM, 1)?,
        d_state: keys.uint_or(&["mamba_d_state"], 1, limits::MAX_HEAD_DIM, 256)?,
        kernel: keys.uint_or(&["mamba_d_conv"], 1, limits::MAX_HEAD_DIM, 4)?,
        conv_bias: flag(keys, &["mamba_conv_bias"], true)?,
        in_proj_bias: flag(keys, &["mamba_proj_bias"], false)?,
        out_proj_bias: flag(keys, &[names.out_proj_bias], false)?,
        norm: match names.norm {
            Some(key) => flag(keys, &[key], false)?,
            None => true,
        },
        chunk: keys.uint_or(&["mamba_chunk_size"], 1, limits::MAX_HEAD_DIM, MAMBA2_CHUNK)?,
        vllm_state_fp32: false,
    })
}
