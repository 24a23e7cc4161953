//! The HTTP application of the API: everything between a Lambda event and the
//! calculator and planner.
//!
//! - `http`: routes, the middleware every handler runs in, request bodies, errors,
//!   JSON responses, the request log line;
//! - `request`: the field table and the typed requests read through it;
//! - `response`: the typed answers;
//! - [`endpoint`]: one module per endpoint (its route, handler and typed function),
//!   and the scheduled cost planner's report.
//!
//! Each Lambda binary (`functions/src/bin/<name>.rs`) is one call of [`serve`] with an
//! endpoint's handler. Imports point one way: endpoint → request, response → http;
//! the application → planner → calculator.

pub mod endpoint;
mod http;
mod request;
mod response;

pub use http::{
    allowed_methods, canonical, init_tracing, json_object, json_response, matches, ok,
    path_model_name, respond, without_body, ApiError, ErrorBody, Route,
};
pub use request::fields::{self, Default, Endpoint, Field, Kind, Role};
pub use request::hub as hub_models;
pub use request::{read_memory, read_plan, Calculation, Fields, MemoryRequest, PlanInput};
pub use response::{
    ArchitectureView, CandidateView, CatalogAnswer, InferenceAnswer, MemoryAnswer, Notes,
    ParametersView, PerformanceAnswer, PlanAnswer, PlanModel, PricesView, ServingFigures,
    TrainingAnswer, VllmView, Warnings,
};

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
