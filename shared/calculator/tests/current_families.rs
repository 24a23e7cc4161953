//! The families of late 2026 (issue 11): exact parameter totals against the published
//! checkpoints, and caches that grow only where the layers keep per-token state.

use calculator::training::TrainingRequest;
use calculator::{
    estimate_inference, estimate_training, registry, Bytes, CalcError, Engine, InferenceEstimate,
    InferenceRequest, Model, Precision, VllmSettings,
};
use serde_json::{json, Value};

/// `base` with the keys of `extra` set over it.
fn merged(mut base: Value, extra: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

fn registry_model(name: &str) -> &'static Model {
    &registry::lookup(name).unwrap().model
}

/// The transformers-engine answer for one sequence of `tokens` tokens.
fn one_sequence(model: &Model, tokens: u64) -> InferenceEstimate {
    estimate_inference(model, &InferenceRequest::new(1, tokens)).unwrap()
}

fn field_of(e: CalcError) -> String {
    match e {
        CalcError::InvalidField { field, .. } => field,
        other => panic!("{other}"),
    }
}

fn model(config: Value) -> Model {
    Model::from_config(&config).unwrap_or_else(|e| panic!("{e}"))
}

/// Qwen/Qwen3-Next-80B-A3B-Instruct `config.json`.
fn qwen3_next() -> Value {
    json!({"model_type": "qwen3_next", "hidden_size": 2048, "intermediate_size": 5120,
        "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 2,
        "head_dim": 256, "vocab_size": 151936, "tie_word_embeddings": false,
        "full_attention_interval": 4, "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128, "linear_value_head_dim": 128,
        "linear_num_key_heads": 16, "linear_num_value_heads": 32,
        "num_experts": 512, "num_experts_per_tok": 10, "moe_intermediate_size": 512,
        "shared_expert_intermediate_size": 512, "decoder_sparse_step": 1,
        "mlp_only_layers": [], "partial_rotary_factor": 0.25,
        "max_position_embeddings": 262144, "torch_dtype": "bfloat16"})
}

#[test]
fn qwen3_next_counts_exactly() {
    // Qwen/Qwen3-Coder-Next's published total (the same architecture; the Instruct
    // checkpoint adds a multi-token-prediction layer that is not loaded).
    let m = model(qwen3_next());
    assert_eq!(m.params.total, 79_674_391_296);
    assert_eq!(m.params.active, 3_874_929_408);
    assert_eq!(m.arch.attention_layers, 12);
    assert_eq!(m.arch.mixer.unwrap().layers, 36);
}

/// zai-org/GLM-4.5 `config.json` (GLM-4.6 has the same shapes).
fn glm_4_5() -> Value {
    json!({"model_type": "glm4_moe", "hidden_size": 5120, "intermediate_size": 12288,
        "moe_intermediate_size": 1536, "num_hidden_layers": 92, "num_attention_heads": 96,
        "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 160,
        "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
        "vocab_size": 151552, "attention_bias": true, "use_qk_norm": true,
        "partial_rotary_factor": 0.5, "num_nextn_predict_layers": 1,
        "tie_word_embeddings": false, "max_position_embeddings": 131072,
        "torch_dtype": "bfloat16"})
}

