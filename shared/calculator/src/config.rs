//! Reading a Hugging Face `config.json` into an [`Architecture`].
//!
//! Each family is read with its own key names and defaults (the defaults of the
//! family's `PretrainedConfig` class in `transformers`). Keys the calculator does not
//! need are ignored, so a whole `config.json` can be pasted.

use serde_json::{Map, Value};

use crate::architecture::{Architecture, Family, Mla, Moe, Norm};
use crate::error::{limits, CalcError};
use crate::precision::Precision;

/// Typed access to the keys of one config object; errors name `prefix.key`.
struct Keys<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Keys<'a> {
    fn path(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }

    /// The first of `names` present with a non-null value.
    fn find(&self, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        names
            .iter()
            .find_map(|n| self.map.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
    }

    /// An integer in `min..=max`, under the first present name.
    fn uint(&self, names: &[&'static str], min: u64, max: u64) -> Result<Option<u64>, CalcError> {
        let Some((name, value)) = self.find(names) else {
            return Ok(None);
        };
        let n = value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                    .map(|f| f as u64)
            })
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                CalcError::field(
                    self.path(name),
                    format!("must be an integer from {min} to {max}"),
                )
            })?;
        Ok(Some(n))
    }

    fn required(&self, names: &[&'static str], min: u64, max: u64) -> Result<u64, CalcError> {
        self.uint(names, min, max)?
            .ok_or_else(|| CalcError::field(self.path(names[0]), "is required"))
    }

    fn flag(&self, name: &'static str) -> Result<Option<bool>, CalcError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| CalcError::field(self.path(name), "must be true or false")),
        }
    }

    fn text(&self, name: &'static str) -> Result<Option<&'a str>, CalcError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| CalcError::field(self.path(name), "must be a string")),
        }
    }

    /// `layer_types`: how many layers are `sliding_attention`.
    fn sliding_layer_types(&self, layers: u64) -> Result<Option<u64>, CalcError> {
        let Some((_, value)) = self.find(&["layer_types"]) else {
            return Ok(None);
        };
        let list = value.as_array().ok_or_else(|| {
            CalcError::field(self.path("layer_types"), "must be a list of strings")
        })?;
        if list.len() as u64 != layers {
            return Err(CalcError::field(
                self.path("layer_types"),
                format!("has {} entries for {} layers", list.len(), layers),
            ));
        }
        let mut sliding = 0;
        for item in list {
            match item.as_str() {
                Some("sliding_attention") | Some("chunked_attention") => sliding += 1,
                Some(_) => {}
                None => {
                    return Err(CalcError::field(
                        self.path("layer_types"),
                        "must be a list of strings",
                    ))
                }
            }
        }
        Ok(Some(sliding))
    }

    /// `mlp_only_layers`: indices of layers that keep a dense MLP.
    fn index_list(&self, name: &'static str, layers: u64) -> Result<Vec<u64>, CalcError> {
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(Vec::new());
        };
        value
            .as_array()
            .and_then(|list| {
                list.iter()
                    .map(|v| v.as_u64().filter(|i| *i < layers))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                CalcError::field(
                    self.path(name),
                    format!("must be a list of layer indices below {layers}"),
                )
            })
    }
}

/// The result of reading a config: the architecture and what the reader had to assume.
pub struct ParsedConfig {
    /// The architecture.
    pub architecture: Architecture,
    /// Assumptions worth telling the user about.
    pub warnings: Vec<String>,
}

