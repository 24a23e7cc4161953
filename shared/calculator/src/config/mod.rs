//! Reading a Hugging Face `config.json` into an [`Architecture`].
//!
//! The keys every decoder has (widths, layers, heads, vocabulary, dtype, biases,
//! sliding window) are read here once; everything particular to a family is read by
//! that family's reader in [`crate::families`]. Keys the calculator does not need are
//! ignored, so a whole `config.json` can be pasted.

mod unsupported;
mod vision;

use serde_json::Value;

use crate::architecture::Architecture;
use crate::checkpoint::Checkpoint;
use crate::choice::Choice;
use crate::error::CalcError;
use crate::families::{self, Family};
use crate::keys::{Common, Keys};
use crate::limits;
use crate::precision::Precision;
use crate::warning::{Warning, WarningCode};

/// The result of reading a config: the architecture and what the reader had to assume.
pub struct ParsedConfig {
    /// The architecture.
    pub architecture: Architecture,
    /// Assumptions worth telling the user about.
    pub warnings: Vec<Warning>,
}

/// Reads a Hugging Face `config.json` object. `prefix` is the field path used in errors
/// (`config` for a request's `config` object).
pub fn parse_config(value: &Value, prefix: &str) -> Result<ParsedConfig, CalcError> {
    let map = value
        .as_object()
        .ok_or_else(|| CalcError::field(prefix, "must be a JSON object"))?;
    if map.len() > limits::MAX_CONFIG_KEYS {
        return Err(CalcError::field(
            prefix,
            format!(
                "has {} keys; a config has at most {}",
                map.len(),
                limits::MAX_CONFIG_KEYS
            ),
        ));
    }
    let keys = Keys::new(map, prefix);
    let model_type = keys.text("model_type")?;
    unsupported::check(&keys, model_type)?;
    if let Some((_, text)) = keys.find(&["text_config"]) {
        return parse_text_config(&keys, text, model_type, prefix);
    }
    let mut warnings = Vec::new();
    let family = match model_type.map(|t| (t, Family::lookup(t))) {
        Some((_, Some(f))) => f,
        Some((t, None)) => {
            warnings.push(Warning::new(WarningCode::UnknownModelType, format!(
                "model_type '{}' is not a known family; read as a llama-style decoder (gated MLP, RMSNorm, rotary positions, no biases unless attention_bias/mlp_bias say so)",
                crate::suggest::clip(t)
            )));
            &families::GENERIC
        }
        None => {
            warnings.push(Warning::new(WarningCode::MissingModelType,
                "config has no model_type; read as a llama-style decoder (gated MLP, RMSNorm, rotary positions)")
            );
            &families::GENERIC
        }
    };
    let architecture = read(&keys, family, model_type.unwrap_or("llama"), &mut warnings)?;
    warnings.extend(keys.typo_warnings());
    Ok(ParsedConfig {
        architecture,
        warnings: unique(warnings),
    })
}

/// The warnings in their order, each once.
fn unique(warnings: Vec<Warning>) -> Vec<Warning> {
    let mut seen = std::collections::BTreeSet::new();
    warnings
        .into_iter()
        .filter(|w| seen.insert(w.message.clone()))
        .collect()
}

