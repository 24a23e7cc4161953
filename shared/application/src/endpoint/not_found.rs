//! The `$default` route: what API Gateway sends when no route matches. A known path
//! with trailing slashes is a 308 to the path without them; `HEAD` on a `GET` route is
//! that route's answer without a body (API Gateway routes `HEAD` here); another method
//! on a known path is a 405 with `Allow`; anything else a 404.

use calculator::resolve_name;
use lambda_http::http::header::LOCATION;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde_json::json;

use super::{get_model, ROUTES};
use crate::http::{
    allowed_methods, canonical, json_response, matches, path_model_name, respond, without_body,
    ApiError, Route,
};

/// The `$default` route: anything no other route matches.
pub const ROUTE: Route = Route::new("*", "$default", "not-found");

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |request| {
        let path = request.raw_http_path();
        if let Some(to) = canonical(&ROUTES, path) {
            return Ok(redirect(to, request.uri().query()));
        }
        let allowed = allowed_methods(&ROUTES, path);
        if request.method() == "HEAD" && allowed.contains(&"GET") {
            return Ok(head(request));
        }
        Err(if allowed.is_empty() {
            ApiError::endpoint_not_found()
        } else {
            ApiError::method_not_allowed(&allowed)
        })
    }))
}

/// 308 Permanent Redirect to the canonical path (the method and body are kept by
/// clients, unlike 301), with a JSON body saying where.
fn redirect(to: &str, query: Option<&str>) -> Response<Body> {
    let location = match query {
        Some(q) if !q.is_empty() => format!("{to}?{q}"),
        _ => to.to_owned(),
    };
    let mut response = json_response(
        StatusCode::PERMANENT_REDIRECT,
        &json!({"message": format!("the path is {to}, without the trailing slash"), "location": location}),
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `HEAD` on a `GET` route: the status the `GET` would answer and the JSON content
/// type, no body. Every `GET` route answers 200, except `/api/models/{model_name}` for
/// a model the registry does not know (404).
fn head(request: &Request) -> Response<Body> {
    let status = if matches(get_model::ROUTE.path, request.raw_http_path())
        && resolve_name(&path_model_name(request)).is_err()
    {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    without_body(json_response(status, &json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{check_response, event, expected_for, raw_event};

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
        let response = handler(event("not-found-method")).await.unwrap();
        assert_eq!(response.headers()["allow"], "GET, HEAD");
    }

    /// The not-found fixture with another method and path.
    async fn call(method: &str, path: &str) -> Response<Body> {
        let mut raw = raw_event("not-found");
        raw["rawPath"] = path.into();
        raw["requestContext"]["http"]["method"] = method.into();
        raw["requestContext"]["http"]["path"] = path.into();
        handler(lambda_http::request::from_str(&raw.to_string()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_trailing_slash_redirects_whatever_the_method() {
        for (method, path, to) in [
            ("POST", "/api/memory/inference/", "/api/memory/inference"),
            ("GET", "/api/models/Qwen3-8B/", "/api/models/Qwen3-8B"),
            ("GET", "/health//", "/health"),
        ] {
            let r = call(method, path).await;
            assert_eq!(r.status(), 308, "{method} {path}");
            assert_eq!(r.headers()["location"], to);
        }
        // Not a known path once trimmed: 404, never a 405 naming the method used.
        assert_eq!(call("GET", "/api/nothing/").await.status(), 404);
    }

    #[tokio::test]
    async fn head_answers_as_get_would_without_a_body() {
        for (path, status) in [
            ("/health", 200),
            ("/api/models/Qwen3-8B", 200),
            ("/api/models/Qwen%2FQwen3-8B", 200),
            ("/api/models/Nope", 404),
        ] {
            let r = call("HEAD", path).await;
            assert_eq!(r.status(), status, "{path}");
            assert!(matches!(r.body(), Body::Empty), "{path}");
        }
        let r = call("HEAD", "/api/plan").await;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "POST");
    }
}
