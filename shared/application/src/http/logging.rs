//! Logging: JSON lines to stdout, and the one line each request writes.

use std::time::Duration;

use lambda_http::request::RequestContext;
use lambda_http::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_http::tracing::{self, subscriber};
use lambda_http::{Body, Request, RequestExt, Response};

use super::routes::Route;

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

/// The request's line: route, function, method, path, status, latency and the API
/// Gateway request id.
pub fn log_request(route: &Route, request: &Request, response: &Response<Body>, took: Duration) {
    let request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.as_deref(),
        _ => None,
    };
    tracing::info!(
        route = format!("{} {}", route.method, route.path),
        function = route.function,
        method = request.method().as_str(),
        path = request.raw_http_path(),
        status = response.status().as_u16(),
        latency_ms = took.as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
}
