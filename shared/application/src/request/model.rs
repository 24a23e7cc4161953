//! The model a request names: a registry name, a config object or explicit
//! architecture fields, with `model_size` as an optional parameter-count override.

use std::borrow::Cow;

use calculator::{resolve_name, CalcError, ExplicitModel, Model, Warning};
use serde_json::{json, Map, Value};

use super::fields::{
    self, Field, Role, CONFIG, HEAD_DIM, HIDDEN_SIZE, INTERMEDIATE_SIZE, MODEL_NAME, MODEL_SIZE,
    NUM_ATTENTION_HEADS, NUM_HIDDEN_LAYERS, NUM_KEY_VALUE_HEADS, REVISION, VOCAB_SIZE,
};
use super::hub::{self as hub_models, HubSource};
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
    /// The Hub repository the model was read from (`source` `hub`).
    pub hub: Option<HubSource>,
}

impl Resolved {
    /// The request field that determined the model's size: `model_size` when given,
    /// else `model_name`, `config` or (explicit fields) `hidden_size`.
    pub fn field(&self) -> &'static str {
        if self.echo.contains_key("model_size") {
            "model_size"
        } else {
            match self.source {
                "registry" | "hub" => "model_name",
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
    let mut from_hub = None;
    let revision = f.text(&REVISION)?;
    if revision.is_some() && name.is_none() {
        return Err(ApiError::field(
            &f.path(REVISION.name),
            "applies to a model_name read from the Hugging Face Hub",
        ));
    }
    let (model, source) = if let Some(name) = name {
        match resolve_name(name) {
            Ok(r) => {
                if let Some(rev) = revision.filter(|r| *r != hub::DEFAULT_REVISION) {
                    return Err(hub_models::registry_revision(
                        &f.path(REVISION.name),
                        &r.entry.name,
                        rev,
                    ));
                }
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
            }
            Err(miss) if hub::is_repo_id(name) => {
                let revision = revision.unwrap_or(hub::DEFAULT_REVISION);
                let read = hub_model(
                    &f.path(MODEL_NAME.name),
                    &f.path(REVISION.name),
                    name,
                    revision,
                    miss,
                )?;
                echo.insert("model_name".into(), json!(name));
                echo.insert("revision".into(), json!(revision));
                notes.extend(read.warnings);
                from_hub = Some(read.source);
                (Cow::Owned(sized(read.model)?), "hub")
            }
            Err(miss) => return Err(calc(miss)),
        }
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
        hub: from_hub,
    })
}

/// A model read from the Hub, with what the answer says about it.
pub(crate) struct HubModel {
    /// The model, read from the repository's config.json.
    pub model: Model,
    /// That config.json.
    pub config: Value,
    /// The repository as read.
    pub repo: std::sync::Arc<hub::HubRepo>,
    /// What the answer says about the repository.
    pub source: HubSource,
    /// What could not be read, and a count that differs.
    pub warnings: Vec<Warning>,
}

/// The model of Hub repository `name` at `revision`, read before this request was
/// evaluated ([`hub_models::prefetch`]): its config.json as a posted `config` would be
/// read, with what its safetensors headers say. `field` and `revision_field` name the
/// request's fields in errors; `miss` is the registry's answer, for its suggestions.
pub(crate) fn hub_model(
    field: &str,
    revision_field: &str,
    name: &str,
    revision: &str,
    miss: CalcError,
) -> Result<HubModel, ApiError> {
    if !hub::is_revision(revision) {
        return Err(ApiError::field(
            revision_field,
            "must be a branch, tag or commit of the repository (letters, digits, -, _, . and /)",
        ));
    }
    let read = hub_models::read(name, revision).ok_or_else(|| {
        ApiError::field(
            field,
            format!(
                "a request reads at most {} models from the Hugging Face Hub (a daily report {}); post the others' config.json as config",
                hub_models::MAX_HUB_MODELS,
                hub_models::MAX_REPORT_HUB_MODELS
            ),
        )
    })?;
    let suggestions = match miss {
        CalcError::UnknownModel { suggestions, .. } => suggestions,
        _ => Vec::new(),
    };
    let repo =
        read.map_err(|e| hub_models::api_error(&e, field, revision_field, name, &suggestions))?;
    // Read as a posted config is: strictly (a key given twice is refused, not
    // resolved by whichever reader comes last).
    let config = calculator::json::parse_strict(&repo.config).map_err(|e| {
        ApiError::field(
            field,
            match e {
                calculator::json::JsonError::DuplicateKey(path) => format!(
                    "{name}'s config.json gives {} twice; the service does not guess which one counts",
                    calculator::clip(&path)
                ),
                calculator::json::JsonError::Syntax(e) => {
                    format!("{name}'s config.json is not JSON: {e}")
                }
            },
        )
    })?;
    let mut model = Model::from_config(&config).map_err(|e| match e {
        CalcError::InvalidField {
            field: key,
            message,
        } => ApiError::field(field, format!("{name}'s config.json: {key}: {message}")),
        other => ApiError::from_calc(other, "", field),
    })?;
    model.name = Some(repo.id.clone());
    let (source, warnings) = HubSource::new(&repo, &config, &model);
    Ok(HubModel {
        model,
        config,
        repo,
        source,
        warnings,
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
