//! `GET /api/openapi.json`: the API's OpenAPI 3.1 contract (`docs/openapi.yaml`,
//! converted to JSON when the function is built).

use std::sync::LazyLock;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response};
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

/// Longest host name DNS allows, with a port.
const MAX_HOST_CHARS: usize = 253 + 6;

/// The origin a request was sent to (`https://abc.execute-api.us-east-1.amazonaws.com`,
/// `http://localhost:9000`): the `Host` header (API Gateway passes the stage's domain
/// or the custom domain), the scheme API Gateway forwards (`X-Forwarded-Proto`), else
/// `http`. `None` when the host is not a plain host name or address with a port.
fn origin(request: &Request) -> Option<String> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let host = header("host").filter(|h| {
        !h.is_empty()
            && h.len() <= MAX_HOST_CHARS
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    })?;
    let scheme = match header("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    Some(format!(
        "{scheme}://{}{}",
        host.to_ascii_lowercase(),
        stage_prefix(request)
    ))
}

/// `/<stage>` when API Gateway served the request from a named stage (its URLs carry
/// the stage's name), empty for the `$default` stage and outside API Gateway. A custom
/// domain's base-path mapping is not in the event, so a client behind one must add it.
fn stage_prefix(request: &Request) -> String {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.stage.clone(),
        _ => None,
    };
    match stage {
        Some(s)
            if s != "$default"
                && !s.is_empty()
                && s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) =>
        {
            format!("/{s}")
        }
        _ => String::new(),
    }
}

/// The document as served to `request`: its `servers` is where it was requested
/// from, so that a client generated from it calls the same deployment.
fn served(request: &Request) -> Value {
    let mut doc = document().clone();
    if let Some(origin) = origin(request) {
        doc["servers"] = serde_json::json!([{
            "url": origin,
            "description": "the deployment that served this document",
        }]);
    }
    doc
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |r| Ok(ok(&served(r)))))
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
    async fn servers_is_where_the_document_was_requested_from() {
        let with = |host: &str, proto: Option<&str>| {
            let mut raw = testkit::fixtures::raw_event("openapi");
            raw["headers"]["host"] = Value::from(host);
            match proto {
                Some(p) => raw["headers"]["x-forwarded-proto"] = Value::from(p),
                None => {
                    raw["headers"]
                        .as_object_mut()
                        .unwrap()
                        .remove("x-forwarded-proto");
                }
            }
            lambda_http::request::from_str(&raw.to_string()).unwrap()
        };
        let servers = |req| async move {
            let (_, body) = status_and_json(&handler(req).await.unwrap());
            body["servers"].clone()
        };
        let deployed = servers(with(
            "abc123.execute-api.us-east-1.amazonaws.com",
            Some("https"),
        ))
        .await;
        assert_eq!(
            deployed[0]["url"],
            "https://abc123.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(deployed.as_array().unwrap().len(), 1);
        // A named stage is part of the URL.
        let mut raw = testkit::fixtures::raw_event("openapi");
        raw["headers"]["host"] = Value::from("abc123.execute-api.us-east-1.amazonaws.com");
        raw["headers"]["x-forwarded-proto"] = Value::from("https");
        raw["requestContext"]["stage"] = Value::from("prod");
        let staged = servers(lambda_http::request::from_str(&raw.to_string()).unwrap()).await;
        assert_eq!(
            staged[0]["url"],
            "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
        );
        let local = servers(with("localhost:9000", None)).await;
        assert_eq!(local[0]["url"], "http://localhost:9000");
        // A host that is not one keeps the document's own servers.
        for bad in [
            "evil.com/path?x=",
            "a b",
            "\"><script>",
            &"h".repeat(300),
            "",
        ] {
            let mut req = Request::new(Body::Empty);
            req.headers_mut().insert(
                "host",
                lambda_http::http::HeaderValue::from_str(bad).unwrap(),
            );
            assert_eq!(origin(&req), None, "{bad}");
        }
        assert_eq!(origin(&Request::new(Body::Empty)), None);
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
