//! The plan's answer: the request as resolved, one row per candidate (its split,
//! memory, capacity and price), what was left out, and the prices' provenance.

use calculator::{Choice, Unit, Warning};
use planner::{usd_per_month, Candidate, Estimate, Parallelism, Plan, Workload, HOURS_PER_MONTH};
use serde::Serialize;
use serde_json::{Map, Value};

use super::memory::VllmView;
use super::shown::{signed, Notes, Warnings};
use crate::request::PlanInput;

/// The plan request as resolved, for the answer's `parameters`.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct PlanParameters {
    #[serde(flatten)]
    echo: Map<String, Value>,
    mode: &'static str,
    gpus: Vec<String>,
    instance_types: Vec<String>,
    max_gpus: Option<u64>,
    gpu_memory_utilization: f64,
    concurrent_sequences: Option<u64>,
    unit: &'static str,
    #[serde(flatten)]
    workload: WorkloadParameters,
}

/// The workload fields a plan's answer repeats.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum WorkloadParameters {
    Inference {
        engine: &'static str,
        batch_size: u64,
        sequence_length: u64,
        max_new_tokens: u64,
    },
    Training {
        method: &'static str,
        batch_size: u64,
        sequence_length: u64,
        zero_stage: u8,
    },
}

/// How a candidate splits the workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum Split {
    /// Inference: replicas of a tensor-parallel group.
    Tensor {
        tensor_parallel: u64,
        replicas: u64,
        concurrent_sequences: Option<u64>,
    },
    /// Training: data parallel with a framework.
    Data {
        data_parallel: u64,
        framework: &'static str,
        zero_stage: u8,
    },
}

/// A candidate's memory per GPU, by component.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum CandidateMemory {
    Inference {
        model_weights: u64,
        kv_cache: u64,
        activation_memory: u64,
        runtime_overhead: u64,
    },
    Training {
        model_weights: u64,
        gradients_memory: u64,
        optimizer_memory: u64,
        activation_memory: u64,
        runtime_overhead: u64,
    },
}

/// One candidate row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateView {
    /// The instance type, `None` for GPUs without one.
    pub instance: Option<String>,
    /// The GPU.
    pub gpu: String,
    /// GPUs in the candidate.
    pub gpu_count: u64,
    /// Whether the workload fits.
    pub fits: bool,
    memory_per_gpu: String,
    memory_per_gpu_bytes: u64,
    usable_memory_per_gpu: String,
    usable_memory_per_gpu_bytes: u64,
    headroom_per_gpu: String,
    headroom_per_gpu_bytes: i64,
    max_batch_size: Option<u64>,
    max_sequence_length: Option<u64>,
    /// USD per hour.
    pub usd_per_hour: Option<f64>,
    /// USD per month of 730 hours, to the cent.
    pub usd_per_month: Option<f64>,
    missing: Option<String>,
    #[serde(flatten)]
    notes: Notes,
    #[serde(flatten)]
    split: Split,
    memory_bytes: CandidateMemory,
    #[serde(skip_serializing_if = "Option::is_none")]
    vllm: Option<VllmView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kv_cache_tokens: Option<u64>,
    #[serde(flatten)]
    warnings: Warnings,
    mem_bandwidth_gbps: Option<f64>,
}

impl CandidateView {
    /// The row of `c` in `unit`, its warnings less those every candidate shares.
    fn new(c: &Candidate, unit: Unit, shared: &[Warning]) -> CandidateView {
        let per_gpu = c.memory_per_gpu();
        let headroom = c.usable_memory.0 as i128 - per_gpu.0 as i128;
        let split = match c.parallelism {
            Parallelism::Tensor {
                tensor_parallel,
                replicas,
            } => Split::Tensor {
                tensor_parallel,
                replicas,
                concurrent_sequences: c.concurrent_sequences,
            },
            Parallelism::Data {
                gpus,
                framework,
                zero_stage,
            } => Split::Data {
                data_parallel: gpus,
                framework: framework.name(),
                zero_stage,
            },
        };
        let memory_bytes = match &c.estimate {
            Estimate::Inference(e) => CandidateMemory::Inference {
                model_weights: e.model_weights.0,
                kv_cache: e.kv_cache.0,
                activation_memory: e.activation_memory.0,
                runtime_overhead: e.runtime_overhead.0,
            },
            Estimate::Training(e) => CandidateMemory::Training {
                model_weights: e.model_weights.0,
                gradients_memory: e.gradients_memory.0,
                optimizer_memory: e.optimizer_memory.0,
                activation_memory: e.activation_memory.0,
                runtime_overhead: e.runtime_overhead.0,
            },
        };
        let vllm = c.estimate.vllm();
        CandidateView {
            instance: c.instance.clone(),
            gpu: c.gpu.clone(),
            gpu_count: c.gpu_count,
            fits: c.fits,
            memory_per_gpu: per_gpu.format(unit),
            memory_per_gpu_bytes: per_gpu.0,
            usable_memory_per_gpu: c.usable_memory.format(unit),
            usable_memory_per_gpu_bytes: c.usable_memory.0,
            headroom_per_gpu: signed(headroom, unit),
            headroom_per_gpu_bytes: headroom as i64,
            max_batch_size: c.max_batch_size,
            max_sequence_length: c.max_sequence_length,
            usd_per_hour: c.usd_per_hour,
            usd_per_month: c.usd_per_hour.map(usd_per_month),
            missing: c.missing.clone(),
            notes: Notes::of(&c.notes),
            split,
            memory_bytes,
            vllm: vllm.map(|v| VllmView::new(v, unit)),
            kv_cache_tokens: vllm.map(|v| v.kv_cache_tokens),
            warnings: Warnings::of(warnings(c).iter().filter(|w| !shared.contains(w))),
            mem_bandwidth_gbps: c.bandwidth_gbps,
        }
    }
}

