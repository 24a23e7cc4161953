//! Glue shared by every Lambda function of the API: the route table, the middleware
//! every handler runs in, JSON responses and errors, request bodies and fields, and the
//! memory endpoints' request parsing and answers.
//!
//! Each function's `lib.rs` is a thin handler on top of this crate.

pub mod body;
pub mod error;
pub mod fields;
pub mod gpus;
pub mod logging;
pub mod memory;
pub mod middleware;
pub mod models;
pub mod plan;
pub mod response;
pub mod routes;
#[cfg(feature = "test-support")]
pub mod testing;

pub use error::ApiError;
pub use logging::init_tracing;
pub use middleware::respond;
pub use response::{json_response, ok};

use lambda_http::{Body, Response};

/// Name the service reports in `/health`.
pub const SERVICE_NAME: &str = "llm-memory-calculator";

/// Version the service reports in `/health` (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Starts the Lambda runtime for `handler`, with JSON logging set up first. Every
/// function's `main` is one call to this. It honours `AWS_LAMBDA_MAX_CONCURRENCY`
/// (Lambda Managed Instances, and `cargo lambda watch`, which sets it to 1): above 1
/// it handles that many requests at once, else one at a time.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(lambda_http::Request) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'static,
{
    init_tracing();
    lambda_http::run_concurrent(lambda_http::service_fn(handler)).await
}