/// zai-org/GLM-4.5-Air `config.json`.
fn glm_4_5_air() -> Value {
    json!({"model_type": "glm4_moe", "hidden_size": 4096, "intermediate_size": 10944,
        "moe_intermediate_size": 1408, "num_hidden_layers": 46, "num_attention_heads": 96,
        "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 128,
        "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 1,
        "vocab_size": 151552, "attention_bias": true, "use_qk_norm": false,
        "partial_rotary_factor": 0.5, "num_nextn_predict_layers": 1,
        "tie_word_embeddings": false, "max_position_embeddings": 131072,
        "torch_dtype": "bfloat16"})
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

/// MiniMaxAI/MiniMax-M2 `config.json`.
fn minimax_m2() -> Value {
    json!({"model_type": "minimax_m2", "hidden_size": 3072, "intermediate_size": 1536,
        "num_hidden_layers": 62, "num_attention_heads": 48, "num_key_value_heads": 8,
        "head_dim": 128, "num_local_experts": 256, "num_experts_per_tok": 8,
        "vocab_size": 200064, "use_qk_norm": true, "qk_norm_type": "per_layer",
        "rotary_dim": 64, "use_routing_bias": true, "tie_word_embeddings": false,
        "max_position_embeddings": 196608, "torch_dtype": "bfloat16"})
}

#[test]
fn minimax_m2_counts_exactly() {
    assert_eq!(model(minimax_m2()).params.total, 228_689_764_864);
}

/// meta-llama/Llama-4-Scout-17B-16E-Instruct `text_config`.
fn llama4_scout_text() -> Value {
    json!({"model_type": "llama4_text", "hidden_size": 5120, "intermediate_size": 8192,
        "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
        "num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 16,
        "num_experts_per_tok": 1, "interleave_moe_layer_step": 1, "vocab_size": 202048,
        "attention_chunk_size": 8192, "use_qk_norm": true, "tie_word_embeddings": false,
        "max_position_embeddings": 10485760, "torch_dtype": "bfloat16"})
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

/// Only the 12 gated-attention layers of Qwen3-Next grow with the context; the 36
/// Gated DeltaNet layers keep a fixed state per sequence: the convolution's last 4
/// inputs over q, k and v (8,192 channels) in bf16 and a 128 x 128 fp32 matrix per
/// value head (32), as transformers keeps them.
#[test]
fn qwen3_next_cache_grows_only_in_attention_layers() {
    let m = model(qwen3_next());
    let per_token = 12 * 2 * 2 * 256 * 2;
    let state = 36 * (8192 * 4 * 2 + 32 * 128 * 128 * 4);
    for tokens in [1, 4096, 65536] {
        let c = one_sequence(&m, tokens).cache_by_kind;
        assert_eq!(c.attention, per_token * tokens as u128);
        assert_eq!(c.state, state);
        assert_eq!(c.indexer, 0);
    }
    let two = estimate_inference(&m, &InferenceRequest::new(2, 4096)).unwrap();
    assert_eq!(two.cache_by_kind.state, 2 * state);
    assert_eq!(two.kv_cache.0 as u128, two.cache_by_kind.total());
    // Over 2 GPUs each keeps half the heads' state.
    let mut r = InferenceRequest::new(1, 4096);
    r.num_gpus = 2;
    assert_eq!(
        estimate_inference(&m, &r).unwrap().cache_by_kind.state,
        state / 2
    );
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

/// `layer_types` decides the layers where it is given; the value heads must be a
/// multiple of the key heads.
#[test]
fn qwen3_next_reads_layer_types_and_checks_heads() {
    let mut config = qwen3_next();
    let types: Vec<Value> = (0..48)
        .map(|i| {
            json!(if i % 2 == 0 {
                "linear_attention"
            } else {
                "full_attention"
            })
        })
        .collect();
    config["layer_types"] = json!(types);
    let m = model(config.clone());
    assert_eq!(m.arch.attention_layers, 24);
    assert_eq!(m.arch.mixer.unwrap().layers, 24);
    config["linear_num_value_heads"] = json!(24);
    config["linear_num_key_heads"] = json!(16);
    let e = Model::from_config(&config).unwrap_err();
    assert_eq!(field_of(e), "config.linear_num_value_heads");
}

/// Llama 4's 36 chunked layers never cache more than one chunk (8,192 tokens); its 12
/// global layers cache everything: 4,096 bytes per token and layer in bf16.
#[test]
fn llama4_chunked_layers_stop_at_the_chunk() {
    let m = registry_model("Llama-4-Scout-17B-16E-Instruct");
    let per_layer_token = 2 * 8 * 128 * 2;
    for tokens in [4096u128, 8192, 32768, 131072] {
        let c = one_sequence(m, tokens as u64).cache_by_kind;
        let expected = (12 * tokens + 36 * tokens.min(8192)) * per_layer_token;
        assert_eq!(c.attention, expected, "{tokens}");
    }
}

/// DeepSeek-V3.2 caches, besides MLA's latent and rope key, one indexer key per token
/// and layer: 128 fp8 values and an fp32 scale.
#[test]
fn deepseek_v32_caches_indexer_keys() {
    let m = registry_model("DeepSeek-V3.2");
    let c = one_sequence(m, 4096).cache_by_kind;
    assert_eq!(c.indexer, 61 * 132 * 4096);
    assert_eq!(c.attention, 61 * 576 * 2 * 4096);
    // V3 has no indexer; V3.2's adds 13,959,424 parameters per layer.
    let v3 = registry_model("DeepSeek-V3.1");
    assert_eq!(one_sequence(v3, 4096).cache_by_kind.indexer, 0);
    assert_eq!(m.params.total - v3.params.total, 61 * 13_959_424);
    // vLLM: a page holds the latent block and the indexer keys; an fp8 cache is the
    // sparse kernels' 656-byte layout.
    let mut r = InferenceRequest::new(1, 4096);
    r.num_gpus = 8;
    r.kv_cache_precision = Some(Precision::Float8);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(141 << 30)));
    let e = estimate_inference(m, &r).unwrap();
    let c = e.vllm.unwrap();
    let pages = c.num_blocks as u128 * 61;
    assert_eq!(e.cache_by_kind.attention, pages * 64 * 656);
    assert_eq!(e.cache_by_kind.indexer, pages * 64 * 132);
}

/// Kimi K2's own `model_type` reads as DeepSeek-V3's layout.
#[test]
fn kimi_k2_is_deepseek_v3() {
    let m = registry_model("Kimi-K2-Instruct");
    assert_eq!(m.arch.family.name, "deepseek_v3");
    assert_eq!(m.params.total, 1_026_408_232_448);
    assert_eq!(m.params.active, 32_861_500_928);
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

/// A Qwen3.5 wrapper config (`qwen3_5` / `qwen3_5_moe`) around its `text_config`:
/// three Gated DeltaNet layers to one gated-attention layer, as `layer_types` states.
fn qwen3_5(wrapper: &str, text: Value) -> Value {
    let layers = text["num_hidden_layers"].as_u64().unwrap();
    let types: Vec<&str> = (0..layers)
        .map(|i| {
            if (i + 1) % 4 == 0 {
                "full_attention"
            } else {
                "linear_attention"
            }
        })
        .collect();
    let shared = json!({"head_dim": 256, "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_num_key_heads": 16,
        "attn_output_gate": true, "vocab_size": 248320, "full_attention_interval": 4,
        "layer_types": types, "mamba_ssm_dtype": "float32", "mtp_num_hidden_layers": 1,
        "max_position_embeddings": 262144, "partial_rotary_factor": 0.25});
    let text = merged(text, shared);
    json!({"model_type": wrapper, "text_config": text, "vision_config": {"depth": 27},
        "torch_dtype": "bfloat16"})
}

/// Qwen3.5's language models (the published totals add the vision tower and one MTP
/// layer; the text parts are the totals' own breakdowns where published, else the
/// totals less the tower and MTP layer, which reproduce every published total).
#[test]
fn qwen3_5_counts_exactly() {
    let dense = |h, l, i, heads, v_heads, tie| {
        qwen3_5(
            "qwen3_5",
            json!({"hidden_size": h, "num_hidden_layers": l, "intermediate_size": i,
                "num_attention_heads": heads, "num_key_value_heads": 4,
                "linear_num_value_heads": v_heads, "tie_word_embeddings": tie}),
        )
    };
    assert_eq!(
        model(dense(4096, 32, 12288, 16, 32, false)).params.total,
        8_953_803_264
    );
    assert_eq!(
        model(dense(2560, 32, 9216, 16, 32, true)).params.total,
        4_205_751_296
    );
    assert_eq!(
        model(dense(5120, 64, 17408, 24, 48, false)).params.total,
        26_895_998_464
    );
    let moe = |h, l, heads, v_heads, experts, top_k, width| {
        qwen3_5(
            "qwen3_5_moe",
            json!({"hidden_size": h, "num_hidden_layers": l, "num_attention_heads": heads,
                "num_key_value_heads": 2, "linear_num_value_heads": v_heads,
                "num_experts": experts, "num_experts_per_tok": top_k,
                "moe_intermediate_size": width, "shared_expert_intermediate_size": width,
                "tie_word_embeddings": false}),
        )
    };
    let a3b = model(moe(2048, 40, 16, 32, 256, 8, 512));
    assert_eq!(a3b.params.total, 34_660_610_688);
    assert_eq!(a3b.params.active, 3_454_988_928);
    assert_eq!(a3b.arch.family.name, "qwen3_5_moe_text");
    assert_eq!(
        model(moe(4096, 60, 32, 64, 512, 10, 1024)).params.total,
        396_346_350_336
    );
}

/// nvidia/NVIDIA-Nemotron-Nano-9B-v2 `config.json`.
fn nemotron_nano_9b() -> Value {
    json!({"model_type": "nemotron_h", "hidden_size": 4480, "num_hidden_layers": 56,
        "hybrid_override_pattern": "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-",
        "mamba_num_heads": 128, "mamba_head_dim": 80, "ssm_state_size": 128, "n_groups": 8,
        "conv_kernel": 4, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
        "intermediate_size": 15680, "vocab_size": 131072, "tie_word_embeddings": false,
        "use_conv_bias": true, "use_bias": false, "mlp_bias": false, "chunk_size": 128,
        "max_position_embeddings": 131072, "torch_dtype": "bfloat16"})
}

#[test]
fn mamba_hybrids_count_exactly() {
    // Nemotron Nano 2 (9B): Hugging Face safetensors total.
    let nano = model(nemotron_nano_9b());
    assert_eq!(nano.params.total, 8_888_227_328);
    assert_eq!(
        (nano.arch.attention_layers, nano.arch.mixer.unwrap().layers),
        (4, 27)
    );
    // Nemotron 3 Nano 30B-A3B: llama.cpp's n_params (the routers' score-correction
    // biases included).
    let nano3 = model(json!({"model_type": "nemotron_h", "hidden_size": 2688,
        "num_hidden_layers": 52,
        "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
        "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8,
        "conv_kernel": 4, "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128,
        "intermediate_size": 1856, "n_routed_experts": 128, "num_experts_per_tok": 6,
        "moe_intermediate_size": 1856, "n_shared_experts": 1,
        "moe_shared_expert_intermediate_size": 3712, "vocab_size": 131072,
        "tie_word_embeddings": false, "use_conv_bias": true, "use_bias": false,
        "mamba_ssm_cache_dtype": "float32", "torch_dtype": "bfloat16"}));
    assert_eq!(nano3.params.total, 31_577_940_288);
    // granite-4.0-h-small and granite-4.0-micro: Hugging Face safetensors totals.
    let mut types = vec!["mamba"; 40];
    for i in [5, 15, 25, 35] {
        types[i] = "attention";
    }
    let small = model(
        json!({"model_type": "granitemoehybrid", "hidden_size": 4096,
        "num_hidden_layers": 40, "layer_types": types, "mamba_n_heads": 128, "mamba_d_head": 64,
        "mamba_expand": 2, "mamba_d_state": 128, "mamba_n_groups": 1, "mamba_d_conv": 4,
        "num_attention_heads": 32, "num_key_value_heads": 8, "num_local_experts": 72,
        "num_experts_per_tok": 10, "intermediate_size": 768, "shared_intermediate_size": 1536,
        "vocab_size": 100352, "tie_word_embeddings": true, "torch_dtype": "bfloat16"}),
    );
    assert_eq!(small.params.total, 32_207_337_984);
    let micro = model(
        json!({"model_type": "granitemoehybrid", "hidden_size": 2560,
        "num_hidden_layers": 40, "layer_types": vec!["attention"; 40], "mamba_n_heads": 128,
        "mamba_d_head": 40, "mamba_d_state": 256, "num_attention_heads": 40,
        "num_key_value_heads": 8, "num_local_experts": 0, "intermediate_size": 8192,
        "shared_intermediate_size": 8192, "vocab_size": 100352, "tie_word_embeddings": true}),
    );
    assert_eq!(micro.params.total, 3_402_836_480);
    assert!(micro.arch.mixer.is_none());
    // Jamba (v0.1; Mini 1.5 has the same shapes): twice the index's total_size in bf16.
    let jamba = model(json!({"model_type": "jamba", "hidden_size": 4096,
        "num_hidden_layers": 32, "attn_layer_period": 8, "attn_layer_offset": 4,
        "expert_layer_period": 2, "expert_layer_offset": 1, "num_experts": 16,
        "num_experts_per_tok": 2, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": 14336, "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2,
        "mamba_dt_rank": 256, "mamba_conv_bias": true, "mamba_proj_bias": false,
        "mamba_inner_layernorms": true, "vocab_size": 65536, "tie_word_embeddings": false}));
    assert_eq!(jamba.params.total, 51_570_323_328);
    assert_eq!(jamba.arch.attention_layers, 4);
}

/// Falcon-H1-7B: attention and Mamba-2 in every one of its 44 layers. No exact total is
/// published; the count is checked against the shapes summed by hand (per layer:
/// Mamba-2 29,976,136 with no gated norm, attention 11,010,048, MLP 113,246,208, norms
/// 6,144; embeddings 2 x 130,048 x 3,072; final norm).
#[test]
fn falcon_h1_has_attention_and_mamba_in_every_layer() {
    let m = model(json!({"model_type": "falcon_h1", "hidden_size": 3072,
        "num_hidden_layers": 44, "num_attention_heads": 12, "num_key_value_heads": 2,
        "head_dim": 128, "intermediate_size": 12288, "vocab_size": 130048,
        "tie_word_embeddings": false, "mamba_d_ssm": 3072, "mamba_n_heads": 24,
        "mamba_d_head": 128, "mamba_d_state": 256, "mamba_n_groups": 1, "mamba_d_conv": 4,
        "mamba_expand": 2, "mamba_chunk_size": 128, "torch_dtype": "bfloat16"}));
    let per_layer = 29_976_136 + 11_010_048 + 113_246_208 + 2 * 3072;
    assert_eq!(m.params.total, 44 * per_layer + 2 * 130_048 * 3072 + 3072);
    assert_eq!(m.params.total, 7_585_513_568);
    // Both caches cover all 44 layers: KV per token, and a state per sequence of
    // conv (3,072 + 2 x 256 channels x 4 taps) and 24 x 128 x 256 values, in bf16.
    let c = one_sequence(&m, 1000).cache_by_kind;
    assert_eq!(c.attention, 44 * 2 * 2 * 128 * 2 * 1000);
    assert_eq!(c.state, 44 * (3584 * 4 + 24 * 128 * 256) * 2);
}

/// A Mamba layer's state is fixed: Nemotron Nano 2's 27 Mamba-2 layers keep the
/// convolution's last 4 inputs over 12,288 channels and 128 heads x 80 x 128 values,
/// in bf16 under transformers, however long the sequence; its 4 attention layers grow.
#[test]
fn mamba_state_is_fixed_per_sequence() {
    let m = model(nemotron_nano_9b());
    let state = 27 * (12_288 * 4 + 128 * 80 * 128) * 2;
    for tokens in [16u128, 4096, 131072] {
        let c = one_sequence(&m, tokens as u64).cache_by_kind;
        assert_eq!(c.state, state);
        assert_eq!(c.attention, 4 * 2 * 8 * 128 * 2 * tokens);
    }
}

/// moonshotai/Kimi-Linear-48B-A3B-Instruct `config.json`.
fn kimi_linear() -> Value {
    json!({"model_type": "kimi_linear", "hidden_size": 2304, "num_hidden_layers": 27,
        "intermediate_size": 9216, "vocab_size": 163840, "num_attention_heads": 32,
        "num_key_value_heads": 32, "head_dim": 72, "q_lora_rank": null, "kv_lora_rank": 512,
        "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
        "mla_use_nope": true, "num_experts": 256, "num_experts_per_token": 8,
        "num_shared_experts": 1, "moe_intermediate_size": 1024, "first_k_dense_replace": 1,
        "moe_layer_freq": 1, "tie_word_embeddings": false, "num_nextn_predict_layers": 0,
        "linear_attn_config": {"head_dim": 128, "num_heads": 32, "short_conv_kernel_size": 4,
            "kda_layers": [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26],
            "full_attn_layers": [4, 8, 12, 16, 20, 24, 27]},
        "max_position_embeddings": 1048576, "torch_dtype": "bfloat16"})
}

/// Kimi-Linear: 20 KDA layers and 7 MLA layers; its modelling code caches the MLA
/// layers' keys (192 per head) and values (128 per head) for all 32 heads.
#[test]
fn kimi_linear_counts_exactly_and_caches_by_kind() {
    let m = model(kimi_linear());
    assert_eq!(m.params.total, 49_122_681_728);
    assert_eq!(m.params.active, 3_484_459_904);
    assert_eq!(
        (m.arch.attention_layers, m.arch.mixer.unwrap().layers),
        (7, 20)
    );
    let c = one_sequence(&m, 1000).cache_by_kind;
    assert_eq!(c.attention, 7 * 32 * (192 + 128) * 2 * 1000);
    assert_eq!(c.state, 20 * (3 * 4096 * 4 * 2 + 32 * 128 * 128 * 4));
    let mut bad = kimi_linear();
    bad["linear_attn_config"]["kda_layers"] = json!([0]);
    assert_eq!(
        field_of(Model::from_config(&bad).unwrap_err()),
        "config.linear_attn_config.kda_layers"
    );
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

/// A small Qwen3-Next whose prefill peak is a Gated DeltaNet layer: the norm's output,
/// the projections' streams, the convolution's output, the scan's and the gated norm's
/// outputs per token, and one fp32 state per 64-token chunk (methodology §5).
#[test]
fn a_mixer_layer_can_set_the_prefill_peak() {
    let mut c = qwen3_next();
    for (k, v) in [
        ("hidden_size", 256),
        ("num_attention_heads", 2),
        ("num_key_value_heads", 1),
        ("head_dim", 64),
        ("linear_num_key_heads", 4),
        ("linear_num_value_heads", 8),
        ("linear_key_head_dim", 64),
        ("linear_value_head_dim", 64),
        ("num_experts", 1),
        ("num_experts_per_tok", 1),
        ("moe_intermediate_size", 1),
        ("shared_expert_intermediate_size", 0),
        ("vocab_size", 64),
    ] {
        c[k] = json!(v);
    }
    let m = model(c);
    let (t, h, a) = (1000u128, 256u128, 2u128);
    let (key, value) = (4 * 64, 8 * 64);
    let in_proj = 2 * key + 2 * value + 2 * 8;
    let conv = 2 * key + value;
    // The chunk states in bf16, as flash-linear-attention's kernels keep them.
    let mixer = t * (h + in_proj + conv + 2 * value) * a + t.div_ceil(64) * 8 * 64 * 64 * a;
    let e = one_sequence(&m, t as u64);
    assert_eq!(e.activation_memory.0 as u128, 2 * t * h * a + mixer);
    // Over 2 GPUs the streams and states split.
    let mut r = InferenceRequest::new(1, t as u64);
    r.num_gpus = 2;
    let split =
        t * (h + (in_proj + conv + 2 * value) / 2) * a + t.div_ceil(64) * 8 * 64 * 64 * a / 2;
    assert_eq!(
        estimate_inference(&m, &r).unwrap().activation_memory.0 as u128,
        2 * t * h * a + split
    );
}

/// The query projection's gate half is a transient of the attention block; attention
/// beside Mamba (Falcon-H1) also holds the mixer's output.
#[test]
fn gated_and_side_by_side_attention_transients() {
    let gated = |gate: bool| {
        let mut c = qwen3_5(
            "qwen3_5",
            json!({"hidden_size": 4096, "num_hidden_layers": 4, "intermediate_size": 16,
                "num_attention_heads": 64, "num_key_value_heads": 4,
                "linear_num_value_heads": 16, "tie_word_embeddings": false}),
        );
        c["text_config"]["attn_output_gate"] = json!(gate);
        c["text_config"]["vocab_size"] = json!(64);
        one_sequence(&model(c), 100).activation_memory.0
    };
    assert_eq!(gated(true) - gated(false), 100 * 64 * 256 * 2);
    // A Falcon-H1 whose peak is attention (q 1,024, k and v 1,024 each): norm output,
    // q, k, v, their rotary copies, the output, and the Mamba branch's output beside.
    let falcon = model(json!({"model_type": "falcon_h1", "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 16, "num_key_value_heads": 16,
        "head_dim": 64, "intermediate_size": 8, "vocab_size": 8, "mamba_d_ssm": 8,
        "mamba_n_heads": 1, "mamba_d_head": 8, "mamba_d_state": 1, "mamba_n_groups": 1}));
    let attention = 64 + 1024 + 2 * 1024 + 1024 + 1024 + 1024 + 64;
    assert_eq!(
        one_sequence(&falcon, 100).activation_memory.0,
        100 * (2 * 64 + attention) * 2
    );
}

/// `cache_growth`: per token and per sequence, in the model's dtype on one GPU.
#[test]
fn cache_rates_per_kind() {
    use calculator::kv_cache::cache_rates;
    let r = cache_rates(&model(qwen3_next()));
    assert_eq!(
        (
            r.attention_per_token,
            r.indexer_per_token,
            r.state_per_sequence
        ),
        (24_576, 0, 77_856_768)
    );
    let r = cache_rates(registry_model("DeepSeek-V3.2"));
    assert_eq!(
        (
            r.attention_per_token,
            r.indexer_per_token,
            r.state_per_sequence
        ),
        (61 * 1152, 61 * 132, 0)
    );
    let r = cache_rates(&model(kimi_linear()));
    assert_eq!(r.attention_per_token, 143_360);
    assert_eq!(r.state_per_sequence, 43_909_120);
    // The answer's cache is the three kinds together.
    let e = one_sequence(&model(qwen3_next()), 100);
    assert_eq!(e.kv_cache.0 as u128, 24_576 * 100 + 77_856_768);
    let e = one_sequence(registry_model("DeepSeek-V3.2"), 100);
    assert_eq!(e.kv_cache.0 as u128, 100 * 61 * (1152 + 132));
}

/// What a training step saves of q/k norms: MiniMax-M2's norm over all heads keeps one
/// inverse RMS per token for q and one for k, a per-head norm one per head; Llama 4's
/// weightless norm keeps its fp32 input and inverse RMS on its 3 rotary layers of 4.
#[test]
fn qk_norm_layouts_save_what_they_normalize() {
    let activations = |config: Value| {
        let m = model(config);
        let mut r = TrainingRequest::new(1, 100);
        r.method = calculator::Method::Full;
        estimate_training(&m, &r).unwrap().activation_memory.0 as i128
    };
    let mut small = minimax_m2();
    for (k, v) in [
        ("hidden_size", 64),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 8),
        ("num_key_value_heads", 2),
        ("head_dim", 16),
        ("num_local_experts", 2),
        ("num_experts_per_tok", 1),
        ("intermediate_size", 32),
        ("vocab_size", 128),
    ] {
        small[k] = json!(v);
    }
    let across = activations(small.clone());
    small["qk_norm_type"] = json!("per_head");
    let per_head = activations(small);
    // 100 tokens, 2 layers: (8 + 2) inverse RMS per token instead of 2, fp32.
    assert_eq!(per_head - across, 2 * 100 * (10 - 2) * 4);

    let mut l4 = llama4_scout_text();
    for (k, v) in [
        ("hidden_size", 64),
        ("num_hidden_layers", 4),
        ("num_attention_heads", 8),
        ("num_key_value_heads", 2),
        ("head_dim", 16),
        ("num_local_experts", 2),
        ("intermediate_size", 32),
        ("intermediate_size_mlp", 32),
        ("vocab_size", 128),
    ] {
        l4[k] = json!(v);
    }
    let with = activations(l4.clone());
    l4["use_qk_norm"] = json!(false);
    let without = activations(l4);
    // On 3 of the 4 layers: q and k in fp32 (128 + 32 values) and 10 inverse RMS.
    assert_eq!(with - without, 3 * 100 * ((128 + 32) * 4 + 10 * 4));
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
        .any(|w| w.contains("456010480 more parameters")));
    // Not in the totals, which are the language model's.
    assert_eq!(m.params.total, 8_953_803_264);
    // A tower the calculator does not know is only warned about.
    assert_eq!(tower("gemma-3-4b-it"), None);
    let mut bad = registry::lookup("Llama-4-Scout-17B-16E-Instruct")
        .unwrap()
        .config
        .clone();
    bad["vision_config"]["pixel_shuffle_ratio"] = json!(0.0);
    assert_eq!(
        field_of(Model::from_config(&bad).unwrap_err()),
        "config.vision_config.pixel_shuffle_ratio"
    );
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

/// vLLM's pool for a hybrid without attention layers is not modelled.
#[test]
fn vllm_needs_attention_layers() {
    let mut c = nemotron_nano_9b();
    c["num_hidden_layers"] = json!(3);
    c["hybrid_override_pattern"] = json!("MM-");
    let m = model(c);
    let mut r = InferenceRequest::new(1, 16);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(80 << 30)));
    assert_eq!(field_of(estimate_inference(&m, &r).unwrap_err()), "engine");
}

