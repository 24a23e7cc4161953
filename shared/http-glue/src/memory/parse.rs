//! Reading a memory request: the model it names and the workload, from the request's
//! fields into the calculator's typed requests. Defaults come from the calculator's
//! request constructors, limits from `calculator::limits`.

use std::borrow::Cow;

use calculator::{
    limits, names, Choice, DeepspeedSettings, ExplicitModel, Framework, FsdpSharding,
    InferenceRequest, Logits, LoraTarget, Loss, Method, Model, Offload, Optimizer,
    OptimizerImplementation, Precision, Quantization, TrainingRequest, Unit,
};
use serde_json::{json, Map, Value};

use super::{engine, EXPLICIT_FIELDS};
use crate::fields::Fields;
use crate::ApiError;

/// A model resolved from a request, borrowed from the registry when possible, with
/// how it was named and the naming fields to echo back.
///
/// [`Resolved::field`] names the field that sized the model, for errors about it.
pub(crate) struct Resolved {
    pub model: Cow<'static, Model>,
    pub source: &'static str,
    pub echo: Map<String, Value>,
    /// How a model name was read, when not as the registry spells it.
    pub notes: Vec<String>,
}

impl Resolved {
    /// The request field that determined the model's size: `model_size` when given,
    /// else `model_name`, `config` or (explicit fields) `hidden_size`.
    pub fn field(&self) -> &'static str {
        if self.echo.contains_key("model_size") {
            "model_size"
        } else {
            match self.source {
                "registry" => "model_name",
                "config" => "config",
                _ => "hidden_size",
            }
        }
    }
}

pub(crate) fn names_of<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|t| name(*t)).collect()
}

