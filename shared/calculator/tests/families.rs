//! Each family's layout, counted to the parameter: the registry against the reference
//! data's counts, toy configs worked out by hand, and published totals of families
//! outside the registry (methodology §1–2). Linear-attention and state-space families
//! are in `families_hybrid.rs`.

use calculator::{estimate_inference, CalcError, InferenceRequest, Model, RegistryEntry};
use serde_json::{json, Value};
use testkit::configs::{glm_4_5, glm_4_5_air, llama4_scout_text, minimax_m2};
use testkit::models::{field_of, llama, model, registry_model};

// Toy llama (h 64, L 2, 4 heads, 2 KV heads of 16, I 100, V 128): per layer attention
// 12,288, MLP 19,200, norms 128; embedding and lm_head 8,192 each; final norm 64:
// 2 · 31,616 + 16,384 + 64 = 79,680.
const TOY_LLAMA: u128 = 79_680;

/// A DeepSeek-V3-style toy: MLA (q rank 32, KV rank 16, nope 8, rope 4, v 8), layer 0
/// dense (I 100), layer 1 MoE with 8 routed experts of 8 and one shared, biased.
fn biased_toy_mla() -> Model {
    model(json!({
        "model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "intermediate_size": 100, "moe_intermediate_size": 8, "n_routed_experts": 8,
        "n_shared_experts": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
        "vocab_size": 128, "attention_bias": true
    }))
}

