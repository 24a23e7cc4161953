//! The memory endpoints' request fields and responses, shared by `memory-inference`,
//! `memory-training` and `memory-compare` (which evaluates many of either).

use std::borrow::Cow;

use calculator::{
    estimate_inference, estimate_training, limits, registry, Bytes, ExplicitModel,
    InferenceRequest, LoraTarget, Method, Model, Optimizer, Precision, Quantization,
    TrainingRequest, Unit,
};
use serde_json::{json, Map, Value};

use crate::fields::Fields;
use crate::models::{architecture_json, parameters_json};
use crate::ApiError;

/// Which calculation a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calculation {
    /// `/api/memory/inference`
    Inference,
    /// `/api/memory/training`
    Training,
}

impl Calculation {
    /// Both, in the order the API lists them.
    pub const ALL: [Calculation; 2] = [Calculation::Inference, Calculation::Training];

    /// `inference` or `training`.
    pub fn name(self) -> &'static str {
        match self {
            Calculation::Inference => "inference",
            Calculation::Training => "training",
        }
    }

    /// Case-insensitive parse.
    pub fn parse(text: &str) -> Option<Calculation> {
        Calculation::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Calculation::Inference => &INFERENCE_FIELDS,
            Calculation::Training => &TRAINING_FIELDS,
        }
    }

    fn other_fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Calculation::Inference => &TRAINING_ONLY,
            Calculation::Training => &INFERENCE_ONLY,
        }
    }
}

/// Fields that say which model: a registry name, a config object, or explicit values.
const EXPLICIT_FIELDS: [&str; 7] = [
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
];

/// Every field `/api/memory/inference` accepts.
pub const INFERENCE_FIELDS: [&str; 20] = [
    "model_name",
    "config",
    "model_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "precision",
    "quantization",
    "group_size",
    "kv_cache_precision",
    "batch_size",
    "sequence_length",
    "max_new_tokens",
    "use_flash_attention",
    "num_gpus",
    "unit",
];

/// Every field `/api/memory/training` accepts.
pub const TRAINING_FIELDS: [&str; 24] = [
    "model_name",
    "config",
    "model_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "precision",
    "mixed_precision",
    "method",
    "trainable_parameters",
    "lora_rank",
    "lora_target",
    "optimizer",
    "gradient_checkpointing",
    "batch_size",
    "sequence_length",
    "use_flash_attention",
    "num_gpus",
    "zero_stage",
    "unit",
];

const TRAINING_ONLY: [(&str, &str); 9] = [
    ("mixed_precision", "/api/memory/training"),
    ("method", "/api/memory/training"),
    ("trainable_parameters", "/api/memory/training"),
    ("lora_rank", "/api/memory/training"),
    ("lora_target", "/api/memory/training"),
    ("optimizer", "/api/memory/training"),
    ("gradient_checkpointing", "/api/memory/training"),
    ("zero_stage", "/api/memory/training"),
    ("calculation_type", "/api/memory/compare"),
];

const INFERENCE_ONLY: [(&str, &str); 5] = [
    (
        "quantization",
        "/api/memory/inference (training supports a 4-bit base through method qlora)",
    ),
    ("group_size", "/api/memory/inference"),
    ("kv_cache_precision", "/api/memory/inference"),
    ("max_new_tokens", "/api/memory/inference"),
    ("calculation_type", "/api/memory/compare"),
];

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|t| name(*t)).collect()
}

/// A model resolved from a request, borrowed from the registry when possible.
struct Resolved {
    model: Cow<'static, Model>,
    source: &'static str,
    echo: Map<String, Value>,
}