/// `config` as an fp8 checkpoint (128 x 128 blocks) that keeps `skip` in 16-bit: the
/// weights for one 16-token sequence, and the exclusions read.
fn fp8_keeping(mut config: Value, skip: Value) -> InferenceEstimate {
    config["quantization_config"] = json!({"quant_method": "fp8",
        "weight_block_size": [128, 128], "modules_to_not_convert": skip});
    one_sequence(&model(config), 16)
}

/// What a `rows x cols` matrix kept in 16-bit adds over its fp8 form: one more byte a
/// weight, less the fp32 scale of each 128 x 128 block.
fn kept_16_bit(rows: u64, cols: u64) -> u64 {
    rows * cols - rows.div_ceil(128) * cols.div_ceil(128) * 4
}

/// A layer-scoped exclusion keeps the matrices that layer holds: Nemotron Nano 2's
/// block 1 is an MLP (up and down), block 0 a Mamba-2 mixer (in and out projections),
/// block 14 attention (q, k, v, o).
#[test]
fn layer_scoped_exclusions_follow_the_block_kinds() {
    let weights = |skip: Value| fp8_keeping(nemotron_nano_9b(), skip).model_weights.0;
    let plain = weights(json!([]));
    let kept = |layer: u64| weights(json!([format!("backbone.layers.{layer}")])) - plain;
    assert_eq!(kept(1), kept_16_bit(4480, 15680) + kept_16_bit(15680, 4480));
    assert_eq!(kept(0), kept_16_bit(4480, 22656) + kept_16_bit(10240, 4480));
    assert_eq!(
        kept(14),
        2 * kept_16_bit(4480, 5120) + 2 * kept_16_bit(4480, 1024)
    );
}

