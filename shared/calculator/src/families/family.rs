//! What every family reader shares: the [`Family`] record, the readers of the dense
//! llama-lineage decoder, of multi-token-prediction layers and of routed experts, the
//! placement of state-mixer layers, and the sliding-window rules.

use std::fmt;

use crate::architecture::{Architecture, Moe, StateMixer};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// Reads a family's own keys and sets its layout on the llama-style base.
pub(crate) type ReadLayout = fn(&Keys, &Common, &mut Architecture) -> Result<(), CalcError>;
/// How many layers slide when the config has `sliding_window` but no `layer_types`.
pub(crate) type SlidingLayers = fn(&Keys, &Common) -> Result<u64, CalcError>;

/// A model family: the `model_type` it answers to and how its config is read.
pub struct Family {
    /// Canonical `model_type`.
    pub name: &'static str,
    /// Other `model_type` spellings of the same family (`gemma3` for `gemma3_text`).
    pub aliases: &'static [&'static str],
    /// The `tie_word_embeddings` default of the family's config class.
    pub ties_embeddings: bool,
    /// Keys (and `layer_types` entries) that mark layers a llama-style reading would
    /// miss (chunked attention, linear attention, …) which this family reads; other
    /// families refuse them (`config/unsupported.rs`).
    pub feature_keys: &'static [&'static str],
    pub(crate) read: ReadLayout,
    pub(crate) sliding_layers: SlidingLayers,
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Family {
    fn eq(&self, other: &Family) -> bool {
        self.name == other.name
    }
}

impl Eq for Family {}

/// The dense decoder of the llama lineage: key/value heads (default: all heads, no
/// GQA) and a required `intermediate_size`.
pub(crate) fn read_dense(
    keys: &Keys,
    c: &Common,
    arch: &mut Architecture,
) -> Result<(), CalcError> {
    arch.num_kv_heads = c.kv_heads.unwrap_or(c.heads);
    arch.intermediate_size = keys.required(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?;
    Ok(())
}

/// The multi-token-prediction layers a checkpoint stores, under the key its family
/// uses, `default` when the config does not say.
pub(crate) fn read_mtp_layers(
    keys: &Keys,
    arch: &mut Architecture,
    names: &[&'static str],
    default: u64,
) -> Result<(), CalcError> {
    arch.mtp_layers = keys.uint_or(names, 0, limits::MAX_LAYERS, default)?;
    Ok(())
}

/// Tokens per chunk of flash-linear-attention's delta-rule kernels
/// (`chunk_gated_delta_rule`, `chunk_kda`: `BT = 64`).
pub(crate) const DELTA_RULE_CHUNK: u64 = 64;

/// Puts `mixer` in the layers `mask` marks and attention in the others (a family with
/// another layout adjusts `attention_layers` and its mask after).
pub(crate) fn set_mixer(arch: &mut Architecture, mask: Vec<bool>, mut mixer: StateMixer) {
    mixer.layers = mask.iter().filter(|m| **m).count() as u64;
    arch.attention_layers = arch.num_layers - mixer.layers;
    arch.mixer = (mixer.layers > 0).then_some(mixer);
    arch.attention_layer_mask = mask.iter().map(|m| !m).collect();
    arch.mixer_layer_mask = mask;
}

/// Sliding-window rule of families whose window applies to every layer (Mistral).
pub(crate) fn every_layer_slides(_: &Keys, c: &Common) -> Result<u64, CalcError> {
    Ok(c.layers)
}

/// Sliding-window rule of families that ignore `sliding_window` without `layer_types`.
pub(crate) fn no_layer_slides(_: &Keys, _: &Common) -> Result<u64, CalcError> {
    Ok(0)
}

/// Sliding-window rule of families that alternate local and global layers, starting
/// with a local one (Gemma 2, gpt-oss).
pub(crate) fn alternate_layers_slide(_: &Keys, c: &Common) -> Result<u64, CalcError> {
    Ok(c.layers.div_ceil(2))
}

/// How a family names and routes its experts.
pub(crate) struct Experts {
    /// Key(s) of the routed-expert count.
    pub count_keys: &'static [&'static str],
    /// `num_experts_per_tok` when the config does not state it.
    pub default_top_k: u64,
    /// Whether the router stores a bias (or score-correction bias) per expert.
    pub router_bias: bool,
    /// The expert count when the config does not state it; `None`: required.
    pub default_count: Option<u64>,
}

/// Reads the routed-expert keys shared by the MoE families into `arch.moe`;
/// `is_moe_layer` says which decoder layers (by index) hold experts.
pub(crate) fn read_moe(
    keys: &Keys,
    arch: &mut Architecture,
    experts: Experts,
    expert_intermediate: u64,
    shared_intermediate: u64,
    is_moe_layer: impl Fn(u64) -> bool,
) -> Result<(), CalcError> {
    let count = match experts.default_count {
        Some(d) => keys
            .uint(experts.count_keys, 1, limits::MAX_EXPERTS)?
            .unwrap_or(d),
        None => keys.required(experts.count_keys, 1, limits::MAX_EXPERTS)?,
    };
    let top_k = keys
        .uint(
            &[
                "num_experts_per_tok",
                "experts_per_token",
                "num_experts_per_token",
            ],
            1,
            limits::MAX_EXPERTS,
        )?
        .unwrap_or(experts.default_top_k.min(count));
    if top_k > count {
        return Err(CalcError::field(
            keys.path("num_experts_per_tok"),
            format!("must not exceed the number of experts ({count})"),
        ));
    }
    let mask: Vec<bool> = (0..arch.num_layers).map(is_moe_layer).collect();
    arch.moe = Some(Moe {
        num_experts: count,
        experts_per_token: top_k,
        expert_intermediate,
        shared_intermediate,
        shared_expert_gate: false,
        router_bias: experts.router_bias,
        expert_bias: false,
        moe_layers: mask.iter().filter(|m| **m).count() as u64,
        gated_experts: true,
        fused_expert_gate_up: false,
        fused_shared_gate_up: false,
    });
    arch.moe_layer_mask = mask;
    Ok(())
}
