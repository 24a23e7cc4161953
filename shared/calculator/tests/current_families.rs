//! The families of late 2026 (issue 11): exact parameter totals against the published
//! checkpoints, and caches that grow only where the layers keep per-token state.

use calculator::Model;
use serde_json::{json, Value};

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
    let m = model(qwen3_next());
    assert_eq!(m.params.total, 79_674_391_296);
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