fn resolve_model(f: &Fields) -> Result<Resolved, ApiError> {
    let prefix = f.path("");
    let calc = |e| ApiError::from_calc(e, &prefix);
    let name = f.text("model_name")?;
    let config = f.get("config");
    let explicit = EXPLICIT_FIELDS.iter().any(|k| f.has(k));
    let model_size = f.number("model_size", 0.0, limits::MAX_MODEL_SIZE_BILLIONS)?;
    if usize::from(name.is_some()) + usize::from(config.is_some()) + usize::from(explicit) > 1 {
        let field = if name.is_some() {
            "model_name"
        } else {
            "config"
        };
        return Err(ApiError::field(
            &f.path(field),
            "give only one of model_name, config, or explicit architecture fields (hidden_size, num_hidden_layers, num_attention_heads, ...)",
        ));
    }
    let mut echo = Map::new();
    if let Some(size) = model_size {
        echo.insert("model_size".into(), json!(size));
    }
    let resolved = if let Some(name) = name {
        let entry = registry::lookup(name).map_err(calc)?;
        echo.insert("model_name".into(), json!(entry.name));
        let model = match model_size {
            Some(b) => Cow::Owned(entry.model.clone().with_model_size(b).map_err(calc)?),
            None => Cow::Borrowed(&entry.model),
        };
        Resolved {
            model,
            source: "registry",
            echo,
        }
    } else if let Some(config) = config {
        let model = Model::from_config(config).map_err(calc)?;
        let model = match model_size {
            Some(b) => model.with_model_size(b).map_err(calc)?,
            None => model,
        };
        Resolved {
            model: Cow::Owned(model),
            source: "config",
            echo,
        }
    } else if explicit {
        let e = ExplicitModel {
            model_size_billions: model_size,
            hidden_size: f.required_uint("hidden_size", 1, limits::MAX_HIDDEN)?,
            num_hidden_layers: f.required_uint("num_hidden_layers", 1, limits::MAX_LAYERS)?,
            num_attention_heads: f.required_uint("num_attention_heads", 1, limits::MAX_HEADS)?,
            num_key_value_heads: f.uint("num_key_value_heads", 1, limits::MAX_HEADS)?,
            head_dim: f.uint("head_dim", 1, limits::MAX_HEAD_DIM)?,
            intermediate_size: f.uint("intermediate_size", 1, limits::MAX_INTERMEDIATE)?,
            vocab_size: f.uint("vocab_size", 1, limits::MAX_VOCAB)?,
        };
        let model = Model::from_explicit(&e).map_err(calc)?;
        for key in EXPLICIT_FIELDS {
            if let Some(v) = f.get(key) {
                echo.insert(key.into(), v.clone());
            }
        }
        Resolved {
            model: Cow::Owned(model),
            source: "explicit",
            echo,
        }
    } else if model_size.is_some() {
        return Err(ApiError::field(
            &f.path("hidden_size"),
            "is required with model_size, as are num_hidden_layers and num_attention_heads (they size the KV cache and activations); or give model_name or config",
        ));
    } else {
        return Err(ApiError::field(
            &f.path("model_name"),
            "is required: give model_name (see /api/models), a Hugging Face config object, or explicit fields (model_size, hidden_size, num_hidden_layers, num_attention_heads)",
        ));
    };
    Ok(resolved)
}

fn precision_names() -> Vec<&'static str> {
    names(&Precision::ALL, Precision::name)
}

/// The `unit` field of a request object, `default` when absent.
pub fn parse_unit(f: &Fields, default: Unit) -> Result<Unit, ApiError> {
    Ok(
        f.choice("unit", Unit::parse, &names(&Unit::ALL, Unit::name))?
            .unwrap_or(default),
    )
}

/// The response of one calculation: components as strings in `unit` and as bytes.
fn result_json(
    calc: Calculation,
    r: &Resolved,
    parameters: Map<String, Value>,
    parts: &[(&str, Bytes)],
    unit: Unit,
    warnings: &[String],
) -> Value {
    let mut strings = Map::new();
    let mut bytes = Map::new();
    for (name, b) in parts {
        strings.insert((*name).into(), json!(b.format(unit)));
        bytes.insert((*name).into(), json!(b.0));
    }
    json!({
        "calculation_type": calc.name(),
        "model": model_json(r),
        "parameters": parameters,
        "memory_requirements": strings,
        "memory_bytes": bytes,
        "warnings": warnings,
    })
}

/// The total memory of an evaluated configuration (for compare summaries).
pub fn total_bytes(result: &Value) -> u64 {
    let bytes = &result["memory_bytes"];
    bytes["inference_memory"]
        .as_u64()
        .or_else(|| bytes["training_memory"].as_u64())
        .unwrap_or(0)
}

