//! Architectures no family reader represents: families with lightning attention,
//! recurrences, short convolutions or pure state-space layers, and any other config
//! whose keys or `layer_types` show layers its family does not read (linear attention,
//! state-space layers, chunked attention, interleaved experts, an indexer). Read as a
//! llama-style decoder they would be answered with wrong parameter counts and a cache
//! that grows where it does not, so such a config is refused with the family and the
//! supported list (`docs/methodology.md` §1).

use crate::error::CalcError;
use crate::families::{Family, FAMILIES};
use crate::keys::Keys;

/// `model_type`s of families known to have such layers, with what sets them apart.
const FAMILIES_NOT_READ: &[(&str, &str)] = &[
    (
        "minimax",
        "MiniMax-Text: lightning (linear) attention beside softmax attention",
    ),
    ("bamba", "Bamba: Mamba-2 hybrid"),
    ("zamba", "Zamba: Mamba hybrid"),
    ("zamba2", "Zamba2: Mamba-2 hybrid"),
    ("mamba", "Mamba: state-space layers"),
    ("mamba2", "Mamba-2: state-space layers"),
    ("falcon_mamba", "Falcon-Mamba: state-space layers"),
    ("recurrent_gemma", "RecurrentGemma: RG-LRU recurrent layers"),
    ("rwkv", "RWKV: recurrent layers"),
    ("lfm2", "LFM2: short-convolution layers beside attention"),
];

/// Keys that only configs with such layers carry, with what they mean.
const FEATURE_KEYS: &[(&str, &str)] = &[
    ("linear_num_value_heads", "linear-attention layers"),
    ("linear_num_key_heads", "linear-attention layers"),
    ("linear_conv_kernel_dim", "linear-attention layers"),
    ("linear_attn_config", "linear-attention layers"),
    ("mamba_d_state", "state-space (Mamba) layers"),
    ("mamba_n_heads", "state-space (Mamba) layers"),
    ("mamba_expand", "state-space (Mamba) layers"),
    ("ssm_state_size", "state-space layers"),
    ("hybrid_override_pattern", "a hybrid layer pattern"),
    ("layers_block_type", "a hybrid layer pattern"),
    ("attn_layer_period", "attention on every n-th layer only"),
    ("attn_layer_indices", "attention on some layers only"),
    ("index_topk", "a sparse-attention indexer"),
    ("index_n_heads", "a sparse-attention indexer"),
    ("attention_chunk_size", "chunked local attention"),
    ("interleave_moe_layer_step", "MoE on interleaved layers"),
];

/// `layer_types` entries the readers represent (a chunked layer is read as a sliding
/// one over `sliding_window`).
const LAYER_TYPES_READ: &[&str] = &["full_attention", "sliding_attention", "chunked_attention"];

/// `Ok` when the config's layers are ones the readers represent; else a 400 naming the
/// field that shows they are not.
pub(crate) fn check(keys: &Keys, model_type: Option<&str>) -> Result<(), CalcError> {
    if let Some(t) = model_type {
        let t = t.trim().to_ascii_lowercase();
        if let Some((_, what)) = FAMILIES_NOT_READ.iter().find(|(name, _)| *name == t) {
            return Err(refusal(keys.path("model_type"), what));
        }
    }
    let read_here = model_type
        .and_then(Family::lookup)
        .map_or(&[][..], |f| f.feature_keys);
    for (key, what) in FEATURE_KEYS {
        if !read_here.contains(key) && keys.find(&[*key]).is_some() {
            return Err(refusal(keys.path(key), &format!("the config has {what}")));
        }
    }
    if let Some((_, Some(list))) = keys.find(&["layer_types"]).map(|(k, v)| (k, v.as_array())) {
        let other = list
            .iter()
            .filter_map(|v| v.as_str())
            .find(|kind| !LAYER_TYPES_READ.contains(kind) && !read_here.contains(kind));
        if let Some(kind) = other {
            let kind = crate::suggest::clip(kind);
            return Err(refusal(
                keys.path("layer_types"),
                &format!("the config has '{kind}' layers"),
            ));
        }
    }
    Ok(())
}

fn refusal(field: String, what: &str) -> CalcError {
    let supported: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    CalcError::field(
        field,
        format!(
            "{what}, which the calculator does not model yet; read as a llama-style decoder it would misstate the parameters and the cache, so it is refused. Supported model_type values: {}",
            supported.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;
    use serde_json::{json, Value};

    fn refused_field(config: Value) -> (String, String) {
        match parse_config(&config, "config") {
            Err(CalcError::InvalidField { field, message }) => (field, message),
            Err(other) => panic!("refused otherwise: {other}"),
            Ok(_) => panic!("not refused"),
        }
    }

    /// A llama-shaped config with `extra` keys.
    fn config(model_type: &str, extra: Value) -> Value {
        let mut c = json!({
            "model_type": model_type, "hidden_size": 2048, "num_hidden_layers": 48,
            "num_attention_heads": 16, "num_key_value_heads": 2, "intermediate_size": 5120,
            "vocab_size": 151936
        });
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    }

    #[test]
    fn named_families_are_refused_with_the_supported_list() {
        for (name, what) in FAMILIES_NOT_READ {
            assert!(Family::lookup(name).is_none(), "{name} is also read");
            let (field, message) = refused_field(config(name, json!({})));
            assert_eq!(field, "config.model_type");
            assert!(message.starts_with(what), "{message}");
            assert!(message.contains("Supported model_type values: llama, llama4_text, mistral"));
        }
        // Case and surrounding spaces do not matter.
        assert_eq!(
            refused_field(config(" MiniMax ", json!({}))).0,
            "config.model_type"
        );
    }

    #[test]
    fn unknown_types_with_such_layers_are_refused_by_the_key_that_shows_them() {
        // Qwen3-Next's linear-attention keys under a name no reader knows.
        let (field, message) = refused_field(config(
            "my_next",
            json!({"linear_num_value_heads": 32, "linear_key_head_dim": 128}),
        ));
        assert_eq!(field, "config.linear_num_value_heads");
        assert!(message.starts_with("the config has linear-attention layers"));
        for (key, _) in FEATURE_KEYS {
            let extra = json!({ *key: 4 });
            assert_eq!(
                refused_field(config("mystery", extra)).0,
                format!("config.{key}")
            );
        }
        let mut types = vec![json!("linear_attention"); 36];
        types.extend(vec![json!("full_attention"); 12]);
        let (field, message) = refused_field(config("mystery", json!({"layer_types": types})));
        assert_eq!(field, "config.layer_types");
        assert!(message.contains("'linear_attention' layers"));
        // Inside a multimodal wrapper, the text model is checked too.
        let wrapped = json!({"model_type": "mystery_vl", "text_config": config("lfm2", json!({}))});
        assert_eq!(refused_field(wrapped).0, "config.text_config.model_type");
    }

    #[test]
    fn attention_only_configs_still_read() {
        let types: Vec<Value> = (0..48)
            .map(|i| {
                json!(if i % 2 == 0 {
                    "sliding_attention"
                } else {
                    "full_attention"
                })
            })
            .collect();
        let ok = parse_config(
            &config(
                "qwen3",
                json!({"layer_types": types, "sliding_window": 4096}),
            ),
            "config",
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
    }
}