/// A quantized checkpoint that keeps its linear-attention projections in 16-bit
/// (`modules_to_not_convert: ["linear_attn"]`) is sized so.
#[test]
fn unquantized_mixer_projections_stay_16_bit() {
    let weights = |skip: Value| {
        let e = fp8_keeping(qwen3_next(), skip);
        (e.model_weights.0, e.unquantized_modules)
    };
    let (plain, none) = weights(json!([]));
    // One layer's shared expert: gate, up and down, 2,048 x 512 each way.
    let (shared, _) = weights(json!(["model.layers.3.mlp.shared_expert"]));
    assert_eq!(shared - plain, 3 * kept_16_bit(2048, 512));
    let (kept, scopes) = weights(json!(["linear_attn"]));
    assert!(none.is_empty());
    assert!(scopes
        .iter()
        .all(|s| s.kind == calculator::architecture::LinearKind::Mixer));
    // The 36 layers' input and output projections.
    assert_eq!(
        kept - plain,
        36 * (kept_16_bit(2048, 12_352) + kept_16_bit(4096, 2048))
    );
}

/// Falcon-H1's flags add what they name: projection biases, the gated norm, the
/// convolution bias (per layer: `in_proj` 6,680 + `h` 3,072, the norm 3,072; the
/// convolution's 3,584 channels).
#[test]
fn falcon_h1_flags_add_their_parameters() {
    let falcon = |extra: Value| {
        let c = json!({"model_type": "falcon_h1", "hidden_size": 3072,
            "num_hidden_layers": 44, "num_attention_heads": 12, "num_key_value_heads": 2,
            "head_dim": 128, "intermediate_size": 12288, "vocab_size": 130048,
            "mamba_d_ssm": 3072, "mamba_n_heads": 24, "mamba_d_head": 128,
            "mamba_d_state": 256, "mamba_n_groups": 1});
        model(merged(c, extra)).params.total
    };
    let plain = falcon(json!({}));
    assert_eq!(plain, 7_585_513_568);
    let flags = json!({"mamba_proj_bias": true, "projectors_bias": true, "mamba_rms_norm": true});
    assert_eq!(falcon(flags) - plain, 44 * (6680 + 3072 + 3072));
    assert_eq!(plain - falcon(json!({"mamba_conv_bias": false})), 44 * 3584);
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

/// Jamba: experts on every other layer from 1, the state of its 28 Mamba layers (a
/// 4-tap convolution and 16 values per channel of 8,192, bf16), `mamba_dt_rank` auto.
#[test]
fn jamba_layers_and_state() {
    let base = json!({"model_type": "jamba", "hidden_size": 4096,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": 14336, "vocab_size": 65536, "mamba_dt_rank": "auto",
        "torch_dtype": "bfloat16"});
    let m = model(base.clone());
    assert_eq!(m.params.total, 51_570_323_328);
    assert_eq!(&m.arch.moe_layer_mask[..4], &[false, true, false, true]);
    assert_eq!(
        one_sequence(&m, 16).cache_by_kind.state,
        28 * (8192 * 4 + 8192 * 16) * 2
    );
    let mut dense = base;
    dense["num_experts"] = json!(1);
    assert!(model(dense).arch.moe.is_none());
    // A Qwen3-Next whose layer_types has no linear-attention layer has no mixer.
    let mut q = qwen3_next();
    q["layer_types"] = json!(vec!["full_attention"; 48]);
    assert!(model(q).arch.mixer.is_none());
}

/// DeepSeek-V3.2's indexer under LoRA on every linear: its `wk` reads the normalized
/// input and its `wq_b` the query latent, so each keeps a 16-bit copy of its input for
/// its fp32 adapter, and each adapter its rank-8 `lora_A` output (methodology §7.5).
#[test]
fn the_indexer_adds_its_adapters_inputs() {
    let toy = |indexer: bool| {
        let mut c = json!({"model_type": "deepseek_v3", "hidden_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "q_lora_rank": 32,
            "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
            "v_head_dim": 8, "intermediate_size": 32, "moe_intermediate_size": 8,
            "n_routed_experts": 2, "num_experts_per_tok": 1, "first_k_dense_replace": 2,
            "vocab_size": 16, "torch_dtype": "bfloat16"});
        if indexer {
            c["model_type"] = json!("deepseek_v32");
            c["index_n_heads"] = json!(2);
            c["index_head_dim"] = json!(8);
        }
        let mut r = TrainingRequest::new(1, 100);
        r.method = calculator::Method::Lora;
        estimate_training(&model(c), &r)
            .unwrap()
            .activation_memory
            .0
    };
    // Per token and layer: h + q_lora 16-bit input copies, two rank-8 outputs.
    assert_eq!(
        toy(true) - toy(false),
        2 * 100 * ((64 + 32) * 2 + 2 * 8 * 2)
    );
}
