//! A safetensors file's header: 8 bytes of little-endian length, then a JSON object
//! naming every tensor with its dtype, shape and byte range `data_offsets`
//! (huggingface/safetensors@0034b77cb9403f7e498764de4a2a291d8bcbd9f1 `README.md`,
//! "Format"; the key as `safetensors/src/tensor.rs` writes it). Read with two range
//! requests, so a checkpoint's exact tensor count, parameter count and dtypes come
//! from the checkpoint itself.

use std::collections::BTreeMap;

use serde_json::Value;

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

impl TensorSummary {
    /// Values of every dtype.
    pub fn values(&self) -> u64 {
        self.values_by_dtype.values().sum()
    }

    /// Adds another file's tensors.
    pub fn add(&mut self, other: &TensorSummary) {
        self.tensors += other.tensors;
        self.tensor_bytes += other.tensor_bytes;
        for (dtype, n) in &other.values_by_dtype {
            *self.values_by_dtype.entry(dtype.clone()).or_default() += n;
        }
        for (suffix, n) in &other.values_by_suffix {
            *self.values_by_suffix.entry(suffix.clone()).or_default() += n;
        }
    }
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

/// Reads a header's JSON (the bytes after the length).
pub fn summarize(header: &[u8]) -> Result<TensorSummary, String> {
    let map: Value = serde_json::from_slice(header).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = map else {
        return Err("the header is not a JSON object".into());
    };
    let mut summary = TensorSummary::default();
    for (name, tensor) in map.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let bad = |what: &str| format!("tensor {name:?}: {what}");
        let dtype = tensor["dtype"].as_str().ok_or_else(|| bad("no dtype"))?;
        let shape = tensor["shape"]
            .as_array()
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .try_fold(1u64, |n, d| d.as_u64().and_then(|d| n.checked_mul(d)))
            .ok_or_else(|| bad("a shape that is not a list of sizes"))?;
        let range = tensor["data_offsets"]
            .as_array()
            .and_then(|r| Some((r.first()?.as_u64()?, r.get(1)?.as_u64()?)))
            .filter(|(start, end)| end >= start)
            .ok_or_else(|| bad("no data_offsets [start, end]"))?;
        let bytes = range.1 - range.0;
        if let Some(per) = dtype_bytes(dtype) {
            if shape.checked_mul(per) != Some(bytes) {
                return Err(bad(&format!("{bytes} bytes for {shape} values of {dtype}")));
            }
        }
        summary.tensors += 1;
        summary.tensor_bytes = summary
            .tensor_bytes
            .checked_add(bytes)
            .ok_or_else(|| bad("sizes overflow"))?;
        let entry = summary.values_by_dtype.entry(dtype.to_owned()).or_default();
        *entry = entry
            .checked_add(shape)
            .ok_or_else(|| bad("sizes overflow"))?;
        let suffix = name.rsplit('.').next().unwrap_or(name);
        let entry = summary
            .values_by_suffix
            .entry(suffix.to_owned())
            .or_default();
        *entry = entry
            .checked_add(shape)
            .ok_or_else(|| bad("sizes overflow"))?;
    }
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
}
