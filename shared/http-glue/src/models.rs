//! JSON views of a model: its parameter counts and the architecture values the
//! calculator extracted from its config.

use calculator::kv_cache::cache_rates;
use calculator::{Model, ParameterCounts};
use lambda_http::{Request, RequestExt};
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
    v["attention_layers"] = json!(a.attention_layers);
    if let Some(n) = a.vision_tower_params {
        v["vision_tower_parameters"] = json!(n as u64);
    }
    if let Some(m) = a.mixer {
        v["state_mixer"] = json!({
            "kind": m.kind.name(),
            "layers": m.layers,
            "heads": m.heads,
            "conv_channels": m.conv_channels,
            "conv_kernel": m.conv_kernel,
            "recurrent_state_values": m.recurrent_state,
        });
    }
    if let Some(ix) = a.indexer {
        v["indexer"] = json!({"heads": ix.heads, "head_dim": ix.head_dim});
    }
    let rates = cache_rates(model);
    v["cache_growth"] = json!({
        "attention_kv_bytes_per_token": rates.attention_per_token as u64,
        "indexer_key_bytes_per_token": rates.indexer_per_token as u64,
        "fixed_state_bytes_per_sequence": rates.state_per_sequence as u64,
    });
    if let Some(c) = &a.checkpoint {
        v["published_quantization"] = json!(c.method);
    }
    v
}

/// The `{model_name}` path parameter, percent-decoded until nothing is left to decode.
/// API Gateway hands the function a decoded parameter, `cargo lambda watch` the raw
/// one: decoding to a fixed point answers the same in both (model names contain no
/// `%`), so `Qwen%2FQwen3-8B` and `Qwen%252FQwen3-8B` both name `Qwen/Qwen3-8B`
/// everywhere. Falls back to the last path segment.
pub fn path_model_name(request: &Request) -> String {
    let mut name = request
        .path_parameters_ref()
        .and_then(|p| p.first("model_name").map(str::to_owned))
        .unwrap_or_else(|| {
            let path = request.raw_http_path();
            path.strip_prefix("/api/models/").unwrap_or(path).to_owned()
        });
    // Each pass that changes the text turns a three-byte escape into one character
    // (at most three bytes, the replacement character for a stray byte): the text
    // never grows, and a pass that changes nothing ends the loop.
    loop {
        let decoded = percent_decode(&name);
        if decoded == name {
            return name;
        }
        name = decoded;
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("Qwen%2FQwen3-8B"), "Qwen/Qwen3-8B");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
