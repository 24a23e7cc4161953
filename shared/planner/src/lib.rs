//! Capacity and cost planning: which GPU instances hold a workload, how it is split
//! over their GPUs, how much traffic it then holds, and what it costs.
//!
//! Pure like the calculator (no I/O, no clock, no AWS), and built on it: every memory
//! figure is the calculator's; the planner only chooses settings (tensor-parallel
//! degree, data-parallel width, the GPU's memory and kernels) and compares.
//!
//! ```
//! use calculator::{Bytes, Engine, InferenceRequest, RegistryEntry, Unit, VllmSettings};
//! use planner::{plan, Catalog, Constraints, PlanRequest, Workload};
//! let model = &RegistryEntry::lookup("Qwen3-0.6B").unwrap().model;
//! let mut req = InferenceRequest::new(1, 4096);
//! req.engine = Engine::Vllm(VllmSettings::new(Bytes(0)));
//! let request = PlanRequest {
//!     workload: Workload::Inference(req),
//!     constraints: Constraints {
//!         gpus: vec![],
//!         instance_types: vec![],
//!         max_gpus: None,
//!         gpu_memory_utilization: 0.9,
//!         concurrent_sequences: None,
//!         search: false,
//!     },
//!     custom_gpus: vec![],
//!     traffic: None,
//!     unit: Unit::Gb,
//! };
//! let plan = plan(model, &request, Catalog::embedded()).unwrap();
//! assert!(plan.cheapest().is_some());
//! ```
//!
//! The modules are private (but `performance`, whose parts the validation fits); the
//! list below is the crate's interface. Methodology: `docs/methodology.md` §10 (the
//! vLLM engine), §11 (planning) and §12 (serving performance).

mod catalog;
mod kernels;
pub mod performance;
mod plan;
mod prices;
mod typed;

pub use catalog::{
    Catalog, ComputeCapability, Gpu, Instance, Interconnect, LinkKind, MemorySource, Platform,
    PriceSource, EMBEDDED_PRICES,
};
pub use kernels::{weight_support, Support};
pub use plan::{
    plan, usd_per_million, Candidate, CandidateServing, Constraints, CustomGpu, Estimate, Excluded,
    Parallelism, Plan, PlanRequest, PlanTraffic, Searched, Workload, MAX_NODES, SEARCH_ORDER,
    TENSOR_PARALLEL_DEGREES,
};
pub use prices::{cents, usd_per_month, PriceList, HOURS_PER_MONTH};
pub use typed::Matched;
