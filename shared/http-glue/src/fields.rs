//! Typed access to the fields of a JSON request object. Every error names the field by
//! its full path (`configurations[1].precision`) and says what is allowed.

use calculator::limits::{FieldRange, FractionRange};
use calculator::numbers::as_integer;
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
            // A key longer than any known one is not searched for a near name (the
            // search costs length squared) and is repeated only in part.
            let path = self.path(&clip(key));
            let near = (key.len() <= ECHO_CHARS)
                .then(|| closest(key, known.iter().copied()))
                .flatten();
            let err = match near {
                Some(near) => {
                    ApiError::field(&path, format!("unknown field; did you mean '{near}'?"))
                        .with("did_you_mean", json!(near))
                }
                None => ApiError::field(&path, "unknown field"),
            };
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

    /// An integer in the field's range, under the range's field name. Integral floats
    /// (`2.0`) are accepted.
    pub fn uint(&self, range: FieldRange) -> Result<Option<u64>, ApiError> {
        let key = range.field;
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match as_integer(value) {
            Some(n) if (range.min..=range.max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::field(
                &self.path(key),
                format!(
                    "must be an integer from {} to {}, got {}",
                    range.min,
                    range.max,
                    short(value)
                ),
            )),
        }
    }

    /// A required integer in the field's range.
    pub fn required_uint(&self, range: FieldRange) -> Result<u64, ApiError> {
        self.uint(range)?.ok_or_else(|| {
            ApiError::field(
                &self.path(range.field),
                format!(
                    "is required: an integer from {} to {}",
                    range.min, range.max
                ),
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

    /// A number in `range` (above its lower bound, at most its upper).
    pub fn fraction(&self, range: FractionRange) -> Result<Option<f64>, ApiError> {
        let Some(value) = self.get(range.field) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(f) if range.check(f).is_ok() => Ok(Some(f)),
            _ => Err(ApiError::field(
                &self.path(range.field),
                format!(
                    "must be a number above {} and at most {}, got {}",
                    range.above,
                    range.max,
                    short(value)
                ),
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
                format!(
                    "unknown value '{}'; allowed: {}",
                    clip(text),
                    allowed.join(", ")
                ),
            )
            .with("allowed", json!(allowed))
        })
    }
}

/// A 400 for a name that is not among `names` (a GPU, an instance type), with the
/// closest one and every one; `kind` says what was looked up.
pub fn unknown_name(path: &str, kind: &str, name: &str, names: &[&str]) -> ApiError {
    // A name longer than any known one is not searched (the search costs length
    // squared) and is repeated only in part.
    let near = (name.len() <= ECHO_CHARS)
        .then(|| closest(name, names.iter().copied()))
        .flatten();
    let shown = clip(name);
    let err = match near {
        Some(near) => ApiError::field(
            path,
            format!("unknown {kind} '{shown}'; did you mean '{near}'? (see /api/gpus)"),
        )
        .with("did_you_mean", json!(near)),
        None => ApiError::field(path, format!("unknown {kind} '{shown}'; see /api/gpus")),
    };
    err.with("allowed", json!(names))
}

pub use calculator::limits::ECHO_CHARS;
pub use calculator::suggest::clip;

/// A value for an error message, cut to a sensible length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calculator::limits;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn error(e: ApiError) -> Value {
        Value::Object(e.body)
    }

    #[test]
    fn integers_within_their_range() {
        let map =
            fields(json!({"batch_size": 4, "num_gpus": 2.0, "lora_rank": 0, "zero_stage": null}));
        let f = Fields::new(&map, "");
        assert_eq!(f.uint(limits::BATCH_SIZE).unwrap(), Some(4));
        assert_eq!(f.uint(limits::NUM_GPUS).unwrap(), Some(2));
        assert_eq!(f.uint(limits::ZERO_STAGE).unwrap(), None);
        let e = error(f.uint(limits::LORA_RANK).unwrap_err());
        assert_eq!(e["field"], "lora_rank");
        assert_eq!(
            e["error"],
            format!(
                "lora_rank: must be an integer from 1 to {}, got 0",
                limits::MAX_LORA_RANK
            )
        );
        let e = error(f.required_uint(limits::SEQUENCE_LENGTH).unwrap_err());
        assert_eq!(
            e["error"],
            format!(
                "sequence_length: is required: an integer from 1 to {}",
                limits::MAX_SEQUENCE_LENGTH
            )
        );
    }

    #[test]
    fn errors_carry_the_prefix_and_cut_long_values() {
        let long = "x".repeat(100);
        let map = fields(json!({"batch_size": long}));
        let f = Fields::new(&map, "configurations[3].");
        let e = error(f.uint(limits::BATCH_SIZE).unwrap_err());
        assert_eq!(e["field"], "configurations[3].batch_size");
        assert!(e["error"]
            .as_str()
            .unwrap()
            .ends_with(&format!("got \"{}...", "x".repeat(39))));
    }

    #[test]
    fn booleans_texts_numbers_and_choices() {
        let map = fields(json!({"a": true, "b": "yes", "c": 1.5, "d": "GiB", "e": "TB"}));
        let f = Fields::new(&map, "");
        assert_eq!(f.boolean("a").unwrap(), Some(true));
        assert_eq!(
            error(f.boolean("b").unwrap_err())["error"],
            "b: must be true or false, got \"yes\""
        );
        assert_eq!(f.number("c", 0.0, 2.0).unwrap(), Some(1.5));
        assert!(f.number("c", 0.0, 1.0).is_err());
        assert_eq!(
            error(f.text("c").unwrap_err())["error"],
            "c: must be a string, got a number"
        );
        let parse = |t: &str| calculator::Unit::parse(t);
        assert_eq!(
            f.choice("d", parse, &["GB", "GiB"]).unwrap(),
            Some(calculator::Unit::Gib)
        );
        let e = error(f.choice("e", parse, &["GB", "GiB"]).unwrap_err());
        assert_eq!(e["allowed"], json!(["GB", "GiB"]));
        assert_eq!(e["error"], "e: unknown value 'TB'; allowed: GB, GiB");
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_closest_known() {
        let map = fields(json!({"precison": "fp16"}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["precision", "unit"], &[])
                .unwrap_err(),
        );
        assert_eq!(e["field"], "precison");
        assert_eq!(e["did_you_mean"], "precision");
        assert_eq!(e["known_fields"], json!(["precision", "unit"]));
        let map = fields(json!({"max_new_tokens": 5}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["unit"], &[("max_new_tokens", "/api/memory/inference")])
                .unwrap_err(),
        );
        assert_eq!(
            e["error"],
            "max_new_tokens: is not used here; it belongs to /api/memory/inference"
        );
        let map = fields(json!({"zzzzzz": 1}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["unit"], &[])
                .unwrap_err(),
        );
        assert_eq!(e["error"], "zzzzzz: unknown field");
        assert!(e.get("did_you_mean").is_none());
    }
}
