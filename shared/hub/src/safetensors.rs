//! A safetensors file's header: 8 bytes of little-endian length, then a JSON object
//! naming every tensor with its dtype, shape and byte range `data_offsets`
//! (huggingface/safetensors@0034b77cb9403f7e498764de4a2a291d8bcbd9f1 `README.md`,
//! "Format"; the key as `safetensors/src/tensor.rs` writes it). Read with two range
//! requests, so a checkpoint's exact tensor count, parameter count and dtypes come
//! from the checkpoint itself.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// What the headers of a checkpoint's files add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TensorSummary {
    /// Tensors stored.
    pub tensors: u64,
    /// Values stored (the product of each tensor's shape), by the header's dtype name
    /// (`BF16`, `F8_E4M3`, `I32`, ...). Packed formats count stored values: an AWQ
    /// `qweight` of I32 holds eight 4-bit weights per value.
    pub values_by_dtype: BTreeMap<String, u64>,
    /// Values stored by the last part of the tensor's name (`weight`, `bias`,
    /// `qweight`, `scales`, `weight_scale_inv`, ...), which tells weights from the
    /// quantization's scales and zero points.
    pub values_by_suffix: BTreeMap<String, u64>,
    /// Bytes of tensor data (the sum of each tensor's byte range).
    pub tensor_bytes: u64,
}

/// `a + b`, or a message when the sum overflows (only crafted headers get there).
fn sum(a: u64, b: u64) -> Result<u64, String> {
    a.checked_add(b)
        .ok_or_else(|| "sizes that overflow 64 bits".to_owned())
}

fn add_to(map: &mut BTreeMap<String, u64>, key: &str, n: u64) -> Result<(), String> {
    match map.get_mut(key) {
        Some(v) => *v = sum(*v, n)?,
        None => {
            map.insert(key.to_owned(), n);
        }
    }
    Ok(())
}

impl TensorSummary {
    /// Values of every dtype (saturating: the parts are checked sums).
    pub fn values(&self) -> u64 {
        self.values_by_dtype
            .values()
            .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Adds another file's tensors; an error when a total would overflow.
    pub fn add(&mut self, other: &TensorSummary) -> Result<(), String> {
        self.tensors = sum(self.tensors, other.tensors)?;
        self.tensor_bytes = sum(self.tensor_bytes, other.tensor_bytes)?;
        for (dtype, n) in &other.values_by_dtype {
            add_to(&mut self.values_by_dtype, dtype, *n)?;
        }
        for (suffix, n) in &other.values_by_suffix {
            add_to(&mut self.values_by_suffix, suffix, *n)?;
        }
        Ok(())
    }

    /// Counts one tensor.
    fn count(&mut self, name: &str, tensor: &Tensor) -> Result<(), String> {
        let bad = |what: String| format!("tensor {name:?}: {what}");
        let values = tensor
            .shape
            .iter()
            .try_fold(1u64, |n, d| n.checked_mul(*d))
            .ok_or_else(|| bad("a shape whose size overflows".into()))?;
        let (start, end) = tensor.data_offsets;
        let bytes = end
            .checked_sub(start)
            .ok_or_else(|| bad("data_offsets [start, end] with end before start".into()))?;
        if let Some(per) = dtype_bytes(&tensor.dtype) {
            if values.checked_mul(per) != Some(bytes) {
                return Err(bad(format!(
                    "{bytes} bytes for {values} values of {}",
                    tensor.dtype
                )));
            }
        }
        self.tensors = sum(self.tensors, 1)?;
        self.tensor_bytes = sum(self.tensor_bytes, bytes).map_err(bad)?;
        add_to(&mut self.values_by_dtype, &tensor.dtype, values).map_err(bad)?;
        let suffix = name.rsplit('.').next().unwrap_or(name);
        add_to(&mut self.values_by_suffix, suffix, values).map_err(bad)
    }
}

/// The Hub's own count of a checkpoint's safetensors values: its model API's
/// `safetensors` property (`GET /api/models/{id}/revision/{revision}?expand=safetensors`,
/// `{"parameters": {dtype: values}, "total": values}`, the fields huggingface_hub's
/// `SafeTensorsInfo` reads: huggingface/huggingface_hub@ee0a4510f4bc15e26cb722be2efc2bdb01383ca0
/// `src/huggingface_hub/hf_api.py`). Read on the endpoint's own host when the files'
/// headers cannot be: every tensor's values, by dtype, with no names, so scales and
/// packed integers are counted as they are stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubCount {
    /// Values stored, by safetensors dtype name.
    pub values_by_dtype: BTreeMap<String, u64>,
    /// Values stored in all (the Hub's `total`).
    pub total: u64,
}

