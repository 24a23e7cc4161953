//! Reading a JSON request body.

use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use calculator::json::{parse_strict, JsonError};
use calculator::limits::MAX_BODY_BYTES;

use super::error::ApiError;

/// The body as a JSON object: 413 when too large, 400 when empty, not JSON, not an
/// object, or with a key given twice in one object (named by its path).
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(request);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is required: a JSON object",
        ));
    }
    let value = parse_strict(bytes).map_err(|e| match e {
        JsonError::DuplicateKey(path) => ApiError::field(
            &path,
            "is given twice in one object; give each key once (JSON readers differ on which one wins)",
        ),
        JsonError::Syntax(e) => ApiError::bad_request(format!("Malformed JSON: {e}")),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_request(format!(
            "request body must be a JSON object, not {}",
            json_kind(&other)
        ))),
    }
}

/// The body's bytes (none for an empty or unknown body kind).
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // Any future body kind is treated as absent.
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// Name of a JSON value's type, for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