/// Evaluates one request object. `prefix` places field names in errors (`""` or
/// `configurations[3].`), `default_unit` applies when the object has no `unit`.
pub fn evaluate(
    calc: Calculation,
    map: &Map<String, Value>,
    prefix: &str,
    default_unit: Unit,
) -> Result<Value, ApiError> {
    let f = Fields::new(map, prefix);
    f.reject_unknown(calc.fields(), calc.other_fields())?;
    let resolved = resolve_model(&f)?;
    let unit = parse_unit(&f, default_unit)?;
    let result = match calc {
        Calculation::Inference => inference(&f, &resolved, unit)?,
        Calculation::Training => training(&f, &resolved, unit)?,
    };
    Ok(result)
}

fn model_json(r: &Resolved) -> Value {
    json!({
        "name": r.model.name,
        "source": r.source,
        "parameters": parameters_json(&r.model.params),
        "architecture": architecture_json(&r.model),
    })
}

fn inference(f: &Fields, r: &Resolved, unit: Unit) -> Result<Value, ApiError> {
    let precisions = precision_names();
    let mut quant_names = names(&Quantization::ALL, Quantization::name);
    quant_names.push("none");
    let req = InferenceRequest {
        precision: f.choice("precision", Precision::parse, &precisions)?,
        quantization: f
            .choice(
                "quantization",
                |t| {
                    if t.trim().eq_ignore_ascii_case("none") {
                        Some(None)
                    } else {
                        Quantization::parse(t).map(Some)
                    }
                },
                &quant_names,
            )?
            .flatten(),
        group_size: f.uint("group_size", 1, limits::MAX_GROUP_SIZE)?,
        kv_cache_precision: f.choice("kv_cache_precision", Precision::parse, &precisions)?,
        batch_size: f.required_uint("batch_size", 1, limits::MAX_BATCH_SIZE)?,
        sequence_length: f.required_uint("sequence_length", 1, limits::MAX_SEQUENCE_LENGTH)?,
        max_new_tokens: f
            .uint("max_new_tokens", 0, limits::MAX_NEW_TOKENS)?
            .unwrap_or(0),
        use_flash_attention: f.boolean("use_flash_attention")?.unwrap_or(true),
        num_gpus: f.uint("num_gpus", 1, limits::MAX_GPUS)?.unwrap_or(1),
    };
    let e = estimate_inference(&r.model, &req).map_err(|e| ApiError::from_calc(e, &f.path("")))?;
    let fmt = e.weight_format;
    let grouped = fmt.uses_group_size();
    let mut parameters = r.echo.clone();
    parameters.extend([
        ("precision".into(), json!(fmt.precision.name())),
        (
            "quantization".into(),
            json!(fmt.quantization.map(Quantization::name)),
        ),
        (
            "group_size".into(),
            json!(grouped.then_some(fmt.group_size)),
        ),
        ("weight_storage".into(), json!(fmt.describe())),
        (
            "kv_cache_precision".into(),
            json!(e.kv_cache_precision.name()),
        ),
        ("batch_size".into(), json!(req.batch_size)),
        ("sequence_length".into(), json!(req.sequence_length)),
        ("max_new_tokens".into(), json!(req.max_new_tokens)),
        ("use_flash_attention".into(), json!(req.use_flash_attention)),
        ("num_gpus".into(), json!(req.num_gpus)),
        ("unit".into(), json!(unit.name())),
    ]);
    let mut result = result_json(
        Calculation::Inference,
        r,
        parameters,
        &[
            ("model_weights", e.model_weights),
            ("kv_cache", e.kv_cache),
            ("activation_memory", e.activation_memory),
            ("runtime_overhead", e.runtime_overhead),
            ("inference_memory", e.inference_memory),
        ],
        unit,
        &e.warnings,
    );
    result["per_gpu"] = json!(req.num_gpus > 1);
    Ok(result)
}

