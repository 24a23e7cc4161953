//! One module per endpoint: its route, its Lambda handler (the middleware around a
//! typed function) and that function, which the tests and the cost planner call
//! directly. The `$default` catch-all is `not_found`; the scheduled cost planner's
//! pure part is `cost_planner`.
//!
//! Adding an endpoint: a module here with its `ROUTE`, its lines in [`ROUTES`] and
//! [`call`], a binary in `functions/src/bin/`, its resources in `template.yaml` and its
//! router entries in `Cargo.toml` (`docs/architecture.md`).

pub mod config_options;
pub mod cost_planner;
pub mod get_model;
pub mod health;
pub mod list_gpus;
pub mod list_models;
pub mod memory_compare;
pub mod memory_inference;
pub mod memory_training;
pub mod not_found;
pub mod openapi;
pub mod performance;
pub mod plan;
pub mod web;

use lambda_http::{Body, Error, Request, Response};

use crate::http::Route;

/// Every route except the `$default` catch-all answered by `not_found`.
pub const ROUTES: [Route; 12] = [
    health::ROUTE,
    list_models::ROUTE,
    get_model::ROUTE,
    memory_inference::ROUTE,
    memory_training::ROUTE,
    memory_compare::ROUTE,
    config_options::ROUTE,
    plan::ROUTE,
    list_gpus::ROUTE,
    openapi::ROUTE,
    performance::ROUTE,
    web::ROUTE,
];

/// The handler of the function named `function` (`ROUTE.function`, the binary's name)
/// run on `event`, as its Lambda binary would run it; `None` for a name no endpoint
/// has. The fixture and end-to-end tests reach every endpoint through this.
pub async fn call(function: &str, event: Request) -> Option<Result<Response<Body>, Error>> {
    Some(match function {
        "health" => health::handler(event).await,
        "list-models" => list_models::handler(event).await,
        "get-model" => get_model::handler(event).await,
        "memory-inference" => memory_inference::handler(event).await,
        "memory-training" => memory_training::handler(event).await,
        "memory-compare" => memory_compare::handler(event).await,
        "config-options" => config_options::handler(event).await,
        "plan" => plan::handler(event).await,
        "list-gpus" => list_gpus::handler(event).await,
        "openapi" => openapi::handler(event).await,
        "performance" => performance::handler(event).await,
        "web" => web::handler(event).await,
        "not-found" => not_found::handler(event).await,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_route_can_be_called_by_its_function_name() {
        for route in ROUTES.iter().chain([&not_found::ROUTE]) {
            let answer = call(route.function, Request::default()).await;
            assert!(answer.is_some_and(|r| r.is_ok()), "{}", route.function);
        }
        assert!(call("no-such-function", Request::default()).await.is_none());
    }
}
