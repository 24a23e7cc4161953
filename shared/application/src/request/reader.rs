//! Reading the fields of a JSON request object through their rows of the field table:
//! the row gives the name, the type and the range or choices, and the one message for
//! a value out of range. Every error names the field by its full path
//! (`configurations[1].precision`) and says what is allowed.

use calculator::limits::{DecimalRange, FieldRange, ECHO_CHARS, ECHO_VALUE_CHARS};
use calculator::{as_integer, clip, closest_name, Choice};
use serde_json::{Map, Value};

use calculator::Unit;

use super::fields::{Field, Kind, UNIT};
use crate::http::{json_kind, ApiError};

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

    /// The path prefix (`""` or `configurations[3].`).
    pub fn prefix(&self) -> &str {
        self.prefix
    }

    /// Rejects any key not in `known`: a typo must not silently change a result. Keys
    /// that belong to another endpoint get a message saying which (`elsewhere`).
    pub fn reject_unknown(
        &self,
        known: &[&'static str],
        elsewhere: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<(), ApiError> {
        for key in self.map.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            if let Some(endpoint) = elsewhere(key) {
                return Err(ApiError::field(
                    &self.path(key),
                    format!("is not used here; it belongs to {endpoint}"),
                ));
            }
            // A key longer than any known one is not searched for a near name (the
            // search costs length squared) and is repeated only in part.
            let path = self.path(&clip(key));
            let near = (key.len() <= ECHO_CHARS)
                .then(|| closest_name(key, known.iter().copied()))
                .flatten();
            let err = match near {
                Some(near) => {
                    ApiError::field(&path, format!("unknown field; did you mean '{near}'?"))
                        .suggesting(near)
                }
                None => ApiError::field(&path, "unknown field"),
            };
            return Err(err.knowing(known));
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

    /// An integer field in its range. Integral floats (`2.0`) are accepted.
    pub fn uint(&self, field: &Field) -> Result<Option<u64>, ApiError> {
        self.uint_in(field.name, integer_range(field))
    }

    /// An integer under `key` in `range` (for nested objects' fields).
    pub fn uint_in(&self, key: &str, range: FieldRange) -> Result<Option<u64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match as_integer(value) {
            Some(n) if range.contains(n) => Ok(Some(n)),
            _ => Err(ApiError::field(
                &self.path(key),
                range.error(short(value)).message,
            )),
        }
    }

    /// A required integer field in its range.
    pub fn required_uint(&self, field: &Field) -> Result<u64, ApiError> {
        self.uint(field)?.ok_or_else(|| {
            ApiError::field(
                &self.path(field.name),
                integer_range(field).required().message,
            )
        })
    }

    /// A finite number field in its range.
    pub fn number(&self, field: &Field) -> Result<Option<f64>, ApiError> {
        match field.kind {
            Kind::Number(range) => self.number_in(field.name, range),
            _ => unreachable!("{} is not a number field", field.name),
        }
    }

    /// A number under `key` that `range` holds (for nested objects' fields too).
    pub fn number_in(&self, key: &str, range: impl DecimalRange) -> Result<Option<f64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(f) if range.contains(f) => Ok(Some(f)),
            _ => Err(ApiError::field(
                &self.path(key),
                range.error(&short(value)).message,
            )),
        }
    }

    /// A number field above its lower bound, at most its upper.
    pub fn fraction(&self, field: &Field) -> Result<Option<f64>, ApiError> {
        let Kind::Fraction(range) = field.kind else {
            unreachable!("{} is not a fraction field", field.name)
        };
        self.number_in(field.name, range)
    }

    /// `true` or `false`.
    pub fn boolean(&self, field: &Field) -> Result<Option<bool>, ApiError> {
        match self.get(field.name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ApiError::field(
                &self.path(field.name),
                format!("must be true or false, got {}", short(other)),
            )),
        }
    }

    /// `true`, `false` or one of the row's names, as the name's position (0 for the
    /// first name or `false`, 1 for the second or `true`).
    pub fn boolean_or_name(&self, field: &Field) -> Result<Option<bool>, ApiError> {
        let Kind::BooleanOr(names) = field.kind else {
            unreachable!("{} is not a boolean-or-name field", field.name)
        };
        match self.get(field.name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if position(names, s).is_some() => {
                Ok(Some(position(names, s) == Some(1)))
            }
            Some(_) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                let mut allowed = vec![Value::Bool(true), Value::Bool(false)];
                allowed.extend(names.iter().map(|n| Value::String((*n).into())));
                Err(ApiError::field(
                    &self.path(field.name),
                    format!("must be true, false, {}", quoted.join(" or ")),
                )
                .allowing(&allowed))
            }
        }
    }

    /// A string.
    pub fn text(&self, field: &Field) -> Result<Option<&'a str>, ApiError> {
        self.text_at(field.name)
    }

    /// A string under `key` (for nested objects' fields).
    pub fn text_at(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::field(
                &self.path(key),
                format!("must be a string, got {}", json_kind(other)),
            )),
        }
    }

    /// The `unit` field, `default` when absent.
    pub fn unit(&self, default: Unit) -> Result<Unit, ApiError> {
        Ok(self.choice::<Unit>(&UNIT)?.unwrap_or(default))
    }

    /// A choice field read by `T`'s [`Choice::parse`]; unknown values list the row's
    /// names.
    pub fn choice<T: Choice>(&self, field: &Field) -> Result<Option<T>, ApiError> {
        self.choice_with(field, T::parse)
    }

    /// A choice field read by `parse`; unknown values list the row's names.
    pub fn choice_with<T>(
        &self,
        field: &Field,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        let Some(text) = self.text(field)? else {
            return Ok(None);
        };
        let allowed = field.choices().unwrap_or_default();
        parse(text).map(Some).ok_or_else(|| {
            ApiError::field(
                &self.path(field.name),
                format!(
                    "unknown value '{}'; allowed: {}",
                    clip(text),
                    allowed.join(", ")
                ),
            )
            .allowing(&allowed)
        })
    }
}