fn training(f: &Fields, r: &Resolved, unit: Unit) -> Result<Value, ApiError> {
    let precisions = precision_names();
    let checkpointing = match f.get("gradient_checkpointing") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("full") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("none") => false,
        Some(_) => {
            return Err(ApiError::field(
                &f.path("gradient_checkpointing"),
                "must be true, false, \"none\" or \"full\"",
            )
            .with("allowed", json!([true, false, "none", "full"])))
        }
    };
    let req = TrainingRequest {
        precision: f.choice("precision", Precision::parse, &precisions)?,
        mixed_precision: f.boolean("mixed_precision")?.unwrap_or(true),
        method: f
            .choice("method", Method::parse, &names(&Method::ALL, Method::name))?
            .unwrap_or(Method::Full),
        trainable_percent: f.number("trainable_parameters", 0.0, 100.0)?,
        lora_rank: f.uint("lora_rank", 1, limits::MAX_LORA_RANK)?.unwrap_or(8),
        lora_target: f
            .choice(
                "lora_target",
                LoraTarget::parse,
                &names(&LoraTarget::ALL, LoraTarget::name),
            )?
            .unwrap_or(LoraTarget::AllLinear),
        optimizer: f
            .choice(
                "optimizer",
                Optimizer::parse,
                &names(&Optimizer::ALL, Optimizer::name),
            )?
            .unwrap_or(Optimizer::AdamW),
        gradient_checkpointing: checkpointing,
        batch_size: f.required_uint("batch_size", 1, limits::MAX_BATCH_SIZE)?,
        sequence_length: f.required_uint("sequence_length", 1, limits::MAX_SEQUENCE_LENGTH)?,
        use_flash_attention: f.boolean("use_flash_attention")?.unwrap_or(true),
        num_gpus: f.uint("num_gpus", 1, limits::MAX_GPUS)?.unwrap_or(1),
        zero_stage: f.uint("zero_stage", 0, 3)?.unwrap_or(0) as u8,
    };
    let e = estimate_training(&r.model, &req).map_err(|e| ApiError::from_calc(e, &f.path("")))?;
    let d = e.details;
    let mut parameters = r.echo.clone();
    parameters.extend([
        ("precision".into(), json!(e.precision.name())),
        ("mixed_precision".into(), json!(e.mixed_precision)),
        ("method".into(), json!(req.method.name())),
        (
            "trainable_parameters".into(),
            json!(req.trainable_percent.unwrap_or(if req.method.is_peft() {
                d.trainable_parameters as f64 * 100.0 / (r.model.params.total.max(1) as f64)
            } else {
                100.0
            })),
        ),
        (
            "lora_rank".into(),
            json!(req.method.is_peft().then_some(req.lora_rank)),
        ),
        (
            "lora_target".into(),
            json!(req.method.is_peft().then_some(req.lora_target.name())),
        ),
        ("optimizer".into(), json!(req.optimizer.name())),
        (
            "gradient_checkpointing".into(),
            json!(if checkpointing { "full" } else { "none" }),
        ),
        ("batch_size".into(), json!(req.batch_size)),
        ("sequence_length".into(), json!(req.sequence_length)),
        ("use_flash_attention".into(), json!(req.use_flash_attention)),
        ("num_gpus".into(), json!(req.num_gpus)),
        ("zero_stage".into(), json!(req.zero_stage)),
        ("unit".into(), json!(unit.name())),
    ]);
    if let Some(base) = e.base_format {
        parameters.insert("base_weight_storage".into(), json!(base.describe()));
    }
    let mut result = result_json(
        Calculation::Training,
        r,
        parameters,
        &[
            ("model_weights", e.model_weights),
            ("gradients_memory", e.gradients_memory),
            ("optimizer_memory", e.optimizer_memory),
            ("activation_memory", e.activation_memory),
            ("runtime_overhead", e.runtime_overhead),
            ("training_memory", e.training_memory),
        ],
        unit,
        &e.warnings,
    );
    result["details"] = json!({
        "trainable_parameter_count": d.trainable_parameters,
        "master_weights_bytes": d.master_weights.0,
        "optimizer_states_bytes": d.optimizer_states.0,
        "optimizer_step_workspace_bytes": d.optimizer_step_workspace.0,
        "loss_buffers_bytes": d.loss_buffers.0,
        "layers_with_activations": d.layers_with_activations,
    });
    result["per_gpu"] = json!(true);
    Ok(result)
}