/// Multimodal wrappers (gemma3 and the like): the language model lives in
/// `text_config`, which inherits the wrapper's `model_type`, dtype and quantization.
fn parse_text_config(
    keys: &Keys,
    text: &Value,
    model_type: Option<&str>,
    prefix: &str,
) -> Result<ParsedConfig, CalcError> {
    let inner_prefix = format!("{prefix}.text_config");
    let inner_map = text
        .as_object()
        .ok_or_else(|| CalcError::field(&inner_prefix, "must be a JSON object"))?;
    let mut inner = inner_map.clone();
    if !inner.contains_key("model_type") {
        if let Some(t) = model_type {
            let t = families::text_model_type(t);
            inner.insert("model_type".into(), Value::String(t.into()));
        }
    }
    for key in ["torch_dtype", "dtype", "quantization_config"] {
        if let (false, Some((_, v))) = (inner.contains_key(key), keys.find(&[key])) {
            inner.insert(key.into(), v.clone());
        }
    }
    let mut parsed = parse_config(&Value::Object(inner), &inner_prefix)?;
    let arch = &mut parsed.architecture;
    let tower = match (model_type, keys.object("vision_config")?) {
        (Some(wrapper), Some((map, path))) => {
            let wrapper = wrapper.trim().to_ascii_lowercase();
            vision::tower_params(&wrapper, &Keys::new(map, &path), arch.hidden_size)?
        }
        _ => None,
    };
    if let Some(n) = tower.filter(|n| *n > limits::MAX_PARAMETERS) {
        return Err(CalcError::field(
            keys.path("vision_config"),
            format!(
                "describes a tower of {n} parameters; the limit is 2^54 ({})",
                limits::MAX_PARAMETERS
            ),
        ));
    }
    arch.vision_tower_params = tower;
    arch.wrapper_model_type = model_type.map(|t| t.trim().to_ascii_lowercase());
    parsed.warnings.push(Warning::new(WarningCode::VisionTowerNotCounted, match tower {
        Some(n) => format!(
            "only the language model (text_config) is counted; the vision tower and projector hold {n} more parameters (from vision_config), loaded by engines that serve images"
        ),
        None => "only the language model (text_config) is counted; a vision tower and projector add their own weights".into(),
    }));
    parsed.warnings = unique(parsed.warnings);
    Ok(parsed)
}