/// Overrides a default with the value the request gave, if any.
pub(crate) fn set<T>(slot: &mut T, given: Option<T>) {
    if let Some(v) = given {
        *slot = v;
    }
}

fn integer_range(field: &Field) -> FieldRange {
    field
        .range()
        .unwrap_or_else(|| unreachable!("{} is not an integer field", field.name))
}

/// The position of `text` among `names`, ignoring case.
fn position(names: &[&str], text: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(text))
}

/// A 400 for a name that is not among `names` (a GPU, an instance type), with the
/// closest one and every one; `kind` says what was looked up.
pub fn unknown_name(path: &str, kind: &str, name: &str, names: &[&str]) -> ApiError {
    // A name longer than any known one is not searched (the search costs length
    // squared) and is repeated only in part.
    let near = (name.len() <= ECHO_CHARS)
        .then(|| closest_name(name, names.iter().copied()))
        .flatten();
    let shown = clip(name);
    let err = match near {
        Some(near) => ApiError::field(
            path,
            format!("unknown {kind} '{shown}'; did you mean '{near}'? (see /api/gpus)"),
        )
        .suggesting(near),
        None => ApiError::field(path, format!("unknown {kind} '{shown}'; see /api/gpus")),
    };
    err.allowing(names)
}

/// A value for an error message, cut to a sensible length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > ECHO_VALUE_CHARS {
        format!(
            "{}...",
            text.chars().take(ECHO_VALUE_CHARS).collect::<String>()
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::fields::{
        BATCH_SIZE, GRADIENT_CHECKPOINTING, LORA_RANK, NUM_GPUS, SEQUENCE_LENGTH, UNIT,
        USE_FLASH_ATTENTION, ZERO_STAGE,
    };
    use calculator::{limits, Unit};
    use serde_json::json;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn error(e: ApiError) -> Value {
        serde_json::to_value(e.body).unwrap()
    }

    #[test]
    fn integers_within_their_range() {
        let map =
            fields(json!({"batch_size": 4, "num_gpus": 2.0, "lora_rank": 0, "zero_stage": null}));
        let f = Fields::new(&map, "");
        assert_eq!(f.uint(&BATCH_SIZE).unwrap(), Some(4));
        assert_eq!(f.uint(&NUM_GPUS).unwrap(), Some(2));
        assert_eq!(f.uint(&ZERO_STAGE).unwrap(), None);
        let e = error(f.uint(&LORA_RANK).unwrap_err());
        assert_eq!(e["field"], "lora_rank");
        assert_eq!(
            e["error"],
            format!(
                "lora_rank: must be an integer from 1 to {}, got 0",
                limits::MAX_LORA_RANK
            )
        );
        let e = error(f.required_uint(&SEQUENCE_LENGTH).unwrap_err());
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
        let e = error(f.uint(&BATCH_SIZE).unwrap_err());
        assert_eq!(e["field"], "configurations[3].batch_size");
        assert!(e["error"]
            .as_str()
            .unwrap()
            .ends_with(&format!("got \"{}...", "x".repeat(39))));
    }

    #[test]
    fn booleans_texts_and_choices() {
        let map = fields(
            json!({"use_flash_attention": "yes", "unit": "GiB", "gradient_checkpointing": "FULL"}),
        );
        let f = Fields::new(&map, "");
        assert_eq!(
            error(f.boolean(&USE_FLASH_ATTENTION).unwrap_err())["error"],
            "use_flash_attention: must be true or false, got \"yes\""
        );
        assert_eq!(f.choice::<Unit>(&UNIT).unwrap(), Some(Unit::Gib));
        assert_eq!(
            f.boolean_or_name(&GRADIENT_CHECKPOINTING).unwrap(),
            Some(true)
        );
        let map = fields(json!({"unit": "TB", "gradient_checkpointing": 1}));
        let f = Fields::new(&map, "");
        let e = error(f.choice::<Unit>(&UNIT).unwrap_err());
        assert_eq!(e["allowed"], json!(["GB", "GiB", "MB", "MiB"]));
        assert_eq!(
            e["error"],
            "unit: unknown value 'TB'; allowed: GB, GiB, MB, MiB"
        );
        let e = error(f.boolean_or_name(&GRADIENT_CHECKPOINTING).unwrap_err());
        assert_eq!(
            e["error"],
            "gradient_checkpointing: must be true, false, \"none\" or \"full\""
        );
        assert_eq!(e["allowed"], json!([true, false, "none", "full"]));
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_closest_known() {
        let map = fields(json!({"precison": "fp16"}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["precision", "unit"], |_| None)
                .unwrap_err(),
        );
        assert_eq!(e["field"], "precison");
        assert_eq!(e["did_you_mean"], "precision");
        assert_eq!(e["known_fields"], json!(["precision", "unit"]));
        let map = fields(json!({"max_new_tokens": 5}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["unit"], |k| {
                    (k == "max_new_tokens").then_some("/api/memory/inference")
                })
                .unwrap_err(),
        );
        assert_eq!(
            e["error"],
            "max_new_tokens: is not used here; it belongs to /api/memory/inference"
        );
        let map = fields(json!({"zzzzzz": 1}));
        let e = error(
            Fields::new(&map, "")
                .reject_unknown(&["unit"], |_| None)
                .unwrap_err(),
        );
        assert_eq!(e["error"], "zzzzzz: unknown field");
        assert!(e.get("did_you_mean").is_none());
    }
}
