//! What a published checkpoint's `quantization_config` says about its storage, in the
//! calculator's terms: the precision and format of its quantized linear weights, and
//! the modules it leaves unquantized (`docs/methodology.md` §3).

use serde_json::Value;

use crate::choice::Choice;
use crate::limits;
use crate::linear::LinearKind;
use crate::numbers::as_integer;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::suggest::clip;
use crate::warning::{Warning, WarningCode};

/// Linear weights a checkpoint keeps unquantized: one kind, in every layer or in one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleScope {
    /// Decoder layer index; `None` for every layer.
    pub layer: Option<u64>,
    /// Kind of linear weight.
    pub kind: LinearKind,
}

/// The storage a published checkpoint states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// `quant_method` as published (`fp8`, `awq`, ...).
    pub method: String,
    /// The format that sizes it, when the calculator has one.
    pub format: Option<WeightFormat>,
    /// Linear weights it keeps in 16-bit (`modules_to_not_convert`, `ignore`,
    /// `llm_int8_skip_modules`, `exclude_modules`).
    pub unquantized: Vec<ModuleScope>,
    /// What the reader could not map exactly, for the response's warnings.
    pub notes: Vec<Warning>,
}

/// Group size meaning "one group per input channel" (`group_size: -1`): at least
/// every input width the limits allow.
const PER_CHANNEL: u64 = limits::MAX_GROUP_SIZE;