/// Reads the keys every family shares, lets the family read its own, then settles
/// the key/value heads and the sliding-window layers.
fn read(
    keys: &Keys,
    family: &'static Family,
    model_type: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Architecture, CalcError> {
    let (common, mut arch) = read_common(keys, family, model_type, warnings)?;
    (family.read)(keys, &common, &mut arch)?;
    let heads = common.heads;
    if arch.num_kv_heads > heads || heads % arch.num_kv_heads != 0 {
        return Err(CalcError::field(
            keys.path("num_key_value_heads"),
            format!("must divide num_attention_heads ({heads})"),
        ));
    }
    arch.sliding_layers = match keys.sliding_layer_types(common.layers)? {
        Some(n) => n,
        None if common.sliding_window.is_none() && arch.sliding_window.is_none() => 0,
        None => (family.sliding_layers)(keys, &common)?,
    };
    if arch.sliding_layers > arch.attention_layers {
        return Err(CalcError::field(
            keys.path("layer_types"),
            format!(
                "marks {} layers as sliding or chunked attention, but the model has {} attention layers",
                arch.sliding_layers, arch.attention_layers
            ),
        ));
    }
    // Llama 4 states its chunk by default (`attention_chunk_size` 8192).
    arch.sliding_window = common
        .sliding_window
        .or(arch.sliding_window)
        .filter(|_| arch.sliding_layers > 0);
    if arch.sliding_layers > 0 && arch.sliding_window.is_none() {
        return Err(CalcError::field(
            keys.path("sliding_window"),
            "is required when layers attend through a local window (sliding_attention or chunked_attention; Llama 4 names it attention_chunk_size)",
        ));
    }
    Ok(arch)
}

/// Decoder layers: `num_hidden_layers` (or its older spellings), else the length of
/// `layers_block_type`, the only count transformers 5's `NemotronHConfig` writes
/// (`num_hidden_layers` is deprecated there).
fn layer_count(keys: &Keys) -> Result<u64, CalcError> {
    const NAMES: [&str; 3] = ["num_hidden_layers", "n_layer", "num_layers"];
    if keys.find(&NAMES).is_some() {
        return keys.required(&NAMES, 1, limits::MAX_LAYERS);
    }
    match keys.find(&["layers_block_type"]).map(|(_, v)| v.as_array()) {
        Some(Some(list)) if (1..=limits::MAX_LAYERS).contains(&(list.len() as u64)) => {
            Ok(list.len() as u64)
        }
        Some(_) => Err(CalcError::field(
            keys.path("layers_block_type"),
            format!(
                "must list 1 to {} layer types (it gives the layer count when num_hidden_layers is absent)",
                limits::MAX_LAYERS
            ),
        )),
        None => keys.required(&NAMES, 1, limits::MAX_LAYERS),
    }
}

/// The shared keys, and a llama-style architecture built from them for the family's
/// reader to adjust.
fn read_common(
    keys: &Keys,
    family: &'static Family,
    model_type: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(Common, Architecture), CalcError> {
    let hidden = keys.required(&["hidden_size", "n_embd", "d_model"], 1, limits::MAX_HIDDEN)?;
    let layers = layer_count(keys)?;
    let heads = keys.required(
        &["num_attention_heads", "n_head", "num_heads"],
        1,
        limits::MAX_HEADS,
    )?;
    let vocab = keys.required(&["vocab_size"], 1, limits::MAX_VOCAB)?;
    let head_dim = match keys.uint(&["head_dim"], 1, limits::MAX_HEAD_DIM)? {
        Some(d) => d,
        None if hidden % heads == 0 => hidden / heads,
        None if hidden / heads > 0 => {
            // transformers' attention modules fall back to the floor
            // (`getattr(config, "head_dim", hidden_size // num_attention_heads)`, e.g.
            // `Glm4MoeAttention`), and so does the model it builds.
            warnings.push(Warning::new(
                WarningCode::HeadDimFloored,
                format!(
                    "head_dim not given and hidden_size {hidden} is not a multiple of num_attention_heads {heads}: read as hidden_size // num_attention_heads = {}, as transformers builds the model; give head_dim if the checkpoint was trained with another",
                    hidden / heads
                ),
            ));
            hidden / heads
        }
        None => {
            return Err(CalcError::field(
                keys.path("head_dim"),
                "is required when hidden_size is smaller than num_attention_heads",
            ))
        }
    };
    let max_positions = keys.uint(
        &["max_position_embeddings", "n_positions", "seq_length"],
        1,
        limits::MAX_POSITIONS,
    )?;
    let mut arch = Architecture::llama_like(
        model_type,
        family.name,
        hidden,
        layers,
        heads,
        head_dim,
        vocab,
    );
    arch.torch_dtype = torch_dtype(keys, warnings)?;
    arch.checkpoint = match keys.find(&["quantization_config"]) {
        Some((name, q)) if !q.is_object() => {
            return Err(CalcError::field(
                keys.path(name),
                "must be an object (the checkpoint's quantization settings)",
            ))
        }
        Some((_, q)) => Checkpoint::parse(q),
        None => None,
    };
    arch.tie_word_embeddings = keys
        .flag("tie_word_embeddings")?
        .unwrap_or(family.ties_embeddings);
    let attention_bias = keys.flag("attention_bias")?;
    arch.mlp_bias = keys.flag("mlp_bias")?.unwrap_or(false);
    arch.qkv_bias = attention_bias.unwrap_or(false);
    arch.o_bias = attention_bias.unwrap_or(false);
    arch.max_position_embeddings = max_positions;
    let common = Common {
        hidden,
        layers,
        heads,
        attention_bias,
        // Llama 4 names the chunk of its chunked local attention so.
        sliding_window: keys.uint(
            &["sliding_window", "attention_chunk_size"],
            1,
            limits::MAX_POSITIONS,
        )?,
        kv_heads: keys.uint(
            &["num_key_value_heads", "num_kv_heads"],
            1,
            limits::MAX_HEADS,
        )?,
        max_positions,
    };
    Ok((common, arch))
}

/// `torch_dtype` (or `dtype`) when it is a 16- or 32-bit float; anything else is warned
/// and left to the default.
fn torch_dtype(keys: &Keys, warnings: &mut Vec<Warning>) -> Result<Option<Precision>, CalcError> {
    let Some((name, value)) = keys.find(&["torch_dtype", "dtype"]) else {
        return Ok(None);
    };
    let text = value.as_str().ok_or_else(|| {
        CalcError::field(keys.path(name), "must be a string such as \"bfloat16\"")
    })?;
    Ok(match Precision::parse(text) {
        Some(p) if !p.is_quantized() => Some(p),
        _ => {
            warnings.push(Warning::new(
                WarningCode::UnsupportedTorchDtype,
                format!(
                    "torch_dtype '{}' is not float32, float16 or bfloat16; bfloat16 assumed",
                    crate::suggest::clip(text)
                ),
            ));
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_llama() {
        let p = parse_config(
            &json!({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
                    "num_attention_heads": 32, "num_key_value_heads": 8,
                    "intermediate_size": 14336, "vocab_size": 128256, "torch_dtype": "bfloat16",
                    "architectures": ["LlamaForCausalLM"], "rope_theta": 500000.0}),
            "config",
        )
        .unwrap();
        let a = p.architecture;
        assert_eq!(a.family, "llama");
        assert_eq!((a.head_dim, a.num_kv_heads), (128, 8));
        assert!(!a.tie_word_embeddings);
        assert_eq!(a.torch_dtype, Some(Precision::Bfloat16));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn unknown_model_type_is_llama_like_with_warning() {
        let p = parse_config(
            &json!({"model_type": "mystery", "hidden_size": 64, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}),
            "config",
        )
        .unwrap();
        assert_eq!(p.architecture.family, families::GENERIC.name);
        assert_eq!(p.warnings[0].code, WarningCode::UnknownModelType);
        assert!(p.warnings[0].message.contains("mystery"));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse_config(
            &json!({"model_type": "llama", "hidden_size": -1, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}),
            "config",
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, CalcError::InvalidField { ref field, .. } if field == "config.hidden_size")
        );
        let err = parse_config(
            &json!({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "num_key_value_heads": 3,
                    "intermediate_size": 128, "vocab_size": 100}),
            "config",
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, CalcError::InvalidField { ref field, .. } if field == "config.num_key_value_heads")
        );
        let err = parse_config(&json!([1, 2]), "config").err().unwrap();
        assert!(matches!(err, CalcError::InvalidField { ref field, .. } if field == "config"));
    }

    #[test]
    fn gemma3_wrapper_reads_text_config() {
        let p = parse_config(
            &json!({"model_type": "gemma3", "torch_dtype": "bfloat16", "vision_config": {},
                    "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
                    "num_hidden_layers": 34, "num_attention_heads": 8, "num_key_value_heads": 4,
                    "head_dim": 256, "vocab_size": 262208, "sliding_window": 1024}}),
            "config",
        )
        .unwrap();
        let a = p.architecture;
        assert_eq!(a.family, families::GEMMA3.name);
        assert_eq!(a.sliding_layers, 34 - 5);
        assert_eq!(a.torch_dtype, Some(Precision::Bfloat16));
        assert!(p.warnings.iter().any(|w| w.message.contains("vision")));
    }

    #[test]
    fn qwen2_sliding_window_off_unless_enabled() {
        let base = json!({"model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24,
            "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864,
            "vocab_size": 151936, "sliding_window": 32768, "use_sliding_window": false});
        assert_eq!(
            parse_config(&base, "c")
                .unwrap()
                .architecture
                .sliding_layers,
            0
        );
        let mut on = base.clone();
        on["use_sliding_window"] = json!(true);
        on["max_window_layers"] = json!(21);
        assert_eq!(
            parse_config(&on, "c").unwrap().architecture.sliding_layers,
            3
        );
    }
}