/// A GPU or instance left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct ExcludedView {
    gpu: String,
    instance: Option<String>,
    reason: String,
}

/// The prices a plan used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PricesView {
    /// Their date.
    pub as_of: String,
    /// Their region.
    pub region: String,
    /// Where they come from.
    pub source: String,
    /// Hours in the month the monthly prices are for.
    pub hours_per_month: f64,
}

/// The model a plan is for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanModel {
    /// Its name; `None` for a model given by config or explicit fields.
    pub name: Option<String>,
    /// `registry`, `config` or `explicit`.
    pub source: &'static str,
}

/// The answer of `POST /api/plan`, and of each workload of the scheduled report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanAnswer {
    /// `inference` or `training`.
    pub mode: &'static str,
    /// The model.
    pub model: PlanModel,
    parameters: PlanParameters,
    /// One sentence: the cheapest fit, or what the closest candidate lacks.
    pub summary: String,
    /// The cheapest fitting candidate.
    pub cheapest: Option<CandidateView>,
    /// Every candidate, fitting ones first, cheapest first.
    pub candidates: Vec<CandidateView>,
    excluded: Vec<ExcludedView>,
    /// The prices used.
    pub prices: PricesView,
    #[serde(flatten)]
    warnings: Warnings,
}

impl PlanAnswer {
    /// The answer to `input`, planned as `plan`.
    pub fn new(input: &PlanInput, plan: &Plan) -> PlanAnswer {
        let unit = input.unit;
        // Warnings every candidate shares (about the model and its checkpoint) are said
        // once, at the top; each candidate keeps its own.
        let shared = shared_warnings(plan);
        let row = |c: &Candidate| CandidateView::new(c, unit, &shared);
        PlanAnswer {
            mode: input.calc.name(),
            model: PlanModel {
                name: input.resolved.model.name.clone(),
                source: input.resolved.source,
            },
            parameters: parameters(input),
            summary: plan.summary(),
            cheapest: plan.cheapest().map(row),
            candidates: plan.candidates.iter().map(row).collect(),
            excluded: plan
                .excluded
                .iter()
                .map(|e| ExcludedView {
                    gpu: e.gpu.clone(),
                    instance: e.instance.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
            prices: PricesView {
                as_of: plan.prices_as_of.clone(),
                region: plan.region.clone(),
                source: plan.price_source.clone(),
                hours_per_month: HOURS_PER_MONTH,
            },
            warnings: Warnings::of(input.resolved.notes.iter().chain(&shared)),
        }
    }
}

fn parameters(input: &PlanInput) -> PlanParameters {
    let c = &input.request.constraints;
    PlanParameters {
        echo: input.resolved.echo.clone(),
        mode: input.calc.name(),
        gpus: c.gpus.clone(),
        instance_types: c.instance_types.clone(),
        max_gpus: c.max_gpus,
        gpu_memory_utilization: c.gpu_memory_utilization,
        concurrent_sequences: c.concurrent_sequences,
        unit: input.unit.name(),
        workload: match &input.request.workload {
            Workload::Inference(r) => WorkloadParameters::Inference {
                engine: r.engine.name(),
                batch_size: r.batch_size,
                sequence_length: r.sequence_length,
                max_new_tokens: r.max_new_tokens,
            },
            Workload::Training(r) => WorkloadParameters::Training {
                method: r.method.name(),
                batch_size: r.batch_size,
                sequence_length: r.sequence_length,
                zero_stage: r.zero_stage,
            },
        },
    }
}

fn warnings(c: &Candidate) -> &[Warning] {
    match &c.estimate {
        Estimate::Inference(e) => &e.warnings,
        Estimate::Training(e) => &e.warnings,
    }
}

/// The warnings every candidate of the plan has, in the first one's order.
fn shared_warnings(plan: &Plan) -> Vec<Warning> {
    let Some(first) = plan.candidates.first() else {
        return Vec::new();
    };
    warnings(first)
        .iter()
        .filter(|w| plan.candidates.iter().all(|c| warnings(c).contains(w)))
        .cloned()
        .collect()
}
