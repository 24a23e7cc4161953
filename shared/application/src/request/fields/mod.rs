//! The request fields, one row each: the name, the endpoints that take it, its type
//! with its range or choices, its default and a one-line doc. The parser reads every
//! field through its row; `/api/config/options` lists the defaults from here; tests
//! hold the OpenAPI request schemas and the README's tables against this table.
//!
//! The rows are in the order the API documents the fields, which is the order each
//! endpoint lists them in (`known_fields`) and reads them in (the first bad one is
//! the one named). Ranges are `calculator::limits`'; defaults are the calculator's
//! request constructors' (`InferenceRequest::new`, `TrainingRequest::new`). The rows
//! themselves are data, in `rows`.

mod rows;
mod types;

pub use rows::*;
pub use types::{Default, Endpoint, Field, Kind, Role};

use super::calculation::Calculation;

/// Every field `endpoint` takes, in documented order.
pub fn fields_of(endpoint: Endpoint) -> Vec<&'static Field> {
    match endpoint {
        Endpoint::Compare => COMPARE_FIELDS.to_vec(),
        _ => FIELDS
            .into_iter()
            .chain([&UNIT])
            .filter(|f| f.on(endpoint))
            .collect(),
    }
}

/// The names of [`fields_of`].
pub fn names_of(endpoint: Endpoint) -> Vec<&'static str> {
    fields_of(endpoint).iter().map(|f| f.name).collect()
}

/// The field named `name`, if any.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS
        .iter()
        .chain(&COMPARE_FIELDS)
        .copied()
        .find(|f| f.name == name)
}

/// The fields a plan of `calc` accepts: the memory endpoint's, less those a plan sets
/// itself, then the plan's own (`gpu_memory_utilization` is both an inference field and
/// a plan field).
pub fn plan_fields(calc: Calculation) -> Vec<&'static str> {
    fields_of(Endpoint::of(calc))
        .into_iter()
        .filter(|f| f.set_by_plan.is_none())
        .chain(PLAN_FIELDS)
        .map(|f| f.name)
        .collect()
}
