//! API errors: every failure becomes a 4xx JSON body naming the field and the problem.

use calculator::CalcError;
use lambda_http::http::header::{HeaderValue, ALLOW};
use lambda_http::{Body, Response};
use serde_json::{json, Map, Value};

use crate::json_response;

/// An error response: status, JSON body and, for 405, the `Allow` header.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (4xx; 500 only for a caught panic).
    pub status: u16,
    /// JSON object with at least `error`.
    pub body: Map<String, Value>,
    /// Methods for the `Allow` header of a 405.
    pub allow: Option<String>,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(message.into()));
        ApiError {
            status,
            body,
            allow: None,
        }
    }

    /// 400 for a field: the message is prefixed with the field path.
    pub fn field(field: &str, problem: impl AsRef<str>) -> ApiError {
        let mut e = ApiError::new(400, format!("{field}: {}", problem.as_ref()));
        e.body.insert("field".into(), Value::String(field.into()));
        e
    }

    /// 400 that is not about one field (malformed JSON, wrong body type).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// 404 for an unknown route.
    pub fn endpoint_not_found() -> ApiError {
        ApiError::new(404, "Endpoint not found")
    }

    /// 405 with the methods the path does accept.
    pub fn method_not_allowed(allowed: &[&str]) -> ApiError {
        let mut e = ApiError::new(405, "Method not allowed");
        e.allow = Some(allowed.join(", "));
        e.body.insert("allowed_methods".into(), json!(allowed));
        e
    }

    /// 413 for a body over the limit.
    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(413, format!("request body exceeds {} KiB", limit / 1024))
    }

    /// 404 for an unknown model in a path, with suggestions.
    pub fn model_not_found(name: &str, suggestions: &[String]) -> ApiError {
        let mut e = ApiError::new(404, format!("Model '{name}' not found"));
        e.body.insert("suggestions".into(), json!(suggestions));
        e
    }

    /// 500 for a bug (a caught panic); never expected.
    pub fn internal() -> ApiError {
        ApiError::new(500, "internal error")
    }

    /// Adds a key to the body (`allowed`, `did_you_mean`, ...).
    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.body.insert(key.into(), value);
        self
    }

    /// Maps a calculator error, placing field names under `prefix` (e.g.
    /// `configurations[2].`). An unknown model in a request body is a bad field
    /// (400), not a missing resource.
    pub fn from_calc(err: CalcError, prefix: &str) -> ApiError {
        match err {
            CalcError::InvalidField { field, message } => {
                ApiError::field(&format!("{prefix}{field}"), message)
            }
            CalcError::UnknownModel { name, suggestions } => ApiError::field(
                &format!("{prefix}model_name"),
                format!("Model '{name}' not found"),
            )
            .with("suggestions", json!(suggestions)),
            CalcError::TooLarge => ApiError::field(
                &format!("{prefix}batch_size"),
                "with this model and sequence length the memory exceeds 18.4 exabytes; lower batch_size or sequence_length",
            ),
        }
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status, &Value::Object(self.body));
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert(ALLOW, allow);
        }
        response
    }
}