/// Reads a Hugging Face `config.json` object. `prefix` is the field path used in errors
/// (`config` for a request's `config` object).
pub fn parse_config(value: &Value, prefix: &str) -> Result<ParsedConfig, CalcError> {
    let map = value
        .as_object()
        .ok_or_else(|| CalcError::field(prefix, "must be a JSON object"))?;
    let keys = Keys { map, prefix };
    let model_type = keys.text("model_type")?;

    // Multimodal wrappers (gemma3 and the like): the language model lives in text_config.
    if let Some((_, text)) = keys.find(&["text_config"]) {
        let inner_prefix = format!("{prefix}.text_config");
        let inner_map = text
            .as_object()
            .ok_or_else(|| CalcError::field(&inner_prefix, "must be a JSON object"))?;
        let mut inner = inner_map.clone();
        if !inner.contains_key("model_type") {
            if let Some(t) = model_type {
                let t = if t == "gemma3" { "gemma3_text" } else { t };
                inner.insert("model_type".into(), Value::String(t.into()));
            }
        }
        for key in ["torch_dtype", "dtype", "quantization_config"] {
            if let (false, Some(v)) = (inner.contains_key(key), map.get(key)) {
                inner.insert(key.into(), v.clone());
            }
        }
        let mut parsed = parse_config(&Value::Object(inner), &inner_prefix)?;
        parsed.warnings.push(
            "only the language model (text_config) is counted; a vision tower and projector add their own weights"
                .into(),
        );
        return Ok(parsed);
    }

    let mut warnings = Vec::new();
    let family = match model_type.map(|t| (t, Family::from_model_type(t))) {
        Some((_, Some(f))) => f,
        Some((t, None)) => {
            warnings.push(format!(
                "model_type '{t}' is not a known family; read as a llama-style decoder (gated MLP, RMSNorm, rotary positions, no biases unless attention_bias/mlp_bias say so)"
            ));
            Family::LlamaLike
        }
        None => {
            warnings.push(
                "config has no model_type; read as a llama-style decoder (gated MLP, RMSNorm, rotary positions)"
                    .into(),
            );
            Family::LlamaLike
        }
    };
    let architecture = read_family(&keys, family, model_type.unwrap_or("llama"), &mut warnings)?;
    Ok(ParsedConfig {
        architecture,
        warnings,
    })
}

