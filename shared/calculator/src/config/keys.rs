//! Typed access to the keys of one `config.json` object. Every error names the key by
//! its full path (`config.text_config.hidden_size`).

use serde_json::{Map, Value};

use crate::error::CalcError;
use crate::numbers::as_integer;

/// The keys of one config object and the path used in errors.
pub(crate) struct Keys<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Keys<'a> {
        Keys { map, prefix }
    }

    /// `prefix.key`, for errors.
    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }

    /// The first of `names` present with a non-null value.
    pub(crate) fn find(&self, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        names
            .iter()
            .find_map(|n| self.map.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
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

    /// A list of layer indices below `layers` (`mlp_only_layers`); empty when absent.
    pub(crate) fn index_list(
        &self,
        name: &'static str,
        layers: u64,
    ) -> Result<Vec<u64>, CalcError> {
        let Some((_, value)) = self.find(&[name]) else {
            return Ok(Vec::new());
        };
        value
            .as_array()
            .and_then(|list| {
                list.iter()
                    .map(|v| v.as_u64().filter(|i| *i < layers))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                CalcError::field(
                    self.path(name),
                    format!("must be a list of layer indices below {layers}"),
                )
            })
    }
}
