//! One module per endpoint: its route, its Lambda handler (the middleware around a
//! typed function) and that function, which the tests and the cost planner call
//! directly. The `$default` catch-all is `not_found`; the scheduled cost planner's
//! pure part is `cost_planner`.
//!
//! Adding an endpoint: a module here with its `ROUTE`, its line in [`ROUTES`], a binary
//! in `functions/src/bin/`, its resource in `template.yaml` and its router entries in
//! `Cargo.toml` (`docs/architecture.md`).

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
pub mod plan;

use crate::http::Route;

/// Every route except the `$default` catch-all answered by `not_found`.
pub const ROUTES: [Route; 10] = [
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
];