impl Checkpoint {
    /// Reads a `quantization_config` object; `None` when it names no method.
    pub fn parse(config: &Value) -> Option<Checkpoint> {
        let method = config.get("quant_method")?.as_str()?.to_ascii_lowercase();
        let mut notes = Vec::new();
        let format = match method.as_str() {
            "fp8" => Some(fp8(config, &mut notes)),
            "fbgemm_fp8" => Some(fbgemm_fp8()),
            "mxfp4" => Some(format(
                Precision::Int4,
                Quantization::Mxfp4,
                DEFAULT_GROUP_SIZE,
            )),
            "awq" => integer(config, Quantization::Awq, &mut notes),
            "gptq" => integer(config, Quantization::Gptq, &mut notes),
            "bitsandbytes" => bitsandbytes(config),
            "compressed-tensors" => compressed_tensors(config, &mut notes),
            "modelopt" => modelopt(config, &mut notes),
            other => {
                notes.push(Warning::new(WarningCode::CheckpointMethodUnknown, format!(
                    "the published checkpoint's quant_method '{}' has no matching format here; give precision (and quantization) to size it",
                    clip(other)
                )));
                None
            }
        };
        let mut unquantized = Vec::new();
        let mut module_notes = Vec::new();
        let names: Vec<&str> = [
            "modules_to_not_convert",
            "ignore",
            "llm_int8_skip_modules",
            "exclude_modules",
        ]
        .iter()
        .filter_map(|key| config.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
        // Bounded work and answers: a caller's list is read up to a limit, and a few of
        // its unknown names are said.
        for name in names.iter().take(limits::MAX_MODULE_NAMES) {
            module_scope(name, &mut unquantized, &mut module_notes);
        }
        unquantized.sort_by_key(|s: &ModuleScope| (s.layer, s.kind as u8));
        unquantized.dedup();
        if names.len() > limits::MAX_MODULE_NAMES {
            notes.push(Warning::new(
                WarningCode::CheckpointModulesNotRead,
                format!(
                    "only the first {} of the checkpoint's {} unquantized module names were read",
                    limits::MAX_MODULE_NAMES,
                    names.len()
                ),
            ));
        }
        let unsaid = module_notes.len().saturating_sub(limits::MAX_MODULE_NOTES);
        notes.extend(module_notes.into_iter().take(limits::MAX_MODULE_NOTES));
        if unsaid > 0 {
            notes.push(Warning::new(
                WarningCode::CheckpointModulesNotRead,
                format!("{unsaid} more module names not recognised or without linear weights"),
            ));
        }
        Some(Checkpoint {
            method,
            format,
            unquantized,
            notes,
        })
    }
}

impl Checkpoint {
    /// The storage in words: the format, and the linear weights kept in 16-bit in every
    /// layer and in single layers.
    pub fn describe(&self) -> String {
        let format = self
            .format
            .as_ref()
            .map_or_else(|| self.method.clone(), WeightFormat::describe);
        let everywhere: Vec<&str> = self
            .unquantized
            .iter()
            .filter(|s| s.layer.is_none())
            .map(|s| s.kind.name())
            .collect();
        let mut layers: Vec<u64> = self.unquantized.iter().filter_map(|s| s.layer).collect();
        layers.dedup();
        let mut kept = Vec::new();
        if !everywhere.is_empty() {
            kept.push(format!("{} in every layer", everywhere.join(", ")));
        }
        if !layers.is_empty() {
            kept.push(format!(
                "some or all linear weights of {} single layers",
                layers.len()
            ));
        }
        if kept.is_empty() {
            format
        } else {
            format!("{format}; kept in 16-bit: {}", kept.join("; "))
        }
    }
}

fn format(precision: Precision, quantization: Quantization, group_size: u64) -> WeightFormat {
    WeightFormat {
        precision,
        quantization: Some(quantization),
        group_size,
        double_quant: false,
    }
}

fn int_key(config: &Value, key: &str) -> Option<i64> {
    config.get(key).and_then(Value::as_i64)
}

/// FBGEMM's row-wise FP8 (Meta's Llama-3.1-405B-Instruct-FP8; vLLM's `fbgemm_fp8`):
/// float8 e4m3 weights with one fp32 scale per output row. The row scales are counted
/// as one scale per matrix: for the 405B's feed-forward matrices they are 4 bytes per
/// 16,384 to 53,248 weights (under 0.03 % of the weights' bytes).
fn fbgemm_fp8() -> WeightFormat {
    WeightFormat {
        precision: Precision::Float8,
        quantization: None,
        group_size: DEFAULT_GROUP_SIZE,
        double_quant: false,
    }
}

/// Fine-grained FP8 with 128×128 blocks (DeepSeek-V3, Qwen3-FP8), or per-tensor FP8
/// when no block size is given.
fn fp8(config: &Value, notes: &mut Vec<Warning>) -> WeightFormat {
    match config.get("weight_block_size").and_then(Value::as_array) {
        Some(block) => {
            if block.iter().any(|b| as_integer(b) != Some(128)) {
                notes.push(Warning::new(
                    WarningCode::CheckpointLayoutApproximated,
                    format!(
                        "weight_block_size {} counted as 128x128 blocks",
                        Value::Array(block.clone())
                    ),
                ));
            }
            format(Precision::Float8, Quantization::Fp8, DEFAULT_GROUP_SIZE)
        }
        None => WeightFormat {
            precision: Precision::Float8,
            quantization: None,
            group_size: DEFAULT_GROUP_SIZE,
            double_quant: false,
        },
    }
}

/// NVIDIA TensorRT Model Optimizer checkpoints: `quant_algo` `NVFP4` (4-bit e2m1, an
/// fp8 scale per 16) or `FP8` (per-tensor scales), at the top level or, as in
/// `hf_quant_config.json`, under `quantization`.
fn modelopt(config: &Value, notes: &mut Vec<Warning>) -> Option<WeightFormat> {
    let algo = config
        .get("quant_algo")
        .or_else(|| config.get("quantization").and_then(|q| q.get("quant_algo")))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    match algo.as_str() {
        "NVFP4" => Some(format(
            Precision::Int4,
            Quantization::Nvfp4,
            DEFAULT_GROUP_SIZE,
        )),
        "FP8" => Some(WeightFormat {
            precision: Precision::Float8,
            quantization: None,
            group_size: DEFAULT_GROUP_SIZE,
            double_quant: false,
        }),
        other => {
            notes.push(Warning::new(
                WarningCode::CheckpointFormatUnsupported,
                format!(
                    "ModelOpt quant_algo '{}' has no matching format here; give precision (and quantization) to size it",
                    clip(other)
                ),
            ));
            None
        }
    }
}

/// `bits` and `group_size` of a group-wise integer format (AWQ, GPTQ).
fn integer(config: &Value, q: Quantization, notes: &mut Vec<Warning>) -> Option<WeightFormat> {
    let bits = int_key(config, "bits")
        .or(int_key(config, "w_bit"))
        .unwrap_or(4);
    let precision = match bits {
        4 => Precision::Int4,
        8 if q.precisions().contains(&Precision::Int8) => Precision::Int8,
        other => {
            notes.push(Warning::new(
                WarningCode::CheckpointFormatUnsupported,
                format!(
                    "{}-bit {} checkpoints have no matching format here",
                    other,
                    q.name()
                ),
            ));
            return None;
        }
    };
    let group = int_key(config, "group_size").or(int_key(config, "q_group_size"));
    let group_size = match group {
        Some(g) if g > 0 => (g as u64).min(limits::MAX_GROUP_SIZE),
        Some(_) => PER_CHANNEL,
        None => DEFAULT_GROUP_SIZE,
    };
    Some(format(precision, q, group_size))
}

/// bitsandbytes: NF4/FP4 (`load_in_4bit`, double quantization when set) or LLM.int8().
fn bitsandbytes(config: &Value) -> Option<WeightFormat> {
    let flag = |key: &str| config.get(key).and_then(Value::as_bool).unwrap_or(false);
    let precision = if flag("load_in_4bit") {
        Precision::Int4
    } else if flag("load_in_8bit") {
        Precision::Int8
    } else {
        return None;
    };
    let mut f = format(precision, Quantization::Bitsandbytes, DEFAULT_GROUP_SIZE);
    f.double_quant = flag("bnb_4bit_use_double_quant");
    Some(f)
}

/// llm-compressor's `compressed-tensors`: the weights of its first config group.
fn compressed_tensors(config: &Value, notes: &mut Vec<Warning>) -> Option<WeightFormat> {
    let weights = config
        .get("config_groups")
        .and_then(Value::as_object)
        .and_then(|groups| groups.values().next())
        .and_then(|g| g.get("weights"))?;
    let bits = int_key(weights, "num_bits").unwrap_or(8);
    let kind = weights.get("type").and_then(Value::as_str).unwrap_or("int");
    let strategy = weights
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group_size = match int_key(weights, "group_size") {
        Some(g) if g > 0 && strategy == "group" => (g as u64).min(limits::MAX_GROUP_SIZE),
        _ => PER_CHANNEL,
    };
    let precision = match (kind, bits) {
        ("float", 8) => Precision::Float8,
        ("int", 8) => Precision::Int8,
        ("int", 4) => Precision::Int4,
        _ => {
            notes.push(Warning::new(
                WarningCode::CheckpointFormatUnsupported,
                format!(
                    "compressed-tensors {kind} {bits}-bit weights have no matching format here"
                ),
            ));
            return None;
        }
    };
    if precision == Precision::Float8 && strategy != "tensor" {
        notes.push(Warning::new(WarningCode::CheckpointLayoutApproximated, format!(
            "compressed-tensors FP8 with {strategy} scales sized with one scale per matrix (the difference is one fp32 value per output channel)"
        )));
    }
    Some(WeightFormat {
        precision,
        quantization: None,
        group_size,
        double_quant: false,
    })
}

/// Maps one module name or pattern of an exclusion list to the weights it keeps in
/// 16-bit. Names of weights the calculator already keeps in 16-bit (embeddings,
/// `lm_head`, norms, routers and gates, vision towers) change nothing.
fn module_scope(name: &str, out: &mut Vec<ModuleScope>, notes: &mut Vec<Warning>) {
    use LinearKind::*;
    let n = name.trim_start_matches("re:").to_ascii_lowercase();
    let n = n.trim_end_matches(['.', '*', '$']);
    let layer = layer_index(n);
    let routers = ["mlp.gate", "shared_expert_gate", "router", ".gate"];
    let already_16bit = [
        "lm_head", "embed", "norm", "visual", "vision", "mtp", "wte", "wpe",
    ];
    let kinds: &[LinearKind] =
        if routers.iter().any(|r| n.ends_with(r)) || already_16bit.iter().any(|k| n.contains(k)) {
            &[]
        } else if n.contains("linear_attn") || n.contains("mamba") || n.ends_with("mixer") {
            // Linear-attention and state-space layers' projections (Qwen3-Next's
            // `linear_attn`, Jamba's `mamba`, Nemotron-H's `backbone.layers.N.mixer`).
            &[Mixer]
        } else if n.contains("shared_expert") {
            &[SharedExpert]
        } else if n.contains("experts") {
            &[Expert]
        } else if n.contains("attn") || n.contains("attention") {
            &[Attention]
        } else if n.contains("mlp") {
            &[Mlp, Expert, SharedExpert]
        } else if layer.is_some() {
            &[Attention, Mlp, Expert, SharedExpert, Mixer]
        } else {
            notes.push(Warning::new(
                WarningCode::CheckpointModulesNotRead,
                format!(
                    "unquantized module '{}' not recognised; its weights are counted as quantized",
                    clip(name)
                ),
            ));
            &[]
        };
    out.extend(kinds.iter().map(|&kind| ModuleScope { layer, kind }));
}

/// The decoder layer a module name points into (`model.layers.3.self_attn` → 3).
fn layer_index(name: &str) -> Option<u64> {
    let rest = &name[name.find("layers.")? + "layers.".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
