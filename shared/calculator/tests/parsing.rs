//! Reading a model: a config's keys and their errors and warnings, explicit fields with
//! and without `model_size`, names too long to look up, and the layers no reader
//! represents (methodology §1).

use calculator::{
    estimate_inference, limits, resolve_name, Bytes, CalcError, Engine, Family, InferenceRequest,
    Model, Precision, RegistryEntry, VllmSettings, WarningCode,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::configs::{kimi_linear, llama4_scout_text, minimax_m2, nemotron_nano_9b, qwen3_next};
use testkit::models::{config_error, field_of, llama, merged, model, registry_model};

fn error_field(config: Value) -> String {
    match Model::from_config(&config) {
        Err(CalcError::InvalidField { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn config_errors_and_warnings() {
    // Heads must divide: 3 KV heads for 4 query heads, or more KV than query heads.
    assert_eq!(
        error_field(llama(json!({"num_key_value_heads": 3}))),
        "config.num_key_value_heads"
    );
    assert_eq!(
        error_field(llama(json!({"num_key_value_heads": 8}))),
        "config.num_key_value_heads"
    );
    assert_eq!(
        model(llama(json!({"num_key_value_heads": 4})))
            .arch
            .num_kv_heads,
        4
    );
    // A hidden size that heads do not divide: the floor, as transformers builds it,
    // and said; fewer features than heads still needs head_dim.
    let floored = Model::from_config(&llama(json!({"hidden_size": 66}))).unwrap();
    assert_eq!(floored.arch.head_dim, 16);
    assert!(floored
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::HeadDimFloored));
    assert_eq!(
        error_field(llama(json!({"hidden_size": 3}))),
        "config.head_dim"
    );
    // Top-k may equal the expert count, not exceed it.
    let mixtral = |k: u64| {
        Model::from_config(&llama(
            json!({"model_type": "mixtral", "num_local_experts": 4,
            "num_experts_per_tok": k}),
        ))
    };
    assert_eq!(mixtral(4).unwrap().arch.moe.unwrap().experts_per_token, 4);
    assert!(mixtral(5).is_err());
    // A quantized torch_dtype is not a compute dtype: warned, and the default used.
    let m = model(llama(json!({"torch_dtype": "float8_e4m3fn"})));
    assert_eq!(m.arch.torch_dtype, None);
    assert!(
        m.warnings[0].message.contains("float8_e4m3fn"),
        "{:?}",
        m.warnings
    );
    assert_eq!(m.default_precision(), Precision::Bfloat16);
}

#[test]
fn config_values_of_the_wrong_kind_are_refused() {
    assert_eq!(
        config_error(llama(json!({"torch_dtype": 16}))),
        "config.torch_dtype"
    );
    assert_eq!(
        config_error(llama(json!({"quantization_config": "fp8"}))),
        "config.quantization_config"
    );
    let deepseek = json!({"model_type": "deepseek_v3", "hidden_size": 64,
        "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 128,
        "moe_intermediate_size": 16, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "vocab_size": 100, "first_k_dense_replace": 5});
    assert_eq!(config_error(deepseek), "config.first_k_dense_replace");
}

#[test]
fn a_key_one_typo_from_a_read_key_is_warned() {
    let model = Model::from_config(&llama(json!({"num_key_value_head": 1}))).unwrap();
    let warning = model
        .warnings
        .iter()
        .find(|w| w.message.starts_with("config.num_key_value_head:"))
        .expect("a typo warning");
    assert!(
        warning
            .message
            .contains("did you mean num_key_value_heads?"),
        "{warning}"
    );
    // Keys nobody reads that are no typo stay quiet; so do exact keys.
    let model = Model::from_config(&llama(json!({"architectures": ["LlamaForCausalLM"],
        "num_key_value_heads": 4})))
    .unwrap();
    assert!(
        model
            .warnings
            .iter()
            .all(|w| !w.message.contains("did you mean")),
        "{:?}",
        model.warnings
    );
}

#[test]
fn nested_text_config_warnings_come_once() {
    // Fifty wrappers, each with its own text_config, around one decoder.
    let mut config = json!({"hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100,
        "torch_dtype": "int4"});
    for _ in 0..50 {
        config = json!({"model_type": "gemma3", "text_config": config});
    }
    let model = Model::from_config(&config).unwrap();
    let mut seen: Vec<&str> = model.warnings.iter().map(|w| w.message.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), model.warnings.len(), "{:?}", model.warnings);
}

#[test]
fn per_layer_lists_are_bounded_by_the_layer_count() {
    let moe = |list: Value| {
        json!({"model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 16384,
            "num_attention_heads": 4, "intermediate_size": 128, "moe_intermediate_size": 16,
            "num_experts": 4, "num_experts_per_tok": 2, "vocab_size": 100,
            "mlp_only_layers": list})
    };
    // Longer than the model has layers: refused, without reading it through.
    let long: Vec<u64> = (0..40_000).map(|i| i % 16_384).collect();
    assert_eq!(config_error(moe(json!(long))), "config.mlp_only_layers");
    // As long as the layers, every index: read in time linear in the list.
    let all: Vec<u64> = (0..16_384).collect();
    let start = Instant::now();
    let model = Model::from_config(&moe(json!(all))).unwrap();
    assert_eq!(model.arch.moe.map_or(0, |m| m.moe_layers), 0);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn configs_with_absurdly_many_keys_are_refused() {
    let mut c = llama(json!({}));
    for i in 0..limits::MAX_CONFIG_KEYS {
        c[format!("extra_{i}")] = json!(i);
    }
    assert_eq!(config_error(c), "config");
}

#[test]
fn long_model_names_are_unknown_at_once_and_cut() {
    let name = "x".repeat(250_000);
    let start = Instant::now();
    match resolve_name(&name) {
        Err(CalcError::UnknownModel { name, suggestions }) => {
            assert_eq!(name.len(), limits::MAX_MODEL_NAME_CHARS);
            assert!(suggestions.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn what_is_not_modelled_is_refused_by_name() {
    // vLLM's pool for state layers beside MLA (Kimi-Linear) is not modelled.
    let mut r = InferenceRequest::new(1, 4096);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(80 << 30)));
    assert_eq!(
        field_of(estimate_inference(&model(kimi_linear()), &r).unwrap_err()),
        "engine"
    );
    // 4 GPUs divide the 16 attention heads but not 18 value heads.
    let mut config = qwen3_next();
    config["linear_num_key_heads"] = json!(6);
    config["linear_num_value_heads"] = json!(18);
    let m = model(config);
    let mut r = InferenceRequest::new(1, 16);
    r.num_gpus = 4;
    let e = estimate_inference(&m, &r).unwrap_err();
    assert!(e.to_string().contains("gated_deltanet heads"), "{e}");
}

/// What the readers refuse or default, as the families' config classes do.
#[test]
fn hybrid_readers_refuse_and_default_as_their_config_classes() {
    let refused = |c: Value| field_of(Model::from_config(&c).unwrap_err());
    // Nemotron-H: a pattern with nothing that mixes tokens; latent experts.
    let mut c = nemotron_nano_9b();
    c["num_hidden_layers"] = json!(2);
    c["hybrid_override_pattern"] = json!("--");
    assert_eq!(refused(c.clone()), "config.hybrid_override_pattern");
    c["hybrid_override_pattern"] = json!("M-");
    c["moe_latent_size"] = json!(1024);
    assert_eq!(refused(c), "config.moe_latent_size");
    // More sliding layers than attention layers.
    let mut c = nemotron_nano_9b();
    c["num_hidden_layers"] = json!(2);
    c["hybrid_override_pattern"] = json!("M*");
    c["layer_types"] = json!(["sliding_attention", "sliding_attention"]);
    c["sliding_window"] = json!(4);
    assert_eq!(refused(c), "config.layer_types");
    // Jamba: an attention offset past its period.
    let jamba = json!({"model_type": "jamba", "hidden_size": 64, "num_hidden_layers": 8,
        "num_attention_heads": 4, "intermediate_size": 32, "vocab_size": 16,
        "attn_layer_period": 4, "attn_layer_offset": 4});
    assert_eq!(refused(jamba.clone()), "config.attn_layer_offset");
    // Jamba's default is 16 experts (JambaConfig).
    let mut ok = jamba;
    ok["attn_layer_offset"] = json!(1);
    assert_eq!(model(ok).arch.moe.unwrap().num_experts, 16);
    // Granite 4.0 H without layer_types: every layer Mamba, 8 experts, a 1024-wide
    // shared MLP, 128 Mamba heads of "auto" width.
    let g = model(json!({"model_type": "granitemoehybrid", "hidden_size": 256,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
        "vocab_size": 16, "mamba_d_head": "auto"}));
    assert_eq!(g.arch.mixer.unwrap().layers, 2);
    assert_eq!(g.arch.mixer.unwrap().heads, 128);
    assert_eq!(g.arch.moe.unwrap().num_experts, 8);
    assert_eq!(g.arch.moe.unwrap().shared_intermediate, 1024);
    // MiniMax-M2's attn_type_list: a lightning layer (0) is refused.
    let mut m2 = minimax_m2();
    let mut types = vec![1; 62];
    m2["attn_type_list"] = json!(types.clone());
    assert!(Model::from_config(&m2).is_ok());
    types[3] = 0;
    m2["attn_type_list"] = json!(types);
    assert_eq!(refused(m2), "config.attn_type_list");
    // Llama 4: no_rope_layer_interval, an empty no_rope_layers, the default chunk.
    let mut l4 = llama4_scout_text();
    l4["no_rope_layer_interval"] = json!(2);
    assert_eq!(model(l4.clone()).arch.sliding_layers, 24);
    l4["no_rope_layers"] = json!([]);
    assert_eq!(model(l4.clone()).arch.sliding_layers, 24);
    l4.as_object_mut().unwrap().remove("attention_chunk_size");
    assert_eq!(model(l4).arch.sliding_window, Some(8192));
}

/// Mamba-2 shapes that do not agree are refused by the key that shows it: heads times
/// their width must be the inner width, and a multiple of the groups; the inner width
/// may reach, not pass, the largest MLP width.
#[test]
fn mamba_shapes_must_agree() {
    let granite = |extra: Value| {
        let c = json!({"model_type": "granitemoehybrid", "hidden_size": 256,
            "num_hidden_layers": 2, "layer_types": ["mamba", "attention"],
            "num_attention_heads": 4, "num_local_experts": 0,
            "shared_intermediate_size": 64, "vocab_size": 16, "mamba_n_heads": 8,
            "mamba_d_head": 64});
        Model::from_config(&merged(c, extra))
    };
    assert!(granite(json!({})).is_ok());
    let field = |extra: Value| field_of(granite(extra).unwrap_err());
    assert_eq!(field(json!({"mamba_d_head": 32})), "config.mamba_n_heads");
    assert_eq!(field(json!({"mamba_n_groups": 3})), "config.mamba_n_heads");
    let limit = calculator::limits::MAX_INTERMEDIATE;
    assert_eq!(
        field(json!({"hidden_size": 1 << 20, "mamba_expand": limit / (1 << 20) + 1})),
        "config.mamba_expand"
    );
    // At the limit the inner width is accepted (the heads then do not match it).
    assert_eq!(
        field(json!({"hidden_size": 1 << 20, "mamba_expand": limit / (1 << 20)})),
        "config.mamba_n_heads"
    );
}

/// Nemotron-H's `layers_block_type` names the same blocks as the pattern's letters.
#[test]
fn nemotron_block_names_read_as_the_pattern() {
    let with = |blocks: Value| {
        let mut c = nemotron_nano_9b();
        c.as_object_mut().unwrap().remove("hybrid_override_pattern");
        c["num_hidden_layers"] = json!(4);
        c["layers_block_type"] = blocks;
        Model::from_config(&c)
    };
    let mut by_letter = nemotron_nano_9b();
    by_letter["num_hidden_layers"] = json!(4);
    by_letter["hybrid_override_pattern"] = json!("M*--");
    let expected = model(by_letter).params.total;
    for names in [
        json!(["mamba", "attention", "mlp", "mlp"]),
        json!(["linear_attention", "full_attention", "mlp", "mlp"]),
    ] {
        assert_eq!(with(names).unwrap().params.total, expected);
    }
    let mut moe = nemotron_nano_9b();
    moe["num_hidden_layers"] = json!(2);
    moe.as_object_mut()
        .unwrap()
        .remove("hybrid_override_pattern");
    moe["layers_block_type"] = json!(["mamba", "moe"]);
    moe["n_routed_experts"] = json!(4);
    moe["moe_intermediate_size"] = json!(8);
    assert_eq!(model(moe).arch.moe.unwrap().moe_layers, 1);
    assert_eq!(
        field_of(with(json!(["mamba", "attention", "mlp", "conv"])).unwrap_err()),
        "config.layers_block_type"
    );
}

/// The vision towers of the multimodal wrappers are counted apart and said: Qwen3.5's
/// as its published breakdowns give them, Llama 4's as the Hub total less the text
/// model.
#[test]
fn vision_towers_are_counted_apart() {
    let tower = |name: &str| registry_model(name).arch.vision_tower_params;
    assert_eq!(tower("Qwen3.5-9B"), Some(456_010_480));
    assert_eq!(tower("Qwen3.5-35B-A3B"), Some(446_571_248));
    assert_eq!(tower("Qwen3.5-397B-A17B"), Some(456_010_480));
    assert_eq!(tower("Llama-4-Scout-17B-16E-Instruct"), Some(871_932_416));
    assert_eq!(
        tower("Llama-4-Maverick-17B-128E-Instruct"),
        Some(871_932_416)
    );
    let m = registry_model("Qwen3.5-9B");
    assert!(m
        .warnings
        .iter()
        .any(|w| w.message.contains("456010480 more parameters")));
    // Not in the totals, which are the language model's.
    assert_eq!(m.params.total, 8_953_803_264);
    // A tower the calculator does not know is only warned about.
    assert_eq!(tower("gemma-3-4b-it"), None);
    let mut bad = RegistryEntry::lookup("Llama-4-Scout-17B-16E-Instruct")
        .unwrap()
        .config
        .clone();
    bad["vision_config"]["pixel_shuffle_ratio"] = json!(0.0);
    assert_eq!(
        field_of(Model::from_config(&bad).unwrap_err()),
        "config.vision_config.pixel_shuffle_ratio"
    );
}

/// `load_mtp` adds layers to the architecture's own count; with `model_size`, which
/// replaces that count, it is refused.
#[test]
fn load_mtp_and_model_size_do_not_mix() {
    let m = registry_model("DeepSeek-V3.1")
        .clone()
        .with_model_size(600.0)
        .unwrap();
    let mut r = InferenceRequest::new(1, 16);
    r.load_mtp = true;
    assert_eq!(
        field_of(estimate_inference(&m, &r).unwrap_err()),
        "load_mtp"
    );
}

#[test]
fn families_compare_by_name() {
    let llama = Family::lookup("llama").unwrap();
    assert_eq!(Family::lookup(" LLAMA "), Some(llama));
    assert_ne!(Some(llama), Family::lookup("mistral"));
    assert_eq!(format!("{:?}", Family::lookup("qwen3").unwrap()), "qwen3");
}
