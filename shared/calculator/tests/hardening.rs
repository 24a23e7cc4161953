//! The hostile-input review's findings, one test each: values that used to be accepted
//! silently, lists whose cost grew with what a caller sent, and totals past what a
//! JSON number holds exactly.

use std::time::{Duration, Instant};

use calculator::{
    estimate_inference, estimate_training, limits, names, CalcError, InferenceRequest, LoraTarget,
    Method, Model, TrainingRequest,
};
use serde_json::{json, Value};

fn registry(name: &str) -> &'static Model {
    &calculator::registry::lookup(name).unwrap().model
}

fn field_of(err: CalcError) -> String {
    match err {
        CalcError::InvalidField { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

fn config_error(config: Value) -> String {
    field_of(Model::from_config(&config).unwrap_err())
}

fn llama(extra: Value) -> Value {
    let mut c = json!({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn trainable_parameters_of_zero_is_refused() {
    let mut r = TrainingRequest::new(1, 128);
    r.trainable_percent = Some(0.0);
    let err = estimate_training(registry("Qwen3-0.6B"), &r).unwrap_err();
    assert_eq!(field_of(err), "trainable_parameters");
    r.trainable_percent = Some(1e-9);
    assert!(estimate_training(registry("Qwen3-0.6B"), &r).is_ok());
}

#[test]
fn a_lora_rank_above_the_adapted_matrices_is_refused() {
    // Qwen3-0.6B: the smallest adapted dimension is its 1024-wide hidden state (and
    // the 8 x 128 = 1024 key/value projections).
    let model = registry("Qwen3-0.6B");
    let mut r = TrainingRequest::new(1, 128);
    r.method = Method::Lora;
    r.lora_rank = 65_536;
    let err = estimate_training(model, &r).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("lora_rank: must be at most 1024"),
        "{err}"
    );
    r.lora_rank = 1024;
    r.lora_target = LoraTarget::Attention;
    assert!(estimate_training(model, &r).is_ok());
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
        .find(|w| w.starts_with("config.num_key_value_head:"))
        .expect("a typo warning");
    assert!(
        warning.contains("did you mean num_key_value_heads?"),
        "{warning}"
    );
    // Keys nobody reads that are no typo stay quiet; so do exact keys.
    let model = Model::from_config(&llama(json!({"architectures": ["LlamaForCausalLM"],
        "num_key_value_heads": 4})))
    .unwrap();
    assert!(
        model.warnings.iter().all(|w| !w.contains("did you mean")),
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
    let mut seen = model.warnings.clone();
    seen.sort();
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
    match names::resolve(&name) {
        Err(CalcError::UnknownModel { name, suggestions }) => {
            assert_eq!(name.len(), limits::MAX_MODEL_NAME_CHARS);
            assert!(suggestions.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn totals_past_2_to_the_53_bytes_are_refused() {
    // 32 layers x 8 KV heads x 128 x 2 x 2 bytes = 128 KiB per token: 2^20 sequences of
    // 2^24 tokens is 2^61 bytes of KV cache; the weights (16 GB) fit.
    let mut r = InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
    r.use_flash_attention = true;
    let err = estimate_inference(registry("Llama-3.1-8B"), &r).unwrap_err();
    assert_eq!(err, CalcError::TooLarge);
    // At the limit: the largest batch within 2^53 bytes is answered, one more is not.
    let model = registry("Llama-3.1-8B");
    let mut r = InferenceRequest::new(1, limits::MAX_SEQUENCE_LENGTH);
    let w = calculator::Workload::Inference(&r);
    let b = calculator::max_batch_size(model, w, calculator::Bytes(limits::MAX_REPORTED_BYTES))
        .unwrap()
        .unwrap();
    r.batch_size = b;
    let e = estimate_inference(model, &r).unwrap();
    assert!(e.inference_memory.0 <= limits::MAX_REPORTED_BYTES);
    r.batch_size = b + 1;
    assert_eq!(
        estimate_inference(model, &r).unwrap_err(),
        CalcError::TooLarge
    );
}

/// The state-mixer families at every shape limit at once: each answer is a number or a
/// 4xx error, never an overflow.
#[test]
fn state_mixers_at_their_limits_never_overflow() {
    let max = |l: u64| json!(l);
    let layers = 64u64;
    let common = json!({"hidden_size": max(limits::MAX_HIDDEN), "num_hidden_layers": layers,
        "num_attention_heads": max(limits::MAX_HEADS), "num_key_value_heads": 1,
        "head_dim": max(limits::MAX_HEAD_DIM), "vocab_size": max(limits::MAX_VOCAB),
        "intermediate_size": max(limits::MAX_INTERMEDIATE)});
    let family_keys = [
        json!({"model_type": "qwen3_next", "linear_num_key_heads": max(limits::MAX_HEADS),
            "linear_num_value_heads": max(limits::MAX_HEADS),
            "linear_key_head_dim": max(limits::MAX_HEAD_DIM),
            "linear_value_head_dim": max(limits::MAX_HEAD_DIM),
            "linear_conv_kernel_dim": max(limits::MAX_HEAD_DIM),
            "moe_intermediate_size": 1, "num_experts": 1}),
        json!({"model_type": "falcon_h1", "mamba_n_heads": max(limits::MAX_HEADS),
            "mamba_d_head": 256, "mamba_d_ssm": max(limits::MAX_INTERMEDIATE),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_n_groups": max(limits::MAX_HEAD_DIM),
            "mamba_d_conv": max(limits::MAX_HEAD_DIM), "mamba_chunk_size": 1}),
        json!({"model_type": "jamba", "mamba_expand": max(limits::MAX_HEAD_DIM),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_d_conv": max(limits::MAX_HEAD_DIM),
            "mamba_dt_rank": max(limits::MAX_INTERMEDIATE), "num_experts": 1}),
        json!({"model_type": "jamba", "hidden_size": 16, "mamba_expand": max(limits::MAX_HEAD_DIM),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_d_conv": max(limits::MAX_HEAD_DIM),
            "mamba_dt_rank": max(limits::MAX_INTERMEDIATE), "num_experts": 1}),
        json!({"model_type": "kimi_linear", "kv_lora_rank": max(limits::MAX_HEAD_DIM),
            "qk_nope_head_dim": max(limits::MAX_HEAD_DIM), "qk_rope_head_dim": max(limits::MAX_HEAD_DIM),
            "v_head_dim": max(limits::MAX_HEAD_DIM), "moe_intermediate_size": 1, "num_experts": 1,
            "linear_attn_config": {"num_heads": max(limits::MAX_HEADS),
                "head_dim": max(limits::MAX_HEAD_DIM), "short_conv_kernel_size": max(limits::MAX_HEAD_DIM),
                "kda_layers": (1..=layers).collect::<Vec<u64>>()}}),
    ];
    // The same with small attention and vocabulary, so that more reach an estimate.
    let small = json!({"hidden_size": 16, "num_hidden_layers": layers,
        "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 1, "vocab_size": 1,
        "intermediate_size": 1});
    let mut answered = 0;
    for (common, keys) in family_keys
        .iter()
        .flat_map(|k| [(common.clone(), k), (small.clone(), k)])
    {
        let mut config = common;
        config
            .as_object_mut()
            .unwrap()
            .extend(keys.as_object().unwrap().clone());
        match Model::from_config(&config) {
            Ok(m) => {
                answered += 1;
                let mut r =
                    InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                r.max_new_tokens = limits::MAX_NEW_TOKENS;
                match estimate_inference(&m, &r) {
                    Ok(e) => assert!(e.inference_memory.0 <= limits::MAX_REPORTED_BYTES),
                    Err(
                        CalcError::InvalidField { .. }
                        | CalcError::TooLarge
                        | CalcError::WeightsTooLarge,
                    ) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            Err(CalcError::InvalidField { .. }) => {}
            Err(other) => panic!("{config}: {other:?}"),
        }
    }
    assert!(answered >= 3, "only {answered} configs were models");
}
