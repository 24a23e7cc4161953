//! `GET /api/openapi.json`: the API's OpenAPI 3.1 contract (`docs/openapi.yaml`,
//! converted to JSON when the function is built).

use std::sync::LazyLock;

use lambda_http::{Body, Error, Request, Response};
use serde_json::Value;

use crate::http::{ok, respond, Route};

/// `GET /api/openapi.json`.
pub const ROUTE: Route = Route::new("GET", "/api/openapi.json", "openapi");

const DOCUMENT_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    // Written by build.rs from a parsed document: valid JSON by construction.
    serde_json::from_str(DOCUMENT_JSON).expect("build.rs writes JSON")
});

/// The OpenAPI document.
pub fn document() -> &'static Value {
    &DOCUMENT
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| Ok(ok(document()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{check_response, event, expected_for, status_and_json};

    #[tokio::test]
    async fn serves_the_document() {
        let (status, body) = status_and_json(&handler(event("openapi")).await.unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["openapi"], "3.1.0");
        assert!(body["paths"]["/api/plan"]["post"].is_object());
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
