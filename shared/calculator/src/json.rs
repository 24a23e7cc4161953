//! JSON read strictly: a key given twice in one object is an error naming it (by its
//! path), where `serde_json::Value` would silently keep the last, and `-0.0` reads as
//! `0.0`, so that no answer prints a negative zero. Every document a caller sends (a
//! request body, a price list) is read this way.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a document could not be read.
#[derive(Debug)]
pub enum JsonError {
    /// Not JSON (serde_json's message, with line and column).
    Syntax(String),
    /// A key given twice in one object: its path (`workloads[1].batch_size`).
    DuplicateKey(String),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax(e) => f.write_str(e),
            JsonError::DuplicateKey(path) => write!(f, "the key '{path}' is given twice"),
        }
    }
}

impl std::error::Error for JsonError {}

/// One step of the path to a value.
enum Step {
    Key(String),
    Index(usize),
}

/// The path of the key found twice, built innermost step first as the error travels
/// back out of the nested objects (nothing is recorded while reading succeeds).
#[derive(Default)]
struct Trail {
    duplicate: RefCell<Option<Vec<Step>>>,
}

impl Trail {
    /// Adds `step` to the duplicate's path as the error leaves the value it names.
    fn outward<'a, E>(&'a self, step: impl FnOnce() -> Step + 'a) -> impl FnOnce(E) -> E + 'a {
        move |e| {
            if let Some(path) = self.duplicate.borrow_mut().as_mut() {
                path.push(step());
            }
            e
        }
    }

    /// The duplicate's path (`a.b[2].key`), cut for echoing.
    fn path(steps: Vec<Step>) -> String {
        let mut out = String::new();
        for step in steps.into_iter().rev() {
            match step {
                Step::Key(k) if out.is_empty() => out.push_str(&k),
                Step::Key(k) => {
                    out.push('.');
                    out.push_str(&k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        crate::clip(&out)
    }
}

/// A value read strictly, with the trail that locates it.
#[derive(Clone, Copy)]
struct Strict<'t>(&'t Trail);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // -0.0 == 0.0: the sign of a zero is dropped here, once for every reader.
        let v = if v == 0.0 { 0.0 } else { v };
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let at = out.len();
            match seq
                .next_element_seed(self)
                .map_err(self.0.outward(|| Step::Index(at)))?
            {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let message = format!("the key '{}' is given twice", crate::clip(&key));
                *self.0.duplicate.borrow_mut() = Some(vec![Step::Key(key)]);
                return Err(de::Error::custom(message));
            }
            let value = map
                .next_value_seed(self)
                .map_err(self.0.outward(|| Step::Key(key.clone())))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Reads `bytes` as one JSON document, strictly (see the module's documentation).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let trail = Trail::default();
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let read = Strict(&trail)
        .deserialize(&mut reader)
        .and_then(|v| reader.end().map(|()| v));
    match read {
        Ok(v) => Ok(v),
        Err(e) => Err(match trail.duplicate.take() {
            Some(steps) => JsonError::DuplicateKey(Trail::path(steps)),
            None => JsonError::Syntax(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Result<Value, JsonError> {
        parse_strict(text.as_bytes())
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            read(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_key_given_twice_is_named_by_its_path() {
        let e = |t: &str| match read(t) {
            Err(JsonError::DuplicateKey(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(e(r#"{"batch_size": 1, "batch_size": 2}"#), "batch_size");
        assert_eq!(
            e(r#"{"w": [{"a": 1}, {"n": {"k": 1, "k": 2}}]}"#),
            "w[1].n.k"
        );
        // The same key in different objects is not a duplicate.
        assert!(read(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
        // A long key is cut in the path.
        let long = "k".repeat(10_000);
        let p = e(&format!(r#"{{"{long}": 1, "{long}": 2}}"#));
        assert!(p.len() < 100, "{}", p.len());
    }

    #[test]
    fn negative_zero_reads_as_zero() {
        let v = read(r#"{"p": -0.0, "q": -0, "r": -1e-400}"#).unwrap();
        // serde_json reads `-0` as a float too, to keep its sign.
        assert_eq!(v, json!({"p": 0.0, "q": 0.0, "r": 0.0}));
        assert!(v["p"].as_f64().unwrap().is_sign_positive());
        assert!(v["r"].as_f64().unwrap().is_sign_positive());
    }

    #[test]
    fn syntax_errors_and_trailing_text_are_refused() {
        for bad in ["{", "{\"a\": 1} x", "[1,]", "", "{\"a\" 1}"] {
            assert!(matches!(read(bad), Err(JsonError::Syntax(_))), "{bad}");
        }
        // serde_json's nesting limit still holds.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(read(&deep), Err(JsonError::Syntax(_))));
    }
}
