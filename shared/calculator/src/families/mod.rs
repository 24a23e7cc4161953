//! One reader per model family. Each file holds every rule of its family (or of a
//! close group of families): the `model_type`s it answers to, its defaults, the layout
//! it sets on a llama-style base, and which layers slide; what they share is in
//! `family.rs`. Adding a family is one new file, its `mod` and `pub use` lines here and
//! its entry in [`FAMILIES`].
//!
//! The defaults are those of the family's `PretrainedConfig` class in Hugging Face
//! `transformers`; `docs/methodology.md` §1 lists what each reader knows.

mod deepseek;
mod falcon;
mod falcon_h1;
mod family;
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

pub use family::Family;

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

/// Every family a `model_type` can name. `GENERIC` is not here: it reads an unknown
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
