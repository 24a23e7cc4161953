//! Typed answers: every endpoint's response is a struct here (or in its endpoint
//! module), serialized with serde. Memory is written in one place (`shown`): as
//! strings in the answer's unit and as exact bytes; warnings as sentences with their
//! stable codes.

mod catalog;
mod memory;
mod model;
mod performance;
mod plan;
pub(crate) mod shown;

pub use catalog::CatalogAnswer;
pub use memory::{InferenceAnswer, MemoryAnswer, TrainingAnswer, VllmView};
pub use model::{ArchitectureView, ParametersView};
pub use performance::PerformanceAnswer;
pub use plan::{CandidateView, PlanAnswer, PlanModel, PricesView, ServingFigures};
pub use shown::{Notes, Warnings};
