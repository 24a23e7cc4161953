//! Logging setup and the per-request wrapper every handler goes through: method check,
//! panic guard, and one JSON log line per request (route, status, latency).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_http::tracing::{self, subscriber};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::routes::{allowed_methods, Route};
use crate::ApiError;

/// JSON logs to stdout. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// advanced logging controls), else `RUST_LOG`, else `INFO`. Safe to call twice.
pub fn init_tracing() {
    let directive = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace("fatal", "error");
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directive);
    let _ = subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}

/// Runs `handler` for `route`: answers 405 when the method is not the route's (`*`
/// accepts any), turns an [`ApiError`] into its response and a panic into a 500, and
/// logs one line with route, method, path, status and latency.
pub fn respond(
    route: &Route,
    request: &Request,
    handler: impl FnOnce(&Request) -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let start = Instant::now();
    let method = request.method().as_str();
    let path = request.raw_http_path();
    let response = if route.method != "*" && method != route.method {
        let allowed = allowed_methods(path);
        let allowed = if allowed.is_empty() {
            vec![route.method]
        } else {
            allowed
        };
        ApiError::method_not_allowed(&allowed).into_response()
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
    let request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.as_deref(),
        _ => None,
    };
    tracing::info!(
        route = format!("{} {}", route.method, route.path),
        function = route.function,
        method,
        path,
        status = response.status().as_u16(),
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}
