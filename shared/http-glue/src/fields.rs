//! Typed access to the fields of a JSON request object. Every error names the field by
//! its full path (`configurations[1].precision`) and says what is allowed.

use calculator::suggest::closest;
use serde_json::{json, Map, Value};

use crate::body::json_kind;
use crate::ApiError;

/// The fields of one request object, with the path prefix used in errors.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    /// Wraps `map`; `prefix` is prepended to field names in errors (`""` at the top).
    pub fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Fields<'a> {
        Fields { map, prefix }
    }

    /// The full path of a field, for errors and messages.
    pub fn path(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// Rejects any key not in `known`: a typo must not silently change a result. Keys
    /// that belong to another endpoint get a message saying so.
    pub fn reject_unknown(
        &self,
        known: &[&str],
        elsewhere: &[(&str, &str)],
    ) -> Result<(), ApiError> {
        for key in self.map.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, endpoint)) = elsewhere.iter().find(|(k, _)| k == key) {
                return Err(ApiError::field(
                    &self.path(key),
                    format!("is not used here; it belongs to {endpoint}"),
                ));
            }
            let mut err = ApiError::field(&self.path(key), "unknown field");
            if let Some(near) = closest(key, known.iter().copied()) {
                err = ApiError::field(
                    &self.path(key),
                    format!("unknown field; did you mean '{near}'?"),
                )
                .with("did_you_mean", json!(near));
            }
            return Err(err.with("known_fields", json!(known)));
        }
        Ok(())
    }

    /// Whether a key is present with a non-null value.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A present, non-null value.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An integer in `min..=max`. Integral floats (`2.0`) are accepted.
    pub fn uint(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let n = value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        });
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::field(
                &self.path(key),
                format!(
                    "must be an integer from {min} to {max}, got {}",
                    short(value)
                ),
            )),
        }
    }

    /// A required integer in `min..=max`.
    pub fn required_uint(&self, key: &str, min: u64, max: u64) -> Result<u64, ApiError> {
        self.uint(key, min, max)?.ok_or_else(|| {
            ApiError::field(
                &self.path(key),
                format!("is required: an integer from {min} to {max}"),
            )
        })
    }

    /// A finite number in `min..=max`.
    pub fn number(&self, key: &str, min: f64, max: f64) -> Result<Option<f64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(f) if f.is_finite() && (min..=max).contains(&f) => Ok(Some(f)),
            _ => Err(ApiError::field(
                &self.path(key),
                format!("must be a number from {min} to {max}, got {}", short(value)),
            )),
        }
    }

    /// `true` or `false`.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::field(
                &self.path(key),
                format!("must be true or false, got {}", short(other)),
            )),
        }
    }

    /// A string.
    pub fn text(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::field(
                &self.path(key),
                format!("must be a string, got {}", json_kind(other)),
            )),
        }
    }

    /// A string parsed by `parse`; unknown values list the allowed ones.
    pub fn choice<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<Option<T>, ApiError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        parse(text).map(Some).ok_or_else(|| {
            ApiError::field(
                &self.path(key),
                format!("unknown value '{text}'; allowed: {}", allowed.join(", ")),
            )
            .with("allowed", json!(allowed))
        })
    }
}

/// A value for an error message, cut to a sensible length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}
