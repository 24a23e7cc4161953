//! LoRA targets as PEFT takes them (methodology §7.1): lists of module names, PEFT's
//! default per `model_type`, and the errors that name the modules a model has.

use calculator::{
    estimate_training, CalcError, LoraTarget, Method, Model, TrainingEstimate, TrainingRequest,
    WarningCode,
};
use serde_json::json;
use testkit::models::{model, registry_model};

/// LoRA at `rank` on `modules` (none: `target`), 4 sequences of 768 tokens, as
/// PEFT's MetaMathQA runs train Llama-3.2-3B.
fn lora(
    m: &Model,
    rank: u64,
    target: LoraTarget,
    modules: &[&str],
) -> Result<TrainingEstimate, CalcError> {
    let mut r = TrainingRequest::new(4, 768);
    r.method = Method::Lora;
    r.lora_rank = rank;
    r.lora_target = target;
    r.lora_modules = modules.iter().map(|m| (*m).to_owned()).collect();
    estimate_training(m, &r)
}

/// The message of a `lora_target` error, checking the field (`lora_target`, or the
/// entry of a list: `lora_target[1]`).
fn message(e: Result<TrainingEstimate, CalcError>, field: &str) -> String {
    match e {
        Err(CalcError::InvalidField { field: f, message }) => {
            assert_eq!(f, field);
            message
        }
        other => panic!("expected a lora_target error, got {other:?}"),
    }
}

/// The trainable parameters PEFT's own runs counted on Llama-3.2-3B
/// (huggingface/peft@5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40
/// `method_comparison/MetaMathQA/results/lora--llama-3.2-3B-rank32.json`,
/// `-rank64.json` and `-rank10-target-mlp.json`, `num_trainable_params`).
#[test]
fn trainable_parameters_are_the_librarys_count() {
    let m = registry_model("Llama-3.2-3B");
    let count = |rank, modules: &[&str]| {
        lora(m, rank, LoraTarget::AllLinear, modules)
            .unwrap()
            .details
            .trainable_parameters
    };
    assert_eq!(count(32, &["v_proj", "q_proj"]), 9_175_040);
    assert_eq!(count(64, &["q_proj", "v_proj"]), 18_350_080);
    assert_eq!(count(10, &["up_proj", "gate_proj", "down_proj"]), 9_461_760);
}

#[test]
fn peft_default_is_q_and_v_for_llama_and_refused_where_peft_has_none() {
    let m = registry_model("Llama-3.2-3B");
    let default = lora(m, 32, LoraTarget::PeftDefault, &[]).unwrap();
    let listed = lora(m, 32, LoraTarget::AllLinear, &["q_proj", "v_proj"]).unwrap();
    assert_eq!(default.training_memory, listed.training_memory);
    assert_eq!(default.details.trainable_parameters, 9_175_040);
    // PEFT's table has no qwen3_moe entry: it asks for target_modules, and so do we.
    let moe = registry_model("Qwen3-30B-A3B");
    let m = message(lora(moe, 8, LoraTarget::PeftDefault, &[]), "lora_target");
    assert!(
        m.contains("PEFT has no default") && m.contains("q_proj"),
        "{m}"
    );
}

#[test]
fn the_kinds_are_their_module_lists() {
    let m = registry_model("Llama-3.2-3B");
    let total = |target, modules: &[&str]| lora(m, 16, target, modules).unwrap().training_memory;
    assert_eq!(
        total(LoraTarget::Attention, &[]),
        total(
            LoraTarget::AllLinear,
            &["q_proj", "k_proj", "v_proj", "o_proj"]
        )
    );
    assert_eq!(
        total(LoraTarget::AllLinear, &[]),
        total(
            LoraTarget::AllLinear,
            &[
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj"
            ]
        )
    );
    // Fewer adapted projections keep fewer adapter inputs and states.
    let qv = total(LoraTarget::AllLinear, &["q_proj", "v_proj"]);
    assert!(qv < total(LoraTarget::Attention, &[]));
}

