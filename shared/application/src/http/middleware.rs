//! The middleware every handler runs in: the method check, the panic guard and the
//! request's log line.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use lambda_http::tracing;
use lambda_http::{Body, Request, Response};

use super::error::ApiError;
use super::logging::log_request;
use super::routes::Route;

/// Runs `handler` for `route`: answers 405 with the route's methods when the method is
/// not one of them (`*` accepts any; a `GET` route answers `HEAD` with the same status
/// and headers and no body; every path has one route, so the route's methods are the
/// path's), turns an [`ApiError`] into its response and a panic into a 500 JSON error
/// (a bug, logged), and logs one line per request.
pub fn respond(
    route: &Route,
    request: &Request,
    handler: impl FnOnce(&Request) -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let start = Instant::now();
    let method = request.method().as_str();
    let head = method == "HEAD" && route.method == "GET";
    let response = if route.method != "*" && method != route.method && !head {
        ApiError::method_not_allowed(&route.methods()).into_response()
    } else {
        match catch_unwind(AssertUnwindSafe(|| handler(request))) {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => error.into_response(),
            Err(_) => {
                tracing::error!(route = route.path, "handler panicked");
                ApiError::internal().into_response()
            }
        }
    };
    let response = if head {
        without_body(response)
    } else {
        response
    };
    log_request(route, request, &response, start.elapsed());
    response
}

/// The response to a `HEAD`: the `GET` answer's status and headers, no body.
pub fn without_body(response: Response<Body>) -> Response<Body> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::ok;
    use lambda_http::http::StatusCode;
    use serde_json::{json, Value};

    const HEALTH: Route = Route::new("GET", "/health", "health");

    fn request(method: &str) -> Request {
        let mut r = Request::new(Body::Empty);
        *r.method_mut() = method.parse().unwrap();
        *r.uri_mut() = "/health".parse().unwrap();
        r
    }

    fn json_body(r: &Response<Body>) -> Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => Value::Null,
        }
    }

    #[test]
    fn a_panic_is_a_json_500() {
        let r = respond(&HEALTH, &request("GET"), |_| panic!("deliberate"));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json_body(&r), json!({"error": "internal error"}));
    }

    #[test]
    fn errors_become_their_response() {
        let r = respond(&HEALTH, &request("GET"), |_| {
            Err(ApiError::field("x", "bad"))
        });
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_body(&r)["field"], "x");
    }

    #[test]
    fn other_methods_are_405_and_the_handler_does_not_run() {
        let r = respond(&HEALTH, &request("POST"), |_| panic!("must not run"));
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["allow"], "GET, HEAD");
        let r = respond(&HEALTH, &request("GET"), |_| Ok(ok(&json!({}))));
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn head_on_a_get_route_is_the_answer_without_its_body() {
        let r = respond(&HEALTH, &request("HEAD"), |_| Ok(ok(&json!({"a": 1}))));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(matches!(r.body(), Body::Empty));
    }
}
