//! The model a request names: a registry name, a config object or explicit
//! architecture fields, with `model_size` as an optional parameter-count override.

use std::borrow::Cow;

use calculator::{resolve_name, ExplicitModel, Model, Warning};
use serde_json::{json, Map, Value};

use super::fields::{
    self, Field, Role, CONFIG, HEAD_DIM, HIDDEN_SIZE, INTERMEDIATE_SIZE, MODEL_NAME, MODEL_SIZE,
    NUM_ATTENTION_HEADS, NUM_HIDDEN_LAYERS, NUM_KEY_VALUE_HEADS, VOCAB_SIZE,
};
use super::reader::Fields;
use crate::http::ApiError;

/// The explicit architecture fields, in order.
fn explicit_fields() -> impl Iterator<Item = &'static Field> {
    fields::FIELDS
        .into_iter()
        .filter(|f| f.role == Role::Explicit)
}

/// A model resolved from a request, borrowed from the registry when possible, with
/// how it was named and the naming fields to echo back.
///
/// [`Resolved::field`] names the field that sized the model, for errors about it.
pub struct Resolved {
    /// The model.
    pub model: Cow<'static, Model>,
    /// `registry`, `config` or `explicit`.
    pub source: &'static str,
    /// The naming fields as the answer repeats them.
    pub echo: Map<String, Value>,
    /// How a model name was read, when not as the registry spells it.
    pub notes: Vec<Warning>,
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

/// The model of a request: exactly one of `model_name`, `config` or explicit fields,
/// with `model_size` as an optional parameter-count override.
pub(crate) fn resolve(f: &Fields) -> Result<Resolved, ApiError> {
    let prefix = f.path("");
    let calc = |e| ApiError::from_calc(e, &prefix, MODEL_NAME.name);
    let name = f.text(&MODEL_NAME)?;
    let config = f.get(CONFIG.name);
    let explicit = explicit_fields().any(|k| f.has(k.name));
    let model_size = f.number(&MODEL_SIZE)?;
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
        let r = resolve_name(name).map_err(calc)?;
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
        for key in explicit_fields() {
            if let Some(v) = f.get(key.name) {
                echo.insert(key.name.into(), v.clone());
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
        hidden_size: f.required_uint(&HIDDEN_SIZE)?,
        num_hidden_layers: f.required_uint(&NUM_HIDDEN_LAYERS)?,
        num_attention_heads: f.required_uint(&NUM_ATTENTION_HEADS)?,
        num_key_value_heads: f.uint(&NUM_KEY_VALUE_HEADS)?,
        head_dim: f.uint(&HEAD_DIM)?,
        intermediate_size: f.uint(&INTERMEDIATE_SIZE)?,
        vocab_size: f.uint(&VOCAB_SIZE)?,
    })
}