/// Reads the model API's answer: `Ok(None)` when it has no `safetensors` property (a
/// repository whose files the Hub did not count), an error when the property is not
/// the Hub's shape or its parts do not add up to its total.
pub fn hub_count(body: &[u8]) -> Result<Option<HubCount>, String> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(default)]
        safetensors: Option<Counted>,
    }
    #[derive(Deserialize)]
    struct Counted {
        parameters: BTreeMap<String, u64>,
        total: u64,
    }
    let info: Info = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(counted) = info.safetensors else {
        return Ok(None);
    };
    let sum = counted
        .parameters
        .values()
        .try_fold(0u64, |a, b| a.checked_add(*b));
    if sum != Some(counted.total) {
        return Err(format!(
            "its values by dtype add up to {}, not its total {}",
            sum.map_or_else(|| "more than 64 bits hold".to_owned(), |s| s.to_string()),
            counted.total
        ));
    }
    Ok(Some(HubCount {
        values_by_dtype: counted.parameters,
        total: counted.total,
    }))
}

/// The header length the first 8 bytes state.
pub fn header_length(prefix: &[u8]) -> Result<u64, String> {
    let bytes: [u8; 8] = prefix
        .try_into()
        .map_err(|_| format!("expected 8 bytes of header length, got {}", prefix.len()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Bytes per value of a safetensors dtype name; `None` for sub-byte and unknown ones,
/// whose byte ranges are then not checked.
fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "F8_E4M3" | "F8_E5M2" | "F8_E8M0" | "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

/// One tensor's entry in a header.
#[derive(Deserialize)]
struct Tensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Sums a header's tensors as the JSON is read: no tensor is kept, so memory does not
/// grow with the header.
struct Summing;

impl<'de> Visitor<'de> for Summing {
    type Value = TensorSummary;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensors")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TensorSummary, A::Error> {
        let mut summary = TensorSummary::default();
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let tensor = map
                .next_value::<Tensor>()
                .map_err(|e| serde::de::Error::custom(format!("tensor {name:?}: {e}")))?;
            summary
                .count(&name, &tensor)
                .map_err(serde::de::Error::custom)?;
        }
        Ok(summary)
    }
}

/// Reads a header's JSON (the bytes after the length).
pub fn summarize(header: &[u8]) -> Result<TensorSummary, String> {
    let mut reader = serde_json::Deserializer::from_slice(header);
    let summary = reader.deserialize_map(Summing).map_err(|e| e.to_string())?;
    reader.end().map_err(|e| e.to_string())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_sum_their_tensors() {
        let header = br#"{"__metadata__":{"format":"pt"},
            "a":{"dtype":"BF16","shape":[4,8],"data_offsets":[0,64]},
            "b":{"dtype":"F32","shape":[8],"data_offsets":[64,96]},
            "s":{"dtype":"BF16","shape":[],"data_offsets":[96,98]}}"#;
        let s = summarize(header).unwrap();
        assert_eq!(s.tensors, 3);
        assert_eq!(s.values(), 32 + 8 + 1);
        assert_eq!(s.values_by_dtype["BF16"], 33);
        assert_eq!(s.tensor_bytes, 98);
        assert_eq!(s.values_by_suffix["a"], 32);
        assert_eq!(header_length(&98u64.to_le_bytes()).unwrap(), 98);
    }

    #[test]
    fn inconsistent_headers_are_refused() {
        for bad in [
            &br#"[1]"#[..],
            br#"{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,7]}}"#,
            br#"{"a":{"dtype":"BF16","shape":[-1],"data_offsets":[0,2]}}"#,
            br#"{"a":{"dtype":"BF16","shape":[2],"data_offsets":[4,0]}}"#,
            br#"{"a":{"shape":[2],"data_offsets":[0,4]}}"#,
            br#"{"a":{"dtype":"BF16","shape":[4294967296,4294967296,16],"data_offsets":[0,2]}}"#,
            b"not json",
        ] {
            assert!(summarize(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(header_length(b"short").is_err());
    }

    #[test]
    fn the_hubs_count_adds_up() {
        let body = br#"{"_id":"x","id":"o/n","safetensors":{"parameters":{"BF16":10,"F32":2},"total":12}}"#;
        let count = hub_count(body).unwrap().unwrap();
        assert_eq!(count.total, 12);
        assert_eq!(count.values_by_dtype["F32"], 2);
        assert_eq!(hub_count(br#"{"id":"o/n"}"#).unwrap(), None);
        for bad in [
            &br#"{"safetensors":{"parameters":{"BF16":10},"total":12}}"#[..],
            br#"{"safetensors":{"parameters":{"BF16":-1},"total":-1}}"#,
            br#"{"safetensors":{"total":12}}"#,
            br#"{"safetensors":{"parameters":{"A":18446744073709551615,"B":1},"total":0}}"#,
            b"not json",
        ] {
            assert!(hub_count(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
