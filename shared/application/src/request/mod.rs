//! Reading requests: the field table (`fields`), reading a JSON object through it
//! (`reader`), and the typed requests each endpoint builds from its fields: the model
//! (`model`), the workloads (`inference`, `training`, with the engine settings in
//! `engine`), a plan (`plan`) and a compare (`compare`).

mod calculation;
mod compare;
mod engine;
pub mod fields;
pub mod hub;
mod inference;
mod model;
mod performance;
mod plan;
mod reader;
mod traffic;
mod training;

pub use calculation::Calculation;
pub use compare::read_compare;
pub use engine::Context;
pub(crate) use model::hub_model;
pub use model::Resolved;
pub use performance::{read_performance, PerformanceInput};
pub use plan::{read_plan, PlanInput};
pub use reader::Fields;

use calculator::{InferenceRequest, TrainingRequest, Unit};
use serde_json::{Map, Value};

use crate::http::ApiError;
use fields::Endpoint;

/// A memory request as read: the model, the workload and the answer's unit.
pub struct MemoryRequest {
    /// The model and how it was named.
    pub resolved: Resolved,
    /// The workload.
    pub workload: Workload,
    /// The unit of the answer's strings.
    pub unit: Unit,
}

/// The workload of a memory request.
pub enum Workload {
    /// Serving.
    Inference(InferenceRequest),
    /// Training.
    Training(TrainingRequest),
}

/// Refuses a field `endpoint` does not take: an unknown one with the endpoint's
/// fields, one of another endpoint with where it belongs.
pub(crate) fn only_fields_of(f: &Fields, endpoint: Endpoint) -> Result<(), ApiError> {
    f.reject_unknown(&fields::names_of(endpoint), |key| {
        fields::field(key)
            .filter(|field| !field.on(endpoint))
            .and_then(|field| field.belongs)
    })
}

/// Reads one memory request object of `calc`: unknown fields refused (with a pointer
/// to the endpoint a field belongs to), then the model, the unit and the workload, in
/// the order the API documents them. `prefix` places field names in errors (`""` or
/// `configurations[3].`); `default_unit` applies when the object has no `unit`.
pub fn read_memory(
    calc: Calculation,
    map: &Map<String, Value>,
    prefix: &str,
    default_unit: Unit,
) -> Result<MemoryRequest, ApiError> {
    let f = Fields::new(map, prefix);
    only_fields_of(&f, Endpoint::of(calc))?;
    let mut resolved = model::resolve(&f)?;
    let unit = f.unit(default_unit)?;
    let workload = match calc {
        Calculation::Inference => Workload::Inference(InferenceRequest {
            unit,
            ..inference::read(&f, Context::Memory, None)?
        }),
        Calculation::Training => Workload::Training(training::read(&f)?),
    };
    if let Some(typed) = f.get(fields::GPU.name).and_then(Value::as_str) {
        resolved
            .notes
            .extend(engine::gpu_read_as(typed, planner::Catalog::embedded()));
    }
    Ok(MemoryRequest {
        resolved,
        workload,
        unit,
    })
}
