//! JSON views of a model: its parameter counts and the architecture values the
//! calculator extracted from its config.

use calculator::{Model, ParameterCounts};
use serde_json::{json, Value};

/// `{"total", "embedding", "non_embedding", "active"}` in parameters.
pub fn parameters_json(p: &ParameterCounts) -> Value {
    json!({
        "total": p.total as u64,
        "embedding": p.embedding as u64,
        "non_embedding": p.non_embedding as u64,
        "active": p.active as u64,
    })
}

/// The architecture as the calculator read it (`extracted_params`).
pub fn architecture_json(model: &Model) -> Value {
    let a = &model.arch;
    let mut v = json!({
        "model_type": a.model_type,
        "hidden_size": a.hidden_size,
        "num_hidden_layers": a.num_layers,
        "num_attention_heads": a.num_heads,
        "num_key_value_heads": a.num_kv_heads,
        "head_dim": a.head_dim,
        "intermediate_size": a.intermediate_size,
        "vocab_size": a.vocab_size,
        "tie_word_embeddings": a.tie_word_embeddings,
        "max_position_embeddings": a.max_position_embeddings,
        "torch_dtype": model.default_precision().name(),
        "gated_mlp": a.gated_mlp,
        "sliding_window": a.sliding_window,
        "sliding_window_layers": a.sliding_layers,
    });
    if let Some(m) = a.moe {
        v["moe"] = json!({
            "num_experts": m.num_experts,
            "experts_per_token": m.experts_per_token,
            "expert_intermediate_size": m.expert_intermediate,
            "shared_expert_intermediate_size": m.shared_intermediate,
            "moe_layers": m.moe_layers,
        });
    }
    if let Some(m) = a.mla {
        v["mla"] = json!({
            "q_lora_rank": m.q_lora_rank,
            "kv_lora_rank": m.kv_lora_rank,
            "qk_nope_head_dim": m.qk_nope_head_dim,
            "qk_rope_head_dim": m.qk_rope_head_dim,
            "v_head_dim": m.v_head_dim,
        });
    }
    if let Some(c) = &a.checkpoint {
        v["published_quantization"] = json!(c.method);
    }
    v
}
