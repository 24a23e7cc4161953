//! The families whose layers are not all attention (linear attention, state-space
//! mixers), counted to the parameter against their published checkpoints, and how
//! they read their layer lists (methodology §1–2).

use calculator::Model;
use serde_json::{json, Value};
use testkit::configs::{kimi_linear, nemotron_nano_9b, qwen3_5, qwen3_next};
use testkit::models::{field_of, merged, model, one_sequence};

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
    assert_eq!(a3b.arch.family, "qwen3_5_moe_text");
    assert_eq!(
        model(moe(4096, 60, 32, 64, 512, 10, 1024)).params.total,
        396_346_350_336
    );
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
