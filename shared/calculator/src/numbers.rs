//! Reading numbers out of JSON the way every request and config field is read.

use serde_json::Value;

/// A non-negative integer: a JSON integer, or a float with no fractional part (`2.0`,
/// as some tools write integers). `None` for anything else, negative numbers included.
pub fn as_integer(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_and_integral_floats() {
        assert_eq!(as_integer(&json!(7)), Some(7));
        assert_eq!(as_integer(&json!(7.0)), Some(7));
        assert_eq!(as_integer(&json!(u64::MAX)), Some(u64::MAX));
        assert_eq!(as_integer(&json!(7.5)), None);
        assert_eq!(as_integer(&json!(-1)), None);
        assert_eq!(as_integer(&json!(-1.0)), None);
        assert_eq!(as_integer(&json!(1e300)), None);
        assert_eq!(as_integer(&json!("7")), None);
        assert_eq!(as_integer(&json!(null)), None);
    }
}