/// The model of a request: exactly one of `model_name`, `config` or explicit fields,
/// with `model_size` as an optional parameter-count override.
pub(crate) fn resolve_model(f: &Fields) -> Result<Resolved, ApiError> {
    let prefix = f.path("");
    let calc = |e| ApiError::from_calc(e, &prefix, "model_name");
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
    let sized = |model: Model| match model_size {
        Some(b) => model.with_model_size(b).map_err(calc),
        None => Ok(model),
    };
    let mut notes = Vec::new();
    let (model, source) = if let Some(name) = name {
        let r = names::resolve(name).map_err(calc)?;
        echo.insert("model_name".into(), json!(r.entry.name));
        if let Some(note) = r.note {
            echo.insert("requested_model".into(), json!(name));
            notes.push(note);
        }
        let model = match model_size {
            Some(_) => Cow::Owned(sized(r.model.into_owned())?),
            None => r.model,
        };
        (model, "registry")
    } else if let Some(config) = config {
        (
            Cow::Owned(sized(Model::from_config(config).map_err(calc)?)?),
            "config",
        )
    } else if explicit {
        let model = Model::from_explicit(&explicit_model(f, model_size)?).map_err(calc)?;
        for &key in EXPLICIT_FIELDS {
            if let Some(v) = f.get(key) {
                echo.insert(key.into(), v.clone());
            }
        }
        (Cow::Owned(model), "explicit")
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
    Ok(Resolved {
        model,
        source,
        echo,
        notes,
    })
}

fn explicit_model(f: &Fields, model_size: Option<f64>) -> Result<ExplicitModel, ApiError> {
    Ok(ExplicitModel {
        model_size_billions: model_size,
        hidden_size: f.required_uint(limits::HIDDEN_SIZE)?,
        num_hidden_layers: f.required_uint(limits::NUM_HIDDEN_LAYERS)?,
        num_attention_heads: f.required_uint(limits::NUM_ATTENTION_HEADS)?,
        num_key_value_heads: f.uint(limits::NUM_KEY_VALUE_HEADS)?,
        head_dim: f.uint(limits::HEAD_DIM)?,
        intermediate_size: f.uint(limits::INTERMEDIATE_SIZE)?,
        vocab_size: f.uint(limits::VOCAB_SIZE)?,
    })
}

/// The `unit` field of a request object, `default` when absent.
pub fn parse_unit(f: &Fields, default: Unit) -> Result<Unit, ApiError> {
    Ok(
        f.choice("unit", Unit::parse, &names_of(&Unit::ALL, Unit::name))?
            .unwrap_or(default),
    )
}

fn precision_field(f: &Fields, key: &str) -> Result<Option<Precision>, ApiError> {
    f.choice(
        key,
        Precision::parse,
        &names_of(&Precision::ALL, Precision::name),
    )
}

/// `quantization`: a format name, or `none` for no named format.
fn quantization(f: &Fields) -> Result<Option<Quantization>, ApiError> {
    let mut allowed = names_of(&Quantization::ALL, Quantization::name);
    allowed.push("none");
    let parse = |t: &str| {
        if t.trim().eq_ignore_ascii_case("none") {
            Some(None)
        } else {
            Quantization::parse(t).map(Some)
        }
    };
    Ok(f.choice("quantization", parse, &allowed)?.flatten())
}

/// An inference request; fields are read in the order the API documents them, so the
/// first bad one is the one named.
pub(crate) fn inference_request(
    f: &Fields,
    context: engine::Context,
) -> Result<InferenceRequest, ApiError> {
    let precision = precision_field(f, "precision")?;
    let quantization = quantization(f)?;
    let group_size = f.uint(limits::GROUP_SIZE)?;
    let kv_cache_precision = precision_field(f, "kv_cache_precision")?;
    let mut req = InferenceRequest::new(
        f.required_uint(limits::BATCH_SIZE)?,
        f.required_uint(limits::SEQUENCE_LENGTH)?,
    );
    req.precision = precision;
    req.quantization = quantization;
    req.group_size = group_size;
    req.kv_cache_precision = kv_cache_precision;
    set(
        &mut req.max_new_tokens,
        f.uint(limits::MAX_NEW_TOKENS_RANGE)?,
    );
    set(
        &mut req.logits,
        f.choice(
            "logits",
            Logits::parse,
            &names_of(&Logits::ALL, Logits::name),
        )?,
    );
    set(
        &mut req.use_flash_attention,
        f.boolean("use_flash_attention")?,
    );
    set(&mut req.load_mtp, f.boolean("load_mtp")?);
    set(&mut req.num_gpus, f.uint(limits::NUM_GPUS)?);
    req.engine = engine::engine(f, context)?;
    Ok(req)
}

/// `gradient_checkpointing`: a boolean, or the old service's `"full"` / `"none"`.
fn checkpointing(f: &Fields) -> Result<Option<bool>, ApiError> {
    match f.get("gradient_checkpointing") {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("full") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("none") => Ok(Some(false)),
        Some(_) => Err(ApiError::field(
            &f.path("gradient_checkpointing"),
            "must be true, false, \"none\" or \"full\"",
        )
        .with("allowed", json!([true, false, "none", "full"]))),
    }
}

/// A training request; fields are read in the order the API documents them.
pub(crate) fn training_request(f: &Fields) -> Result<TrainingRequest, ApiError> {
    let checkpointing = checkpointing(f)?;
    let precision = precision_field(f, "precision")?;
    let mixed = f.boolean("mixed_precision")?;
    let method = f.choice(
        "method",
        Method::parse,
        &names_of(&Method::ALL, Method::name),
    )?;
    let trainable_percent = f.fraction(limits::TRAINABLE_PARAMETERS)?;
    let lora_rank = f.uint(limits::LORA_RANK)?;
    let lora_target = f.choice(
        "lora_target",
        LoraTarget::parse,
        &names_of(&LoraTarget::ALL, LoraTarget::name),
    )?;
    let optimizer = f.choice(
        "optimizer",
        Optimizer::parse_with_implementation,
        &names_of(&Optimizer::ALL, Optimizer::name),
    )?;
    let implementation = optimizer_implementation(f, optimizer.and_then(|(_, i)| i))?;
    let mut req = TrainingRequest::new(
        f.required_uint(limits::BATCH_SIZE)?,
        f.required_uint(limits::SEQUENCE_LENGTH)?,
    );
    req.precision = precision;
    req.trainable_percent = trainable_percent;
    set(&mut req.gradient_checkpointing, checkpointing);
    set(&mut req.mixed_precision, mixed);
    set(&mut req.method, method);
    set(&mut req.lora_rank, lora_rank);
    set(&mut req.lora_target, lora_target);
    set(&mut req.optimizer, optimizer.map(|(o, _)| o));
    req.optimizer_implementation = implementation;
    set(
        &mut req.use_flash_attention,
        f.boolean("use_flash_attention")?,
    );
    set(&mut req.num_gpus, f.uint(limits::NUM_GPUS)?);
    // ZERO_STAGE's range ends at 3, so the value fits a u8.
    set(
        &mut req.zero_stage,
        f.uint(limits::ZERO_STAGE)?.map(|z| z as u8),
    );
    framework_fields(f, &mut req)?;
    Ok(req)
}

/// A field whose value is one of a [`Choice`]'s names.
fn named<T: Choice>(f: &Fields, key: &str) -> Result<Option<T>, ApiError> {
    f.choice(key, T::parse, &T::names())
}

/// `optimizer_implementation`, or the one a Hugging Face optimizer name implies
/// (`adamw_torch_fused`); both given and different is an error.
fn optimizer_implementation(
    f: &Fields,
    implied: Option<OptimizerImplementation>,
) -> Result<Option<OptimizerImplementation>, ApiError> {
    let given = named::<OptimizerImplementation>(f, "optimizer_implementation")?;
    match (given, implied) {
        (Some(g), Some(i)) if g != i => Err(ApiError::field(
            &f.path("optimizer_implementation"),
            format!(
                "is {}, but the optimizer's name means {}; give one",
                g.name(),
                i.name()
            ),
        )),
        _ => Ok(given.or(implied)),
    }
}

/// The framework, offload, loss, LoRA dropout and DeepSpeed fields.
fn framework_fields(f: &Fields, req: &mut TrainingRequest) -> Result<(), ApiError> {
    req.framework = named::<Framework>(f, "framework")?;
    req.fsdp_sharding = named::<FsdpSharding>(f, "fsdp_sharding")?;
    req.gpus_per_node = f.uint(limits::GPUS_PER_NODE)?;
    set(
        &mut req.offload_optimizer,
        named::<Offload>(f, "offload_optimizer")?,
    );
    set(
        &mut req.offload_parameters,
        named::<Offload>(f, "offload_parameters")?,
    );
    set(&mut req.loss, named::<Loss>(f, "loss")?);
    req.loss_chunks = f.uint(limits::LOSS_CHUNKS)?;
    let (field, min, max) = limits::LORA_DROPOUT;
    set(&mut req.lora_dropout, f.number(field, min, max)?);
    let reduce = f.uint(limits::REDUCE_BUCKET_SIZE)?;
    let overlap = f.boolean("overlap_comm")?;
    let sub_group = f.uint(limits::SUB_GROUP_SIZE)?;
    let given = [
        ("reduce_bucket_size", reduce.is_some()),
        ("overlap_comm", overlap.is_some()),
        ("sub_group_size", sub_group.is_some()),
    ];
    if let (Some(framework), Some((field, _))) =
        (req.framework, given.iter().find(|(_, given)| *given))
    {
        if framework != Framework::Deepspeed {
            return Err(ApiError::field(
                &f.path(field),
                format!("is a DeepSpeed setting; framework is {}", framework.name()),
            ));
        }
    }
    if reduce.is_some() || overlap.is_some() || sub_group.is_some() {
        let defaults = DeepspeedSettings::default();
        req.deepspeed = Some(DeepspeedSettings {
            reduce_bucket_size: reduce.unwrap_or(defaults.reduce_bucket_size),
            overlap_comm: overlap,
            sub_group_size: sub_group.unwrap_or(defaults.sub_group_size),
        });
    }
    Ok(())
}

/// Overrides a default with the value the request gave, if any.
fn set<T>(slot: &mut T, given: Option<T>) {
    if let Some(v) = given {
        *slot = v;
    }
}
