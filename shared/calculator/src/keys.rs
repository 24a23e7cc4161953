//! Typed access to the keys of one `config.json` object, and the keys every family
//! reads ([`Common`]). Every error names the key by its full path
//! (`config.text_config.hidden_size`). The families' readers and the config reader
//! both build on it.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::CalcError;
use crate::limits;
use crate::numbers::as_integer;
use crate::warning::{Warning, WarningCode};

/// The keys every family reads, in the units of the config (features, layers, heads,
/// tokens).
pub(crate) struct Common {
    pub hidden: u64,
    pub layers: u64,
    pub heads: u64,
    /// `attention_bias`, when the config states it (families differ in the default).
    pub attention_bias: Option<bool>,
    /// `num_key_value_heads` / `num_kv_heads`, when stated.
    pub kv_heads: Option<u64>,
    /// `sliding_window`, when stated.
    pub sliding_window: Option<u64>,
    /// `max_position_embeddings` (or its GPT-2 / Qwen-1 names), when stated.
    pub max_positions: Option<u64>,
}

/// A nested config object and the path that names it in errors.
pub(crate) type Nested<'a> = (&'a Map<String, Value>, String);

/// The keys of one config object and the path used in errors, with every name a
/// reader looked for (to spot a key one typo away from one of them).
pub(crate) struct Keys<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
    looked_up: RefCell<BTreeSet<&'static str>>,
}

