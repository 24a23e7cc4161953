//! Toy models small enough to derive every figure by hand, and the requests the
//! accounting tests run on them (b = 2 sequences of s = 8 tokens).
//!
//! The toy decoder (llama family): h = 64, L = 2, n_h = 4, n_kv = 2, d = 16,
//! I = 100, untied, bfloat16 (a = 2 bytes).
//! - per layer: q 64·64 + k, v 2·64·32 + o 64·64 = 12,288; gated MLP 3·64·100 =
//!   19,200; two RMSNorms 128 → 31,616;
//! - embedding and lm_head V·64 each; final norm 64.

use calculator::{
    estimate_inference, estimate_training, Framework, InferenceEstimate, InferenceRequest, Model,
    TrainingEstimate, TrainingRequest,
};
use serde_json::json;

/// The toy decoder with vocabulary `vocab`.
pub fn toy(vocab: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": vocab, "torch_dtype": "bfloat16"
    }))
    .unwrap()
}

/// The toy with its MLP replaced by 8 routed experts of width 100, top-2 (Mixtral).
pub fn toy_moe(vocab: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "mixtral", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": vocab,
        "torch_dtype": "bfloat16"
    }))
    .unwrap()
}

/// DeepSeek-V3 toy: MLA (q rank 32, KV rank 16, nope 8, rope 4, v 8), layer 0 dense
/// (I 100), layer 1 MoE with 8 routed experts of 8, top-2, and one shared expert.
pub fn toy_mla() -> Model {
    Model::from_config(&json!({
        "model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "intermediate_size": 100, "moe_intermediate_size": 8, "n_routed_experts": 8,
        "n_shared_experts": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
        "vocab_size": 128
    }))
    .unwrap()
}

/// Falcon-7B's layout (multi-query, parallel attention, one LayerNorm) with a plain
/// MLP of `ffn` and V 128.
pub fn toy_falcon(ffn: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 128, "ffn_hidden_size": ffn
    }))
    .unwrap()
}

/// Qwen2-MoE toy: 4 experts of 20, top-2, a shared expert of 60, V 128.
pub fn toy_qwen2_moe() -> Model {
    Model::from_config(&json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "num_experts_per_tok": 2,
        "vocab_size": 128
    }))
    .unwrap()
}

/// Qwen3-MoE toy with every layer MoE (4 experts of 20, top-2) and an
/// `intermediate_size` (5,000) that no layer uses.
pub fn toy_all_moe() -> Model {
    Model::from_config(&json!({
        "model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "num_experts": 4, "num_experts_per_tok": 2, "intermediate_size": 5000,
        "vocab_size": 128
    }))
    .unwrap()
}

/// Inference on `model`: 2 sequences of 8 tokens, `edit` applied.
pub fn inference(model: &Model, edit: impl FnOnce(&mut InferenceRequest)) -> InferenceEstimate {
    // b = 2 sequences of s = 8 tokens: 16 tokens.
    let mut req = InferenceRequest::new(2, 8);
    edit(&mut req);
    estimate_inference(model, &req).unwrap()
}

/// Training on `model`: 2 sequences of 8 tokens, `edit` applied.
pub fn training(model: &Model, edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
    let mut req = TrainingRequest::new(2, 8);
    edit(&mut req);
    estimate_training(model, &req).unwrap()
}

/// A 16-bit model without autocast (DeepSpeed's layout): the layers' own tensors, every
/// projection reading its block's shared normalized input (§7.5).
pub fn bf16_training(model: &Model, edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
    training(model, |r| {
        r.framework = Some(Framework::Deepspeed);
        edit(r);
    })
}