fn read_family(
    keys: &Keys,
    family: Family,
    model_type: &str,
    warnings: &mut Vec<String>,
) -> Result<Architecture, CalcError> {
    use Family::*;
    let hidden = keys.required(&["hidden_size", "n_embd", "d_model"], 1, limits::MAX_HIDDEN)?;
    let layers = keys.required(
        &["num_hidden_layers", "n_layer", "num_layers"],
        1,
        limits::MAX_LAYERS,
    )?;
    let heads = keys.required(
        &["num_attention_heads", "n_head", "num_heads"],
        1,
        limits::MAX_HEADS,
    )?;
    let vocab = keys.required(&["vocab_size"], 1, limits::MAX_VOCAB)?;
    let head_dim = match keys.uint(&["head_dim"], 1, limits::MAX_HEAD_DIM)? {
        Some(d) => d,
        None if hidden % heads == 0 => hidden / heads,
        None => {
            return Err(CalcError::field(
                keys.path("head_dim"),
                "is required when hidden_size is not a multiple of num_attention_heads",
            ))
        }
    };
    let max_positions = keys.uint(
        &["max_position_embeddings", "n_positions", "seq_length"],
        1,
        limits::MAX_POSITIONS,
    )?;
    let torch_dtype = match keys
        .find(&["torch_dtype", "dtype"])
        .and_then(|(_, v)| v.as_str())
    {
        Some(text) => match Precision::parse(text) {
            Some(p) if !p.is_quantized() => Some(p),
            _ => {
                warnings.push(format!(
                    "torch_dtype '{text}' is not float32, float16 or bfloat16; bfloat16 assumed"
                ));
                None
            }
        },
        None => None,
    };
    let shipped_quantization = keys
        .find(&["quantization_config"])
        .and_then(|(_, q)| q.get("quant_method"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    let tie_default = matches!(
        family,
        Gemma | Gemma2 | Gemma3 | Falcon | Opt | Gpt2 | GptBigCode
    );
    let tie = keys.flag("tie_word_embeddings")?.unwrap_or(tie_default);
    let attention_bias = keys.flag("attention_bias")?;
    let mlp_bias = keys.flag("mlp_bias")?.unwrap_or(false);

    let mut arch =
        Architecture::llama_like(model_type, family, hidden, layers, heads, head_dim, vocab);
    arch.tie_word_embeddings = tie;
    arch.mlp_bias = mlp_bias;
    arch.qkv_bias = attention_bias.unwrap_or(false);
    arch.o_bias = attention_bias.unwrap_or(false);
    arch.max_position_embeddings = max_positions;
    arch.torch_dtype = torch_dtype;
    arch.shipped_quantization = shipped_quantization;

    let sliding_window = keys.uint(&["sliding_window"], 1, limits::MAX_POSITIONS)?;
    let kv_heads = keys.uint(
        &["num_key_value_heads", "num_kv_heads"],
        1,
        limits::MAX_HEADS,
    )?;
    let intermediate = |names: &[&'static str]| keys.required(names, 1, limits::MAX_INTERMEDIATE);

    match family {
        Llama | LlamaLike | Mistral | Qwen2 | Qwen3 | Gemma | Gemma2 | Gemma3 | Phi3 => {
            arch.num_kv_heads = kv_heads.unwrap_or(heads);
            arch.intermediate_size = intermediate(&["intermediate_size"])?;
        }
        _ => {}
    }
    match family {
        Llama | LlamaLike => {}
        Mistral => {
            arch.qkv_bias = false;
            arch.o_bias = false;
            arch.mlp_bias = false;
        }
        Qwen2 | Qwen2Moe => {
            // Qwen2 hard-codes biases on q/k/v and none on o.
            arch.qkv_bias = true;
            arch.o_bias = false;
        }
        Qwen3 | Qwen3Moe => arch.qk_norm = true,
        Gemma => {}
        Gemma2 => arch.norms_per_layer = 4,
        Gemma3 => {
            arch.norms_per_layer = 4;
            arch.qk_norm = true;
        }
        Phi3 => {
            arch.fused_qkv = true;
            arch.fused_gate_up = true;
            arch.qkv_bias = false;
            arch.o_bias = false;
        }
        _ => {}
    }

    match family {
        Mixtral => {
            arch.num_kv_heads = kv_heads.unwrap_or(heads);
            arch.qkv_bias = false;
            arch.o_bias = false;
            let ie = intermediate(&["intermediate_size"])?;
            arch.intermediate_size = ie;
            arch.moe = Some(read_moe(
                keys,
                layers,
                &["num_local_experts"],
                2,
                ie,
                0,
                false,
                |_| true,
            )?);
        }
        Qwen2Moe | Qwen3Moe => {
            arch.num_kv_heads = kv_heads.unwrap_or(heads);
            arch.intermediate_size = keys
                .uint(&["intermediate_size"], 1, limits::MAX_INTERMEDIATE)?
                .unwrap_or(0);
            let ie = intermediate(&["moe_intermediate_size"])?;
            let shared = if family == Qwen2Moe {
                keys.uint(
                    &["shared_expert_intermediate_size"],
                    0,
                    limits::MAX_INTERMEDIATE,
                )?
                .unwrap_or(0)
            } else {
                0
            };
            let step = keys
                .uint(&["decoder_sparse_step"], 1, limits::MAX_LAYERS)?
                .unwrap_or(1);
            let dense_only = keys.index_list("mlp_only_layers", layers)?;
            let mut moe = read_moe(keys, layers, &["num_experts"], 2, ie, shared, false, |i| {
                !dense_only.contains(&i) && (i + 1) % step == 0
            })?;
            moe.shared_expert_gate = family == Qwen2Moe && shared > 0;
            if moe.moe_layers < layers && arch.intermediate_size == 0 {
                return Err(CalcError::field(
                    keys.path("intermediate_size"),
                    "is required when some layers keep a dense MLP",
                ));
            }
            arch.moe = Some(moe);
        }
        DeepseekV3 => {
            let kv_lora = keys.required(&["kv_lora_rank"], 1, limits::MAX_HEAD_DIM)?;
            let mla = Mla {
                q_lora_rank: keys.uint(&["q_lora_rank"], 1, limits::MAX_HEAD_DIM)?,
                kv_lora_rank: kv_lora,
                qk_nope_head_dim: keys.required(&["qk_nope_head_dim"], 1, limits::MAX_HEAD_DIM)?,
                qk_rope_head_dim: keys.required(&["qk_rope_head_dim"], 1, limits::MAX_HEAD_DIM)?,
                v_head_dim: keys.required(&["v_head_dim"], 1, limits::MAX_HEAD_DIM)?,
            };
            arch.mla = Some(mla);
            arch.num_kv_heads = heads;
            arch.head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
            arch.intermediate_size = intermediate(&["intermediate_size"])?;
            let ie = intermediate(&["moe_intermediate_size"])?;
            let shared = keys
                .uint(&["n_shared_experts"], 0, limits::MAX_EXPERTS)?
                .unwrap_or(0);
            let first_dense = keys
                .uint(&["first_k_dense_replace"], 0, limits::MAX_LAYERS)?
                .unwrap_or(0);
            let freq = keys
                .uint(&["moe_layer_freq"], 1, limits::MAX_LAYERS)?
                .unwrap_or(1);
            // The router's `e_score_correction_bias` (one value per expert) is a stored
            // parameter of every MoE layer.
            arch.moe = Some(read_moe(
                keys,
                layers,
                &["n_routed_experts"],
                8,
                ie,
                shared * ie,
                true,
                |i| i >= first_dense && i % freq == 0,
            )?);
        }
        GptOss => {
            arch.num_kv_heads = kv_heads.unwrap_or(heads);
            let bias = attention_bias.unwrap_or(true);
            arch.qkv_bias = bias;
            arch.o_bias = bias;
            arch.attention_sinks = true;
            let ie = intermediate(&["intermediate_size"])?;
            arch.intermediate_size = ie;
            let mut moe = read_moe(keys, layers, &["num_local_experts"], 4, ie, 0, true, |_| {
                true
            })?;
            moe.expert_bias = true;
            arch.moe = Some(moe);
        }
        Falcon => {
            let new_arch = keys.flag("new_decoder_architecture")?.unwrap_or(false);
            let multi_query = keys.flag("multi_query")?.unwrap_or(true);
            arch.num_kv_heads = if new_arch {
                kv_heads.unwrap_or(heads)
            } else if multi_query {
                1
            } else {
                heads
            };
            arch.parallel_attention = keys.flag("parallel_attn")?.unwrap_or(true);
            let bias = keys.flag("bias")?.unwrap_or(false);
            arch.qkv_bias = bias;
            arch.o_bias = bias;
            arch.mlp_bias = bias;
            arch.gated_mlp = false;
            arch.fused_qkv = true;
            arch.norm = Norm::Layer { bias: true };
            arch.intermediate_size = keys
                .uint(&["ffn_hidden_size"], 1, limits::MAX_INTERMEDIATE)?
                .unwrap_or(4 * hidden);
            arch.norms_per_layer = if new_arch {
                keys.uint(&["num_ln_in_parallel_attn"], 1, 2)?.unwrap_or(2)
            } else if arch.parallel_attention {
                1
            } else {
                2
            };
        }
        Opt => {
            let bias = keys.flag("enable_bias")?.unwrap_or(true);
            arch.qkv_bias = bias;
            arch.o_bias = bias;
            arch.mlp_bias = bias;
            arch.gated_mlp = false;
            arch.norm = Norm::Layer {
                bias: keys.flag("layer_norm_elementwise_affine")?.unwrap_or(true),
            };
            arch.intermediate_size = intermediate(&["ffn_dim"])?;
            arch.embedding_dim = keys
                .uint(&["word_embed_proj_dim"], 1, limits::MAX_HIDDEN)?
                .unwrap_or(hidden);
            // OPT's learned positions are offset by 2 rows.
            arch.learned_positions = max_positions.unwrap_or(2048) + 2;
            arch.final_norm = keys.flag("do_layer_norm_before")?.unwrap_or(true)
                && !keys.flag("_remove_final_layer_norm")?.unwrap_or(false);
        }
        Gpt2 | GptBigCode => {
            arch.num_kv_heads = if family == GptBigCode && keys.flag("multi_query")?.unwrap_or(true)
            {
                1
            } else {
                heads
            };
            arch.qkv_bias = true;
            arch.o_bias = true;
            arch.mlp_bias = true;
            arch.gated_mlp = false;
            arch.fused_qkv = true;
            arch.norm = Norm::Layer { bias: true };
            arch.intermediate_size = keys
                .uint(
                    &["n_inner", "intermediate_size"],
                    1,
                    limits::MAX_INTERMEDIATE,
                )?
                .unwrap_or(4 * hidden);
            arch.learned_positions = max_positions.unwrap_or(1024);
        }
        _ => {}
    }

    if arch.num_kv_heads > heads || heads % arch.num_kv_heads != 0 {
        return Err(CalcError::field(
            keys.path("num_key_value_heads"),
            format!("must divide num_attention_heads ({heads})"),
        ));
    }

    // Which layers attend through a sliding window.
    arch.sliding_layers = match keys.sliding_layer_types(layers)? {
        Some(n) => n,
        None => match (family, sliding_window) {
            (_, None) => 0,
            (Gemma2 | GptOss, Some(_)) => layers.div_ceil(2),
            (Gemma3, Some(_)) => {
                let pattern = keys
                    .uint(&["sliding_window_pattern"], 1, limits::MAX_LAYERS)?
                    .unwrap_or(6);
                layers - layers / pattern
            }
            (Qwen2 | Qwen2Moe | Qwen3 | Qwen3Moe, Some(_))
                if keys.flag("use_sliding_window")?.unwrap_or(false) =>
            {
                let first = keys
                    .uint(&["max_window_layers"], 0, limits::MAX_LAYERS)?
                    .unwrap_or(layers);
                layers - first.min(layers)
            }
            (Qwen2 | Qwen2Moe | Qwen3 | Qwen3Moe, Some(_)) => 0,
            (Mistral | Mixtral | Phi3 | LlamaLike, Some(_)) => layers,
            _ => 0,
        },
    };
    arch.sliding_window = sliding_window.filter(|_| arch.sliding_layers > 0);
    if arch.sliding_layers > 0 && arch.sliding_window.is_none() {
        return Err(CalcError::field(
            keys.path("sliding_window"),
            "is required when layer_types has sliding_attention layers",
        ));
    }
    Ok(arch)
}

/// Reads the routed-expert keys shared by the MoE families.
#[allow(clippy::too_many_arguments)]
fn read_moe(
    keys: &Keys,
    layers: u64,
    expert_keys: &[&'static str],
    default_top_k: u64,
    expert_intermediate: u64,
    shared_intermediate: u64,
    router_bias: bool,
    is_moe_layer: impl Fn(u64) -> bool,
) -> Result<Moe, CalcError> {
    let experts = keys.required(expert_keys, 1, limits::MAX_EXPERTS)?;
    let top_k = keys
        .uint(
            &["num_experts_per_tok", "experts_per_token"],
            1,
            limits::MAX_EXPERTS,
        )?
        .unwrap_or(default_top_k.min(experts));
    if top_k > experts {
        return Err(CalcError::field(
            keys.path("num_experts_per_tok"),
            format!("must not exceed the number of experts ({experts})"),
        ));
    }
    Ok(Moe {
        num_experts: experts,
        experts_per_token: top_k,
        expert_intermediate,
        shared_intermediate,
        shared_expert_gate: false,
        router_bias,
        expert_bias: false,
        moe_layers: (0..layers).filter(|i| is_moe_layer(*i)).count() as u64,
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
        assert_eq!(a.family, Family::Llama);
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
        assert_eq!(p.architecture.family, Family::LlamaLike);
        assert!(p.warnings[0].contains("mystery"));
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
        assert_eq!(a.family, Family::Gemma3);
        assert_eq!(a.sliding_layers, 34 - 5);
        assert_eq!(a.torch_dtype, Some(Precision::Bfloat16));
        assert!(p.warnings.iter().any(|w| w.contains("vision")));
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
