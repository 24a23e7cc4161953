//! API errors: every failure becomes a 4xx JSON body naming the field and the problem.

use calculator::{clip, limits, CalcError, RangeError};
use lambda_http::http::header::{HeaderValue, ALLOW};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::Value;

use super::response::json_response;

/// The JSON body of an error: the message, and what helps to fix it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorBody {
    /// What went wrong; a field error starts with the field's path.
    pub error: String,
    /// The request field at fault, by its full path (`configurations[1].precision`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The values the field accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
    /// The closest known name to the one given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    /// Every field the endpoint accepts (for an unknown field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_fields: Option<Vec<&'static str>>,
    /// Registry names close to an unknown model's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<String>>,
    /// The methods the path accepts (a 405).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_methods: Option<Vec<&'static str>>,
}

/// An error response: status, JSON body and, for 405, the `Allow` header.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (4xx; 500 only for a caught panic).
    pub status: StatusCode,
    /// The body (boxed: errors travel in `Result`s, which stay small).
    pub body: Box<ErrorBody>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: message.into(),
                ..ErrorBody::default()
            }),
        }
    }

    /// 400 for a field: the message is prefixed with the field path.
    pub fn field(field: &str, problem: impl AsRef<str>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{field}: {}", problem.as_ref()),
        );
        e.body.field = Some(field.into());
        e
    }

    /// A field error with another status than 400: the Hub's refusals (403, 404) and
    /// failures (502, 504) about the model a field names.
    pub fn field_with_status(
        status: StatusCode,
        field: &str,
        problem: impl AsRef<str>,
    ) -> ApiError {
        let mut e = ApiError::field(field, problem);
        e.status = status;
        e
    }

    /// 400 for a value out of its range, the field under `prefix`.
    pub fn range(prefix: &str, e: RangeError) -> ApiError {
        ApiError::field(&format!("{prefix}{}", e.field), e.message)
    }

    /// 400 that is not about one field (malformed JSON, wrong body type).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 for an unknown route.
    pub fn endpoint_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Endpoint not found")
    }

    /// 405 with the methods the path does accept.
    pub fn method_not_allowed(allowed: &[&'static str]) -> ApiError {
        let mut e = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
        e.body.allowed_methods = Some(allowed.to_vec());
        e
    }

    /// 413 for a body over the limit.
    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {} KiB", limit / 1024),
        )
    }

    /// 404 for an unknown model, with suggestions. A long name is cut in the message.
    pub fn model_not_found(name: &str, suggestions: &[String]) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Model '{}' not found", clip(name)),
        );
        e.body.suggestions = Some(suggestions.to_vec());
        e
    }

    /// 500 for a bug (a caught panic); never expected.
    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The same error, saying which values the field accepts.
    pub fn allowing<T: Serialize>(mut self, allowed: &[T]) -> ApiError {
        self.body.allowed = Some(
            allowed
                .iter()
                .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
                .collect(),
        );
        self
    }

    /// The same error, with the closest known name.
    pub fn suggesting(mut self, near: &str) -> ApiError {
        self.body.did_you_mean = Some(near.to_owned());
        self
    }

    /// The same error, listing the fields the endpoint knows.
    pub fn knowing(mut self, known: &[&'static str]) -> ApiError {
        self.body.known_fields = Some(known.to_vec());
        self
    }

    /// Maps a calculator error, placing field names under `prefix` (e.g.
    /// `configurations[2].`). An unknown model is a 404 wherever it is named, as the
    /// old service answered (`{"error": "Model 'X' not found"}`), with the field and
    /// suggestions. Weights too large for any answer are blamed on `model_field`, the
    /// field that named the model.
    pub fn from_calc(err: CalcError, prefix: &str, model_field: &str) -> ApiError {
        match err {
            CalcError::InvalidField { field, message } => {
                ApiError::field(&format!("{prefix}{field}"), message)
            }
            CalcError::UnknownModel { name, suggestions } => {
                let mut e = ApiError::model_not_found(&name, &suggestions);
                e.body.field = Some(format!("{prefix}model_name"));
                e
            }
            CalcError::TooLarge => ApiError::field(
                &format!("{prefix}batch_size"),
                format!(
                    "the weights fit, but with this batch_size and sequence_length the memory per GPU exceeds {}; lower batch_size or sequence_length",
                    limits::LARGEST_REPORTABLE
                ),
            ),
            CalcError::WeightsTooLarge => ApiError::field(
                &format!("{prefix}{model_field}"),
                format!(
                    "the model's weights alone take more than {} per GPU; no batch or sequence length changes that",
                    limits::LARGEST_REPORTABLE
                ),
            ),
        }
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response<Body> {
        let allow = self.body.allowed_methods.as_ref().map(|m| m.join(", "));
        let body = serde_json::to_value(&self.body).unwrap_or(Value::Null);
        let mut response = json_response(self.status, &body);
        if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert(ALLOW, allow);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(e: &ApiError) -> Value {
        serde_json::to_value(&e.body).unwrap()
    }

    #[test]
    fn field_errors_name_the_field_in_message_and_key() {
        let e = ApiError::field("configurations[1].precision", "unknown value 'x'");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body(&e),
            json!({"error": "configurations[1].precision: unknown value 'x'", "field": "configurations[1].precision"})
        );
    }

    #[test]
    fn calculator_errors_keep_their_prefix() {
        let e = ApiError::from_calc(
            CalcError::field("config.hidden_size", "is required"),
            "configurations[0].",
            "config",
        );
        assert_eq!(
            e.body.field.as_deref(),
            Some("configurations[0].config.hidden_size")
        );
        // The old service's contract: an unknown model is a 404 wherever it is named.
        let e = ApiError::from_calc(
            CalcError::UnknownModel {
                name: "Qwen3-7B".into(),
                suggestions: vec!["Qwen3-8B".into()],
            },
            "configurations[1].",
            "model_name",
        );
        assert_eq!(
            (e.status, body(&e)),
            (
                StatusCode::NOT_FOUND,
                json!({"error": "Model 'Qwen3-7B' not found", "field": "configurations[1].model_name", "suggestions": ["Qwen3-8B"]})
            )
        );
        let e = ApiError::from_calc(CalcError::TooLarge, "", "config");
        assert_eq!(e.body.field.as_deref(), Some("batch_size"));
        assert!(e.body.error.contains(limits::LARGEST_REPORTABLE));
        let e = ApiError::from_calc(CalcError::WeightsTooLarge, "", "config");
        assert_eq!(e.body.field.as_deref(), Some("config"));
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let r = ApiError::method_not_allowed(&["GET", "HEAD"]).into_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD");
    }

    #[test]
    fn statuses() {
        assert_eq!(
            ApiError::payload_too_large(256 * 1024).status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            ApiError::payload_too_large(256 * 1024).body.error,
            "request body exceeds 256 KiB"
        );
        assert_eq!(ApiError::endpoint_not_found().status, StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::model_not_found("x", &[]).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::internal().status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
