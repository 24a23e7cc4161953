//! Published model configs (`config.json` of each Hugging Face repository, at the
//! revision the family reader was written against), shared by the tests that read them.

use crate::models::merged;
use serde_json::{json, Value};

/// zai-org/GLM-4.5 `config.json` (GLM-4.6 has the same shapes).
pub fn glm_4_5() -> Value {
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
pub fn glm_4_5_air() -> Value {
    json!({"model_type": "glm4_moe", "hidden_size": 4096, "intermediate_size": 10944,
        "moe_intermediate_size": 1408, "num_hidden_layers": 46, "num_attention_heads": 96,
        "num_key_value_heads": 8, "head_dim": 128, "n_routed_experts": 128,
        "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 1,
        "vocab_size": 151552, "attention_bias": true, "use_qk_norm": false,
        "partial_rotary_factor": 0.5, "num_nextn_predict_layers": 1,
        "tie_word_embeddings": false, "max_position_embeddings": 131072,
        "torch_dtype": "bfloat16"})
}

/// moonshotai/Kimi-Linear-48B-A3B-Instruct `config.json`.
pub fn kimi_linear() -> Value {
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

/// meta-llama/Llama-4-Scout-17B-16E-Instruct `text_config`.
pub fn llama4_scout_text() -> Value {
    json!({"model_type": "llama4_text", "hidden_size": 5120, "intermediate_size": 8192,
        "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
        "num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 16,
        "num_experts_per_tok": 1, "interleave_moe_layer_step": 1, "vocab_size": 202048,
        "attention_chunk_size": 8192, "use_qk_norm": true, "tie_word_embeddings": false,
        "max_position_embeddings": 10485760, "torch_dtype": "bfloat16"})
}

/// MiniMaxAI/MiniMax-M2 `config.json`.
pub fn minimax_m2() -> Value {
    json!({"model_type": "minimax_m2", "hidden_size": 3072, "intermediate_size": 1536,
        "num_hidden_layers": 62, "num_attention_heads": 48, "num_key_value_heads": 8,
        "head_dim": 128, "num_local_experts": 256, "num_experts_per_tok": 8,
        "vocab_size": 200064, "use_qk_norm": true, "qk_norm_type": "per_layer",
        "rotary_dim": 64, "use_routing_bias": true, "tie_word_embeddings": false,
        "max_position_embeddings": 196608, "torch_dtype": "bfloat16"})
}

/// nvidia/NVIDIA-Nemotron-Nano-9B-v2 `config.json`.
pub fn nemotron_nano_9b() -> Value {
    json!({"model_type": "nemotron_h", "hidden_size": 4480, "num_hidden_layers": 56,
        "hybrid_override_pattern": "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-",
        "mamba_num_heads": 128, "mamba_head_dim": 80, "ssm_state_size": 128, "n_groups": 8,
        "conv_kernel": 4, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
        "intermediate_size": 15680, "vocab_size": 131072, "tie_word_embeddings": false,
        "use_conv_bias": true, "use_bias": false, "mlp_bias": false, "chunk_size": 128,
        "max_position_embeddings": 131072, "torch_dtype": "bfloat16"})
}

/// Qwen/Qwen3-Next-80B-A3B-Instruct `config.json`.
pub fn qwen3_next() -> Value {
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

/// `layer_types` of a Qwen3.5 / Qwen3-Next stack of `layers`: three Gated DeltaNet
/// (`linear_attention`) layers to one gated-attention (`full_attention`) layer.
pub fn three_linear_to_one_full(layers: u64) -> Vec<&'static str> {
    (0..layers)
        .map(|i| {
            if (i + 1) % 4 == 0 {
                "full_attention"
            } else {
                "linear_attention"
            }
        })
        .collect()
}

/// A Qwen3.5 wrapper config (`qwen3_5` / `qwen3_5_moe`) around its `text_config`,
/// with the keys every Qwen3.5 text config shares (Qwen/Qwen3.5 `config.json`s).
pub fn qwen3_5(wrapper: &str, text: Value) -> Value {
    let layers = text["num_hidden_layers"].as_u64().unwrap();
    let shared = json!({"head_dim": 256, "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_num_key_heads": 16,
        "attn_output_gate": true, "vocab_size": 248320, "full_attention_interval": 4,
        "layer_types": three_linear_to_one_full(layers), "mamba_ssm_dtype": "float32",
        "mtp_num_hidden_layers": 1, "max_position_embeddings": 262144,
        "partial_rotary_factor": 0.25});
    let text = merged(text, shared);
    json!({"model_type": wrapper, "text_config": text, "vision_config": {"depth": 27},
        "torch_dtype": "bfloat16"})
}
