//! Glue shared by every Lambda function of the API: the route table, JSON responses
//! and errors, request bodies and fields, request logging, and the request/response
//! mapping of the memory endpoints.
//!
//! Each function's `lib.rs` is a thin handler on top of this crate.

pub mod body;
pub mod error;
pub mod fields;
pub mod logging;
pub mod memory;
pub mod models;
pub mod routes;

pub use error::ApiError;
pub use logging::{init_tracing, respond};

use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::{Body, Response};
use serde_json::Value;

/// Name the service reports in `/health`.
pub const SERVICE_NAME: &str = "llm-memory-calculator";

/// Version the service reports in `/health` (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A JSON response with the given status.
pub fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    // Every status used by the API is a valid 3-digit code.
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `200 OK` JSON response.
pub fn ok(body: &Value) -> Response<Body> {
    json_response(200, body)
}

/// Starts the Lambda runtime for `handler`, with JSON logging set up first. Every
/// function's `main` is one call to this.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, lambda_http::Error>> + Send,
{
    init_tracing();
    lambda_http::run(lambda_http::service_fn(handler)).await
}

/// Helpers for the in-process handler tests of every function (feature `test-support`).
#[cfg(feature = "test-support")]
pub mod testing {
    use lambda_http::{Body, Request, Response};
    use serde_json::Value;
    use std::path::PathBuf;

    /// Folder of the API Gateway v2 event fixtures (`tests/events`).
    pub fn events_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/events")
    }

    /// Loads `tests/events/<name>.json` as a request, exactly as Lambda would.
    pub fn event(name: &str) -> Request {
        let path = events_dir().join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// Status and JSON body of a response.
    pub fn status_and_json(response: &Response<Body>) -> (u16, Value) {
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (response.status().as_u16(), json)
    }
}