/// Whether `a` and `b` differ by exactly one inserted, deleted or replaced character
/// (O(length)).
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 || a == b {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

impl<'a> Keys<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Keys<'a> {
        Keys {
            map,
            prefix,
            looked_up: RefCell::new(BTreeSet::new()),
        }
    }

    /// Warnings for keys the readers never looked for that are one typo away from a
    /// key they did: `num_key_value_head` would otherwise silently mean full
    /// multi-head attention. Keys longer than 64 characters are not compared.
    pub(crate) fn typo_warnings(&self) -> Vec<Warning> {
        let looked_up = self.looked_up.borrow();
        self.map
            .keys()
            .filter(|k| k.len() <= limits::MAX_TYPO_KEY_CHARS && !looked_up.contains(k.as_str()))
            .filter_map(|k| {
                let near = looked_up.iter().find(|n| one_edit_apart(k, n))?;
                Some(Warning::new(WarningCode::ConfigKeyTypo, format!(
                    "{}: not a key this calculator reads; did you mean {near}? It was left at its default",
                    self.path(k)
                )))
            })
            .collect()
    }

    /// `prefix.key`, for errors.
    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }

    /// The first of `names` present with a non-null value.
    pub(crate) fn find(&self, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        self.looked_up.borrow_mut().extend(names);
        names
            .iter()
            .find_map(|n| self.map.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
    }

    /// A nested object (`linear_attn_config`, `vision_config`) and its path, for a
    /// [`Keys`] of its own; `None` when absent.
    pub(crate) fn object(&self, name: &'static str) -> Result<Option<Nested<'a>>, CalcError> {
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(None);
        };
        let path = self.path(name);
        match value.as_object() {
            Some(map) => Ok(Some((map, path))),
            None => Err(CalcError::field(path, "must be a JSON object")),
        }
    }

    /// An integer in `min..=max`, under the first present name.
    pub(crate) fn uint(
        &self,
        names: &[&'static str],
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, CalcError> {
        let Some((name, value)) = self.find(names) else {
            return Ok(None);
        };
        let n = as_integer(value)
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                CalcError::field(
                    self.path(name),
                    format!("must be an integer from {min} to {max}"),
                )
            })?;
        Ok(Some(n))
    }

    /// An integer in `min..=max` under the first present name, or `default`.
    pub(crate) fn uint_or(
        &self,
        names: &[&'static str],
        min: u64,
        max: u64,
        default: u64,
    ) -> Result<u64, CalcError> {
        Ok(self.uint(names, min, max)?.unwrap_or(default))
    }

    /// A required integer in `min..=max`; a missing one is named by its first name.
    pub(crate) fn required(
        &self,
        names: &[&'static str],
        min: u64,
        max: u64,
    ) -> Result<u64, CalcError> {
        self.uint(names, min, max)?
            .ok_or_else(|| CalcError::field(self.path(names[0]), "is required"))
    }

    /// `true` or `false`.
    pub(crate) fn flag(&self, name: &'static str) -> Result<Option<bool>, CalcError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| CalcError::field(self.path(name), "must be true or false")),
        }
    }

    /// A string.
    pub(crate) fn text(&self, name: &'static str) -> Result<Option<&'a str>, CalcError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| CalcError::field(self.path(name), "must be a string")),
        }
    }

    /// `layer_types` as one string per layer; `None` when the key is absent.
    pub(crate) fn layer_types(&self, layers: u64) -> Result<Option<Vec<&'a str>>, CalcError> {
        self.layer_types_under("layer_types", layers)
    }

    /// A list of one string per layer under `name`; `None` when the key is absent.
    pub(crate) fn layer_types_under(
        &self,
        name: &'static str,
        layers: u64,
    ) -> Result<Option<Vec<&'a str>>, CalcError> {
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(None);
        };
        let bad = || {
            CalcError::field(
                self.path(name),
                format!("must be a list of {layers} strings, one per layer"),
            )
        };
        let list = value
            .as_array()
            .filter(|l| l.len() as u64 == layers)
            .ok_or_else(bad)?;
        list.iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<Vec<&str>, CalcError>>()
            .map(Some)
    }

    /// `layer_types`: how many layers attend through a local window
    /// (`sliding_attention` or `chunked_attention`); `None` when the key is absent.
    pub(crate) fn sliding_layer_types(&self, layers: u64) -> Result<Option<u64>, CalcError> {
        let Some((_, value)) = self.find(&["layer_types"]) else {
            return Ok(None);
        };
        let list = value.as_array().ok_or_else(|| {
            CalcError::field(self.path("layer_types"), "must be a list of strings")
        })?;
        if list.len() as u64 != layers {
            return Err(CalcError::field(
                self.path("layer_types"),
                format!("has {} entries for {} layers", list.len(), layers),
            ));
        }
        let mut sliding = 0;
        for item in list {
            match item.as_str() {
                Some("sliding_attention") | Some("chunked_attention") => sliding += 1,
                Some(_) => {}
                None => {
                    return Err(CalcError::field(
                        self.path("layer_types"),
                        "must be a list of strings",
                    ))
                }
            }
        }
        Ok(Some(sliding))
    }

    /// One 0/1 flag per layer (`no_rope_layers`); `None` when absent.
    pub(crate) fn flag_list(
        &self,
        name: &'static str,
        layers: u64,
    ) -> Result<Option<Vec<bool>>, CalcError> {
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(None);
        };
        let bad = || {
            CalcError::field(
                self.path(name),
                format!("must be a list of {layers} flags (0 or 1), one per layer"),
            )
        };
        let list = value
            .as_array()
            .filter(|l| l.len() as u64 == layers)
            .ok_or_else(bad)?;
        list.iter()
            .map(|v| match v.as_u64() {
                Some(0) => Ok(false),
                Some(1) => Ok(true),
                _ => v.as_bool().ok_or_else(bad),
            })
            .collect::<Result<Vec<bool>, CalcError>>()
            .map(Some)
    }

    /// A set of layer indices below `layers` (`mlp_only_layers`), as one flag per layer
    /// (looked up in O(1)); all false when absent. The list may not be longer than the
    /// model has layers, so reading it costs at most `layers` steps.
    pub(crate) fn index_list(
        &self,
        name: &'static str,
        layers: u64,
    ) -> Result<Vec<bool>, CalcError> {
        let mut set = vec![false; layers as usize];
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(set);
        };
        let bad = || {
            CalcError::field(
                self.path(name),
                format!("must be a list of at most {layers} layer indices below {layers}"),
            )
        };
        let list = value
            .as_array()
            .filter(|l| l.len() as u64 <= layers)
            .ok_or_else(bad)?;
        for v in list {
            let i = v.as_u64().filter(|i| *i < layers).ok_or_else(bad)?;
            set[i as usize] = true;
        }
        Ok(set)
    }
}