#[test]
fn unknown_and_dotted_names_list_the_models_modules() {
    let m = registry_model("Llama-3.2-3B");
    let unknown = message(
        lora(m, 8, LoraTarget::AllLinear, &["q_proj", "c_attn"]),
        "lora_target[1]",
    );
    assert!(
        unknown.contains("c_attn is not a linear module of this model")
            && unknown.contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"),
        "{unknown}"
    );
    let dotted = message(
        lora(m, 8, LoraTarget::AllLinear, &["self_attn.q_proj"]),
        "lora_target[0]",
    );
    assert!(dotted.contains("last part of its name"), "{dotted}");
    let many = vec!["q_proj"; 65];
    assert!(lora(m, 8, LoraTarget::AllLinear, &many).is_err());
}

/// GPT-2's names: `c_attn` is the fused q, k, v; `c_proj` is both the attention
/// output and the MLP's down projection, and a list entry adapts both.
#[test]
fn gpt2_modules_go_by_gpt2s_names() {
    let gpt2 = model(json!({"model_type": "gpt2", "n_embd": 768, "n_layer": 12,
        "n_head": 12, "vocab_size": 50257, "n_positions": 1024}));
    let count = |modules: &[&str]| {
        lora(&gpt2, 8, LoraTarget::AllLinear, modules)
            .unwrap()
            .details
            .trainable_parameters
    };
    // c_attn: 768 -> 2304 in each of 12 layers.
    assert_eq!(count(&["c_attn"]), 12 * 8 * (768 + 2304));
    // c_proj: 768 -> 768 (attention) and 3072 -> 768 (MLP).
    assert_eq!(count(&["c_proj"]), 12 * 8 * ((768 + 768) + (3072 + 768)));
    let default = lora(&gpt2, 8, LoraTarget::PeftDefault, &[]).unwrap();
    assert_eq!(default.details.trainable_parameters, count(&["c_attn"]));
    let m = message(
        lora(&gpt2, 8, LoraTarget::AllLinear, &["q_proj"]),
        "lora_target[0]",
    );
    assert!(m.contains("c_attn, c_proj, c_fc"), "{m}");
}

/// gpt-oss keeps its experts in `gate_up_proj` and `down_proj` parameters, which PEFT's
/// `target_modules` cannot wrap: a list reaches its attention only.
#[test]
fn experts_kept_as_parameters_are_out_of_a_lists_reach() {
    let m = registry_model("gpt-oss-20b");
    let attention = lora(
        m,
        8,
        LoraTarget::AllLinear,
        &["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    .unwrap()
    .details
    .trainable_parameters;
    let by_kind = lora(m, 8, LoraTarget::Attention, &[])
        .unwrap()
        .details
        .trainable_parameters;
    assert_eq!(attention, by_kind);
    let experts = message(
        lora(m, 8, LoraTarget::AllLinear, &["q_proj", "gate_up_proj"]),
        "lora_target[1]",
    );
    assert!(experts.contains("target_parameters"), "{experts}");
}

/// Qwen3-Next's Gated DeltaNet input projections are sized as one group: naming one of
/// them adapts the group, and the answer says so.
#[test]
fn naming_part_of_a_grouped_projection_is_said() {
    let m = registry_model("Qwen3-Next-80B-A3B-Instruct");
    let part = lora(m, 8, LoraTarget::AllLinear, &["in_proj_qkvz"]).unwrap();
    let whole = lora(m, 8, LoraTarget::AllLinear, &["in_proj_qkvz", "in_proj_ba"]).unwrap();
    assert_eq!(
        part.details.trainable_parameters,
        whole.details.trainable_parameters
    );
    let said = |e: &TrainingEstimate| {
        e.warnings
            .iter()
            .any(|w| w.code == WarningCode::LoraModulesGrouped)
    };
    assert!(said(&part));
    assert!(!said(&whole));
}
