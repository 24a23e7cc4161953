//! Models and requests for the calculator's tests: registry models, models from
//! configs, a small llama config, the field an error names, and vLLM start-ups.

use calculator::{
    estimate_inference, Bytes, CalcError, Engine, InferenceEstimate, InferenceRequest, Model,
    RegistryEntry, VllmCapacity, VllmSettings,
};
use serde_json::{json, Value};

/// Bytes in a GiB.
pub const GIB: u64 = 1 << 30;

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// A registry model by name.
pub fn registry_model(name: &str) -> &'static Model {
    &RegistryEntry::lookup(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .model
}

/// The model of a config (which must read).
pub fn model(config: Value) -> Model {
    Model::from_config(&config).unwrap_or_else(|e| panic!("{e}: {config}"))
}

/// The field a calculator error names; panics on errors about no field.
pub fn field_of(err: CalcError) -> String {
    match err {
        CalcError::InvalidField { field, .. } => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

/// The field a config's refusal names.
pub fn config_error(config: Value) -> String {
    field_of(
        Model::from_config(&config)
            .err()
            .unwrap_or_else(|| panic!("accepted: {config}")),
    )
}

/// `base` with the keys of `extra` set over it (both JSON objects).
pub fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// A small llama config (h 64, 2 layers, 4 heads, 2 KV heads, I 100, V 128); `extra`
/// overrides or adds keys.
pub fn llama(extra: Value) -> Value {
    merged(
        json!({
            "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
            "vocab_size": 128
        }),
        extra,
    )
}

/// The transformers-engine answer for one sequence of `tokens` tokens.
pub fn one_sequence(model: &Model, tokens: u64) -> InferenceEstimate {
    estimate_inference(model, &InferenceRequest::new(1, tokens)).unwrap()
}

/// vLLM settings for a GPU of `gib` GiB, named `name`.
pub fn vllm_settings(gib: u64, name: Option<&str>) -> VllmSettings {
    let mut s = VllmSettings::new(Bytes(gib * GIB));
    s.gpu_name = name.map(str::to_owned);
    s
}

/// A vLLM start-up of `model` for requests of `len` tokens, `edit` applied.
pub fn vllm(
    model: &Model,
    len: u64,
    s: VllmSettings,
    edit: impl FnOnce(&mut InferenceRequest),
) -> InferenceEstimate {
    let mut r = InferenceRequest::new(1, len);
    r.engine = Engine::Vllm(s);
    edit(&mut r);
    estimate_inference(model, &r).unwrap()
}

/// A vLLM start-up of the registry's `name` on an unnamed GPU of `gib` GiB, for
/// requests of `len` tokens, every other setting at its default.
pub fn vllm_on(name: &str, len: u64, gib: u64) -> InferenceEstimate {
    vllm(registry_model(name), len, vllm_settings(gib, None), |_| {})
}

/// The start-up report of a vLLM estimate.
pub fn capacity(e: &InferenceEstimate) -> &VllmCapacity {
    e.vllm.as_ref().unwrap()
}
