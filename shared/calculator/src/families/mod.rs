//! One reader per model family. Each file holds every rule of its family (or of a
//! close group of families): the `model_type`s it answers to, its defaults, the layout
//! it sets on a llama-style base, and which layers slide. Adding a family is one new
//! file and one line in [`FAMILIES`].
//!
//! The defaults are those of the family's `PretrainedConfig` class in Hugging Face
//! `transformers`; `docs/methodology.md` §1 lists what each reader knows.

mod deepseek;
mod falcon;
mod falcon_h1;
mod gemma;
mod glm;
mod gpt2;
mod gpt_oss;
mod granite;
mod jamba;
mod kimi_linear;
mod llama;
mod llama4;
mod mamba;
mod minimax;
mod mixtral;
mod nemotron_h;
mod opt;
mod phi3;
mod qwen;
mod qwen_next;

use std::fmt;

use crate::architecture::{Architecture, Moe, StateMixer};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

pub use deepseek::{DEEPSEEK_V3, DEEPSEEK_V32};
pub use falcon::FALCON;
pub use falcon_h1::FALCON_H1;
pub use gemma::{GEMMA, GEMMA2, GEMMA3};
pub use glm::GLM4_MOE;
pub use gpt2::{GPT2, GPT_BIGCODE};
pub use gpt_oss::GPT_OSS;
pub use granite::GRANITE_MOE_HYBRID;
pub use jamba::JAMBA;
pub use kimi_linear::KIMI_LINEAR;
pub use llama::{GENERIC, LLAMA, MISTRAL};
pub use llama4::LLAMA4;
pub use minimax::MINIMAX_M2;
pub use mixtral::MIXTRAL;
pub use nemotron_h::NEMOTRON_H;
pub use opt::OPT;
pub use phi3::PHI3;
pub use qwen::{QWEN2, QWEN2_MOE, QWEN3, QWEN3_MOE};
pub use qwen_next::{QWEN3_5, QWEN3_5_MOE, QWEN3_NEXT};

/// Every family a `model_type` can name. [`GENERIC`] is not here: it reads an unknown
/// `model_type` as a llama-style decoder.
pub const FAMILIES: [&Family; 29] = [
    &LLAMA,
    &LLAMA4,
    &MISTRAL,
    &MIXTRAL,
    &QWEN2,
    &QWEN2_MOE,
    &QWEN3,
    &QWEN3_MOE,
    &QWEN3_NEXT,
    &QWEN3_5,
    &QWEN3_5_MOE,
    &NEMOTRON_H,
    &GRANITE_MOE_HYBRID,
    &FALCON_H1,
    &JAMBA,
    &GEMMA,
    &GEMMA2,
    &GEMMA3,
    &PHI3,
    &DEEPSEEK_V3,
    &DEEPSEEK_V32,
    &KIMI_LINEAR,
    &GLM4_MOE,
    &MINIMAX_M2,
    &GPT_OSS,
    &FALCON,
    &OPT,
    &GPT2,
    &GPT_BIGCODE,
];

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

impl Family {
    /// The family of a `model_type` (trimmed, case-insensitive), if known.
    pub fn lookup(model_type: &str) -> Option<&'static Family> {
        let t = model_type.trim().to_ascii_lowercase();
        FAMILIES
            .into_iter()
            .find(|f| f.name == t || f.aliases.contains(&t.as_str()))
    }
}

/// The `model_type` a multimodal wrapper's `text_config` inherits: the canonical name
/// when the wrapper's type is a family's alias (`gemma3` → `gemma3_text`).
pub(crate) fn text_model_type(wrapper: &str) -> &str {
    FAMILIES
        .into_iter()
        .find(|f| f.aliases.contains(&wrapper))
        .map_or(wrapper, |f| f.name)
}

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
    });
    arch.moe_layer_mask = mask;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_knows_every_family_and_alias() {
        for f in FAMILIES {
            assert_eq!(Family::lookup(f.name), Some(f));
            for alias in f.aliases {
                assert_eq!(Family::lookup(alias), Some(f));
            }
        }
        assert_eq!(Family::lookup(" Qwen3_MoE "), Some(&QWEN3_MOE));
        assert_eq!(Family::lookup("mystery"), None);
        assert_eq!(text_model_type("gemma3"), "gemma3_text");
        assert_eq!(text_model_type("llava"), "llava");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = FAMILIES
            .iter()
            .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied()))
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