fn error_field(config: Value) -> String {
    match Model::from_config(&config) {
        Err(CalcError::InvalidField { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn every_registry_model_counts_exactly() {
    let mut mismatches = Vec::new();
    for entry in RegistryEntry::all() {
        let got = entry.model.params.total;
        if got != entry.config_derived_params as u128 {
            mismatches.push(format!(
                "{}: computed {got}, reference {} (diff {})",
                entry.name,
                entry.config_derived_params,
                got as i128 - entry.config_derived_params as i128
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(RegistryEntry::all().len(), 64);
}

#[test]
fn embedding_split_matches_model_cards() {
    // Qwen3 model cards state non-embedding counts: 0.44B (0.6B, tied) and 13.2B (14B).
    let small = &RegistryEntry::lookup("Qwen3-0.6B").unwrap().model.params;
    assert_eq!(small.non_embedding / 10_000_000, 44);
    let big = &RegistryEntry::lookup("Qwen3-14B").unwrap().model.params;
    assert_eq!(big.non_embedding / 100_000_000, 132);
}

#[test]
fn moe_active_parameters_match_published_figures() {
    // Published active counts: Qwen3-30B-A3B 3.3B, Mixtral-8x7B 12.9B (both counting
    // embeddings and lm_head); gpt-oss-20b 3.6B, which OpenAI counts without the
    // unembedding matrix.
    let params = |name: &str| RegistryEntry::lookup(name).unwrap().model.params;
    assert_eq!(params("Qwen3-30B-A3B").active, 3_353_032_704);
    assert_eq!(params("Mixtral-8x7B-v0.1").active, 12_879_925_248);
    let oss = params("gpt-oss-20b");
    assert_eq!((oss.active - oss.embedding_matrix) / 100_000_000, 36);
    // Dense models: every parameter is active.
    let dense = &RegistryEntry::lookup("Llama-3.1-8B").unwrap().model.params;
    assert_eq!(dense.active, dense.total);
}

/// Families without a registry model, checked against their published totals (config
/// values from the models' `config.json`, totals rounded as published).
#[test]
fn families_outside_the_registry_match_published_totals() {
    use serde_json::json;
    let count = |config: serde_json::Value| Model::from_config(&config).unwrap().params;

    // Qwen1.5-MoE-A2.7B: "14.3B total, 2.7B activated".
    let qwen_moe = count(json!({"model_type": "qwen2_moe", "hidden_size": 2048,
        "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
        "intermediate_size": 5632, "moe_intermediate_size": 1408,
        "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
        "vocab_size": 151936, "tie_word_embeddings": false}));
    assert_eq!(qwen_moe.total / 100_000_000, 143);
    assert_eq!(qwen_moe.active / 100_000_000, 26);

    // StarCoder (gpt_bigcode, multi-query): 15.5B.
    let starcoder = count(
        json!({"model_type": "gpt_bigcode", "n_embd": 6144, "n_layer": 40,
        "n_head": 48, "n_inner": 24576, "n_positions": 8192, "vocab_size": 49152,
        "multi_query": true}),
    );
    assert_eq!(starcoder.total / 100_000_000, 155);

    // Gemma 7B: 8.54B.
    let gemma = count(json!({"model_type": "gemma", "hidden_size": 3072,
        "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
        "head_dim": 256, "intermediate_size": 24576, "vocab_size": 256000}));
    assert_eq!(gemma.total / 10_000_000, 853);
    assert!(
        gemma.total == gemma.non_embedding + 256_000 * 3072,
        "tied embedding counted once"
    );
}

/// Where the reference notes give a config-derived active count (MoE models), the
/// calculator's active count equals it.
#[test]
fn moe_active_counts_match_the_reference_notes() {
    let mut checked = 0;
    for entry in RegistryEntry::all() {
        let Some(notes) = &entry.notes else { continue };
        let Some((_, rest)) = notes.split_once("config-derived active ") else {
            continue;
        };
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        let expected: u128 = digits.parse().unwrap();
        assert_eq!(entry.model.params.active, expected, "{}", entry.name);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} models carry an active count");
}

#[test]
fn mlp_biases_gated_and_plain() {
    // Gated MLP with biases: gate and up (2·100) and down (64) per layer.
    let m = model(llama(json!({"mlp_bias": true})));
    assert_eq!(m.params.total, TOY_LLAMA + 2 * 264);
    // Falcon-7B's layout: fused q/k/v for 4 heads + 1 shared KV head 64·(64 + 32),
    // output 64·64, plain MLP 2·64·100, biases 96 + 64 + 100 + 64, one LayerNorm
    // (weight and bias) per layer; tied; final LayerNorm 128.
    let falcon = model(json!({
        "model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 128, "ffn_hidden_size": 100, "bias": true
    }));
    let layer = 6144 + 4096 + 12_800 + 96 + 64 + 100 + 64 + 128;
    assert_eq!(falcon.params.total, 2 * layer + 8192 + 128);
    assert_eq!(falcon.arch.num_kv_heads, 1);
}

#[test]
fn moe_families_count_routers_shared_experts_and_expert_biases() {
    // gpt-oss: attention with biases (128 + 64) and 4 sinks; router 64·4 + 4 biases;
    // 4 experts of 3·64·100 weights and 2·100 + 64 biases; untied.
    let oss = model(json!({
        "model_type": "gpt_oss", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "intermediate_size": 100, "num_local_experts": 4, "experts_per_token": 2,
        "vocab_size": 128
    }));
    let layer = 12_288 + 192 + 4 + 128 + 260 + 4 * (19_200 + 264);
    assert_eq!(oss.params.total, 2 * layer + 16_384 + 64);
    // A token visits 2 of the 4 experts.
    assert_eq!(oss.params.active, oss.params.total - 2 * 2 * 19_464);
    // Qwen2-MoE: q/k/v biases 128; router 64·4; shared expert 3·64·60 and its gate 64;
    // 4 experts of 3·64·20.
    let qwen = model(json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "num_experts_per_tok": 2,
        "vocab_size": 128
    }));
    let layer = 12_288 + 128 + 128 + 256 + 11_520 + 64 + 4 * 3840;
    assert_eq!(qwen.params.total, 2 * layer + 16_384 + 64);
    // Linear weights (the quantizable ones) of 3 such layers: attention, shared expert
    // and experts, 12,288 + 11,520 + 15,360 each.
    let three = model(json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "vocab_size": 128
    }));
    assert_eq!(three.params.linear, 3 * 39_168);
    // A dense model has no MoE layer.
    assert_eq!(model(llama(json!({}))).params.moe_layer, 0);
}

#[test]
fn multi_head_latent_attention() {
    // q_a 64·32, q_b 32·4·12, kv_a 64·(16 + 4), kv_b 16·4·(8 + 8), o 4·8·64 = 7,936;
    // biases on q_a, kv_a and o (32 + 20 + 64) and the latent norms (32 + 16) = 164.
    // Dense layer: + norms 128 + MLP 19,200 = 27,428. MoE layer: + router 64·8 and its
    // 8 correction biases, shared 3·64·8, 8 experts of 3·64·8 = 22,572.
    let m = biased_toy_mla();
    assert_eq!(m.params.total, 27_428 + 22_572 + 16_384 + 64);
    assert_eq!(m.params.active, m.params.total - 6 * 1536);
    assert_eq!(m.arch.head_dim, 12);
    // KV cache: the latent and the rope key, (16 + 4) · 2 bytes per token and layer.
    let e = estimate_inference(&m, &InferenceRequest::new(2, 8)).unwrap();
    assert_eq!(e.kv_cache.0, 40 * 2 * 8 * 2);
}

#[test]
fn opt_projections_and_final_norm() {
    // OPT-350m's layout: a 32-wide embedding projected to 64 and back (2·32·64), learned
    // positions (16 + 2)·64, LayerNorms with bias, biased plain MLP; no final norm when
    // do_layer_norm_before is false.
    let config = json!({
        "model_type": "opt", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "ffn_dim": 100, "vocab_size": 128,
        "word_embed_proj_dim": 32, "max_position_embeddings": 16,
        "do_layer_norm_before": false
    });
    let m = model(config.clone());
    let layer = 16_384 + 256 + 12_800 + 164 + 256;
    assert_eq!(m.params.total, 2 * layer + 128 * 32 + 18 * 64 + 2 * 32 * 64);
    assert_eq!(m.params.dense_layer, layer);
    let mut with_norm = config;
    with_norm["do_layer_norm_before"] = json!(true);
    assert_eq!(model(with_norm).params.total, m.params.total + 128);
}

#[test]
fn sliding_windows_by_family_and_layer_types() {
    let slide = |config: Value| model(config).arch.sliding_layers;
    // Llama ignores a sliding_window; Mistral applies it to every layer.
    assert_eq!(slide(llama(json!({"sliding_window": 16}))), 0);
    assert_eq!(
        slide(llama(
            json!({"model_type": "mistral", "sliding_window": 16})
        )),
        2
    );
    assert_eq!(
        model(llama(json!({"sliding_window": 16})))
            .arch
            .sliding_window,
        None
    );
    // layer_types decides whatever the family.
    let typed = llama(json!({"sliding_window": 16,
        "layer_types": ["sliding_attention", "full_attention"]}));
    assert_eq!(slide(typed), 1);
    let missing_window = llama(json!({"layer_types": ["sliding_attention", "full_attention"]}));
    assert_eq!(error_field(missing_window), "config.sliding_window");
}

#[test]
fn qwen_moe_defaults_are_their_config_classes() {
    // Without num_experts_per_tok: Qwen2MoeConfig routes to 4, Qwen3MoeConfig to 8.
    let top_k = |t: &str| {
        model(
            json!({"model_type": t, "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "moe_intermediate_size": 20, "num_experts": 16,
            "vocab_size": 128}),
        )
        .arch
        .moe
        .unwrap()
        .experts_per_token
    };
    assert_eq!((top_k("qwen2_moe"), top_k("qwen3_moe")), (4, 8));
}

#[test]
fn qwen_moe_dense_layers() {
    let base = json!({
        "model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "num_experts": 4, "vocab_size": 128, "intermediate_size": 100
    });
    let moe_layers = |extra: Value| {
        let mut c = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        model(c).arch.moe.unwrap().moe_layers
    };
    assert_eq!(moe_layers(json!({})), 4);
    assert_eq!(moe_layers(json!({"mlp_only_layers": [0, 3]})), 2);
    assert_eq!(moe_layers(json!({"decoder_sparse_step": 2})), 2);
    // Every second layer, counted from the second: of 3 layers, only layer 1.
    assert_eq!(
        moe_layers(json!({"decoder_sparse_step": 2, "num_hidden_layers": 3})),
        1
    );
    let mut out_of_range = base.clone();
    out_of_range["mlp_only_layers"] = json!([4]);
    assert_eq!(error_field(out_of_range), "config.mlp_only_layers");
    let mut no_dense_width = base;
    no_dense_width["mlp_only_layers"] = json!([0]);
    no_dense_width
        .as_object_mut()
        .unwrap()
        .remove("intermediate_size");
    assert_eq!(error_field(no_dense_width), "config.intermediate_size");
}

#[test]
fn glm4_moe_counts_exactly() {
    // Without the stored multi-token-prediction layer: Fireworks' published count of
    // GLM-4.5 and INTELLECT-3's safetensors total (GLM-4.5-Air's shapes, no MTP layer).
    assert_eq!(model(glm_4_5()).params.total, 352_797_829_024);
    assert_eq!(model(glm_4_5_air()).params.total, 106_852_251_264);
    // `Glm4MoeConfig`'s defaults are GLM-4.5-Air's experts.
    let mut air = glm_4_5_air();
    let o = air.as_object_mut().unwrap();
    o.remove("n_routed_experts");
    o.remove("moe_intermediate_size");
    assert_eq!(model(air).params.total, 106_852_251_264);
}

#[test]
fn minimax_m2_counts_exactly() {
    assert_eq!(model(minimax_m2()).params.total, 228_689_764_864);
}

/// MiniMax-M2 normalizes q over all 48 heads and k over all 8 at once: 6,144 + 1,024
/// weights per layer, where a per-head norm would have 256.
#[test]
fn minimax_m2_norms_span_all_heads() {
    let across = model(minimax_m2()).params.total;
    let mut per_head = minimax_m2();
    per_head["qk_norm_type"] = json!("per_head");
    assert_eq!(
        across - model(per_head).params.total,
        62 * (6144 + 1024 - 256)
    );
    let mut bad = minimax_m2();
    bad["qk_norm_type"] = json!("sideways");
    assert_eq!(
        field_of(Model::from_config(&bad).unwrap_err()),
        "config.qk_norm_type"
    );
}

#[test]
fn llama4_counts_exactly() {
    let scout = model(llama4_scout_text());
    assert_eq!(scout.params.total, 107_769_861_120);
    assert_eq!(scout.params.active, 17_172_894_720);
    let mut maverick = llama4_scout_text();
    maverick["num_local_experts"] = json!(128);
    maverick["interleave_moe_layer_step"] = json!(2);
    let maverick = model(maverick);
    assert_eq!(maverick.params.total, 400_711_848_960);
    assert_eq!(maverick.arch.sliding_layers, 36);
    assert_eq!(maverick.arch.sliding_window, Some(8192));
}

/// Llama 4's `no_rope_layers` marks each rotary (chunked) layer with 1, global with 0;
/// experts sit on layers step-1, 2·step-1, …
#[test]
fn llama4_reads_its_layer_lists() {
    let mut c = llama4_scout_text();
    let rope: Vec<u64> = (0..48).map(|i| u64::from(i % 2 == 0)).collect();
    c["no_rope_layers"] = json!(rope);
    assert_eq!(model(c.clone()).arch.sliding_layers, 24);
    c["no_rope_layers"] = json!(vec![true; 48]);
    assert_eq!(model(c.clone()).arch.sliding_layers, 48);
    c["no_rope_layers"] = json!(vec![0; 48]);
    assert_eq!(model(c.clone()).arch.sliding_layers, 0);
    for bad in [json!(vec![1; 47]), json!(vec![2; 48]), json!("1110")] {
        c["no_rope_layers"] = bad;
        assert_eq!(
            field_of(Model::from_config(&c).unwrap_err()),
            "config.no_rope_layers"
        );
    }
    let mut maverick = llama4_scout_text();
    maverick["interleave_moe_layer_step"] = json!(2);
    let m = model(maverick);
    assert_eq!(&m.arch.moe_layer_mask[..4], &[false, true, false, true]);
}

/// Kimi K2's own `model_type` reads as DeepSeek-V3's layout.
#[test]
fn kimi_k2_is_deepseek_v3() {
    let m = registry_model("Kimi-K2-Instruct");
    assert_eq!(m.arch.family, "deepseek_v3");
    assert_eq!(m.params.total, 1_026_408_232_448);
    assert_eq!(m.params.active, 32_861_500_928);
}

/// Loading the multi-token-prediction layers (`load_mtp`) adds what the checkpoints
/// store beside the decoder, less the embedding and head the main model lends them:
/// GLM-4.6's and Qwen3-Next-80B-A3B-Instruct's Hub totals (which store no copies) are
/// met exactly; DeepSeek's MTP layer is the 11.6 B README_WEIGHTS.md calls "unique".
#[test]
fn mtp_layers_count_when_loaded() {
    let loaded = |name: &str| registry_model(name).with_mtp_layers().unwrap();
    assert_eq!(loaded("GLM-4.6").params.total, 356_785_898_816);
    assert_eq!(
        loaded("Qwen3-Next-80B-A3B-Instruct").params.total,
        81_324_862_720
    );
    let v3 = registry_model("DeepSeek-V3.1");
    assert_eq!(
        loaded("DeepSeek-V3.1").params.total - v3.params.total,
        11_610_068_224
    );
    // Qwen3.5-9B's MTP layer (243,290,624 in the published breakdown) is dense.
    let q = registry_model("Qwen3.5-9B");
    assert_eq!(
        loaded("Qwen3.5-9B").params.total - q.params.total,
        243_290_624
    );
    // The MTP layer caches keys and values too: one more attention layer.
    let mut r = InferenceRequest::new(1, 4096);
    let plain = estimate_inference(v3, &r).unwrap();
    r.load_mtp = true;
    let with = estimate_inference(v3, &r).unwrap();
    assert_eq!(
        with.cache_by_kind.attention,
        plain.cache_by_kind.attention / 61 * 62
    );
    assert!(with.model_weights.0 > plain.model_weights.0);
    // Kimi K2 and MiniMax-M2 publish none.
    let e = estimate_inference(registry_model("Kimi-K2-Instruct"), &r).unwrap_err();
    assert_eq!(field_of(e), "load_mtp");
    let e = estimate_inference(registry_model("MiniMax-M2"), &r).unwrap_err();
    assert_eq!(field_of(e), "load_mtp");
}
