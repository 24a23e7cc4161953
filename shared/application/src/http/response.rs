//! JSON responses.

use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::Value;

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `200 OK` JSON response of a typed answer. It goes through a JSON value, whose
/// objects keep their keys sorted: every answer lists its keys in the same order
/// whatever the struct's field order.
pub fn ok<T: Serialize + ?Sized>(body: &T) -> Response<Body> {
    match serde_json::to_value(body) {
        Ok(value) => json_response(StatusCode::OK, &value),
        // Only a map with non-string keys fails to serialize; no answer has one.
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({"error": "internal error"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_with_status_and_content_type() {
        let r = json_response(StatusCode::NOT_FOUND, &json!({"error": "x"}));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert!(matches!(r.body(), Body::Text(t) if t == r#"{"error":"x"}"#));
        assert_eq!(ok(&json!({})).status(), StatusCode::OK);
    }
}
