//! The names model code gives the linear modules the calculator sizes, per family, and
//! PEFT's default LoRA targets per `model_type`: what a `target_modules` list means for
//! a model (`docs/methodology.md` §7.1).
//!
//! A name is the last component of a module's path, as PEFT matches a list entry (a
//! module matches when its path equals the entry or ends with `.` + the entry:
//! huggingface/peft@5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40
//! `src/peft/tuners/tuners_utils.py`, `check_target_module_exists`). The names are
//! those of the families' transformers model code; routed experts are named as in
//! the releases that make each expert its own module (transformers 4), and where the
//! model code fuses every expert into one parameter (gpt-oss, Llama 4: `gate_up_proj`,
//! `down_proj`) by that parameter's name.

use crate::architecture::{Architecture, LinearGroup, MixerKind};
use crate::linear::{LinearKind, Projection};

/// What each projection is called in the llama lineage (and the families that kept
/// its names): `q_proj` … `down_proj`, MLA's `q_a_proj` … `kv_b_proj`.
fn llama_names(p: Projection) -> &'static [&'static str] {
    use Projection::*;
    match p {
        Query => &["q_proj"],
        Key => &["k_proj"],
        Value => &["v_proj"],
        QueryKeyValue => &["qkv_proj"],
        Output => &["o_proj"],
        QueryA => &["q_a_proj"],
        QueryB => &["q_b_proj"],
        KeyValueA => &["kv_a_proj_with_mqa"],
        KeyValueB => &["kv_b_proj"],
        IndexerQuery => &["wq_b"],
        IndexerKey => &["wk"],
        MixerIn => &["in_proj"],
        MixerOut => &["out_proj"],
        Gate => &["gate_proj"],
        Up => &["up_proj"],
        GateUp => &["gate_up_proj"],
        Down => &["down_proj"],
        EmbedIn => &["project_in"],
        EmbedOut => &["project_out"],
    }
}

/// A family's own names where they differ from the llama lineage's.
fn family_names(family: &str, kind: LinearKind, p: Projection) -> Option<&'static [&'static str]> {
    use LinearKind::{Expert, Mlp, SharedExpert};
    use Projection::*;
    let names: &'static [&'static str] = match (family, kind, p) {
        // GPT-2 and StarCoder: `c_attn` (fused q, k, v), `c_proj` (attention output and
        // MLP down, both), `c_fc`.
        ("gpt2" | "gpt_bigcode", _, QueryKeyValue) => &["c_attn"],
        ("gpt2" | "gpt_bigcode", _, Output | Down) => &["c_proj"],
        ("gpt2" | "gpt_bigcode", _, Up) => &["c_fc"],
        ("falcon", _, QueryKeyValue) => &["query_key_value"],
        ("falcon", _, Output) => &["dense"],
        ("falcon", _, Up) => &["dense_h_to_4h"],
        ("falcon", _, Down) => &["dense_4h_to_h"],
        ("opt", _, Output) => &["out_proj"],
        ("opt", _, Up) => &["fc1"],
        ("opt", _, Down) => &["fc2"],
        // Mixtral's, MiniMax's and Kimi-Linear's experts: `w1` (gate), `w3` (up), `w2`
        // (down).
        ("mixtral" | "minimax_m2" | "kimi_linear", Expert, Gate) => &["w1"],
        ("mixtral" | "minimax_m2" | "kimi_linear", Expert, Up) => &["w3"],
        ("mixtral" | "minimax_m2" | "kimi_linear", Expert, Down) => &["w2"],
        // Granite's experts and shared MLP: `input_linear` (gate and up in one matrix)
        // and `output_linear`.
        ("granitemoehybrid", Expert | SharedExpert | Mlp, GateUp) => &["input_linear"],
        ("granitemoehybrid", Expert | SharedExpert | Mlp, Down) => &["output_linear"],
        _ => return None,
    };
    Some(names)
}

/// The mixer's projections by kind: Mamba's `in_proj`/`out_proj`; Gated DeltaNet's
/// `in_proj_qkvz` and `in_proj_ba` (Qwen3.5 splits them into `in_proj_qkv`,
/// `in_proj_z`, `in_proj_b`, `in_proj_a`); Kimi Delta Attention's q, k, v, the gates'
/// first halves and `b_proj`, and its `o_proj`. The calculator sizes a mixer's input
/// projections as one group: a list adapts the group when it names any of them.
fn mixer_names(arch: &Architecture, p: Projection) -> Option<&'static [&'static str]> {
    let m = arch.mixer?;
    let names: &'static [&'static str] = match (m.kind, p) {
        (MixerKind::GatedDeltaNet, Projection::MixerIn) if m.qwen3_5_code => {
            &["in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a"]
        }
        (MixerKind::GatedDeltaNet, Projection::MixerIn) => &["in_proj_qkvz", "in_proj_ba"],
        (MixerKind::KimiDelta, Projection::MixerIn) => &[
            "q_proj", "k_proj", "v_proj", "f_a_proj", "g_a_proj", "b_proj",
        ],
        (MixerKind::KimiDelta, Projection::MixerOut) => &["o_proj"],
        _ => return None,
    };
    Some(names)
}

/// Whether the model code keeps every routed expert in one parameter per projection
/// (gpt-oss's `GptOssExperts`, Llama 4's `Llama4TextExperts`: `gate_up_proj` and
/// `down_proj` are `nn.Parameter`s), which PEFT's `target_modules` cannot wrap.
pub fn experts_are_parameters(arch: &Architecture) -> bool {
    matches!(arch.family, "gpt_oss" | "llama4_text")
}

/// The module names of a group of linears in `arch`'s model code.
pub fn module_names(arch: &Architecture, g: &LinearGroup) -> &'static [&'static str] {
    if g.kind == LinearKind::Mixer {
        if let Some(names) = mixer_names(arch, g.projection) {
            return names;
        }
    }
    family_names(arch.family, g.kind, g.projection).unwrap_or_else(|| llama_names(g.projection))
}

/// Every module name of `groups`, once each, in the groups' order.
pub fn all_module_names(arch: &Architecture, groups: &[LinearGroup]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for g in groups {
        for n in module_names(arch, g) {
            if !out.contains(n) {
                out.push(n);
            }
        }
    }
    out
}

/// PEFT's default LoRA targets for a `model_type` (what `LoraConfig` adapts when
/// `target_modules` is not given), for the model types the calculator reads;
/// `None` where PEFT has no default and asks for `target_modules`. From
/// huggingface/peft@5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40
/// `src/peft/utils/constants.py` lines 67-108,
/// `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`.
pub fn peft_default_targets(model_type: &str) -> Option<&'static [&'static str]> {
    let names: &'static [&'static str] = match model_type {
        "llama" | "llama4" | "mistral" | "mixtral" | "gemma" | "gemma2" | "gemma3_text"
        | "qwen2" | "qwen3" | "opt" => &["q_proj", "v_proj"],
        "gpt2" | "gpt_bigcode" => &["c_attn"],
        "falcon" => &["query_key_value"],
        "nemotron_h" => &["q_proj", "k_proj", "v_proj", "o_proj"],
        _ => return None,
    };
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peft_defaults_are_its_table() {
        assert_eq!(
            peft_default_targets("llama"),
            Some(&["q_proj", "v_proj"][..])
        );
        assert_eq!(peft_default_targets("gpt2"), Some(&["c_attn"][..]));
        assert_eq!(peft_default_targets("qwen3_moe"), None);
        assert_eq!(peft_default_targets("phi3"), None);
    }
}
