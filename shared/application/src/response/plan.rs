//! The plan's answer: the request as resolved, one row per candidate (its split,
//! memory, capacity and price), what was left out, and the prices' provenance.

use calculator::{Choice, Engine, Unit, Warning};
use planner::performance::Demand;
use planner::{
    usd_per_month, Candidate, CandidateServing, Estimate, Parallelism, Plan, PlanTraffic,
    PriceSource, Workload, HOURS_PER_MONTH,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::request::hub::HubSource;

use super::memory::VllmView;
use super::performance::Speed;
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
    search: bool,
    gpu_memory_utilization: f64,
    concurrent_sequences: Option<u64>,
    unit: &'static str,
    #[serde(flatten)]
    workload: WorkloadParameters,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    traffic: Option<TrafficParameters>,
}

/// A plan's traffic as resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct TrafficParameters {
    input_tokens: u64,
    output_tokens: u64,
    concurrency: Option<u64>,
    requests_per_second: Option<f64>,
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
    expert_parallel: bool,
}

impl From<&PlanTraffic> for TrafficParameters {
    fn from(t: &PlanTraffic) -> TrafficParameters {
        TrafficParameters {
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            concurrency: match t.demand {
                Some(Demand::Concurrency(c)) => Some(c),
                _ => None,
            },
            requests_per_second: match t.demand {
                Some(Demand::RequestsPerSecond(r)) => Some(r),
                _ => None,
            },
            ttft_ms: t.ttft_target.map(|s| s * 1e3),
            tpot_ms: t.tpot_target.map(|s| s * 1e3),
            expert_parallel: t.expert_parallel,
        }
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// How a candidate serves: its performance at the load each replica takes, the
/// instances the demand needs and what a token costs; or why the serving model cannot
/// say.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum ServingView {
    Served(Box<Served>),
    Refused { error: String },
}

/// The figures of a candidate that serves.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Served {
    concurrency_per_replica: Option<u64>,
    requests_per_second_per_replica: Option<f64>,
    best_concurrency_per_replica: u64,
    instances: u64,
    #[serde(flatten)]
    speed: Speed,
    bound: &'static str,
    meets_targets: bool,
    usd_per_month_for_demand: Option<f64>,
    expected_error_ttft_percent: f64,
    expected_error_tpot_percent: f64,
    expected_error_output_tokens_per_s_percent: f64,
    #[serde(flatten)]
    warnings: Warnings,
}

impl ServingView {
    /// How a candidate of `gpus` GPUs an instance serves.
    fn new(s: &Result<CandidateServing, String>, gpus: u64) -> ServingView {
        let s = match s {
            Ok(s) => s,
            Err(why) => return ServingView::Refused { error: why.clone() },
        };
        let p = &s.performance;
        let copies = (s.instances * s.replicas) as f64;
        let all_gpus = (gpus * s.instances) as f64;
        ServingView::Served(Box::new(Served {
            concurrency_per_replica: match s.load {
                Demand::Concurrency(c) => Some(c),
                Demand::RequestsPerSecond(_) => None,
            },
            requests_per_second_per_replica: match s.load {
                Demand::RequestsPerSecond(r) => Some(round(r, 4)),
                Demand::Concurrency(_) => None,
            },
            best_concurrency_per_replica: s.best_load,
            instances: s.instances,
            speed: Speed::new(
                p,
                copies,
                all_gpus,
                (s.usd_per_million_output_tokens, s.usd_per_million_tokens),
            ),
            bound: p.bound.name(),
            meets_targets: s.meets_targets,
            usd_per_month_for_demand: s.usd_per_month_for_demand.map(|u| round(u, 2)),
            expected_error_ttft_percent: p.expected_error.ttft_percent,
            expected_error_tpot_percent: p.expected_error.tpot_percent,
            expected_error_output_tokens_per_s_percent: p.expected_error.throughput_percent,
            warnings: Warnings::of(&p.warnings),
        }))
    }
}

/// The workload fields a plan's answer repeats.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum WorkloadParameters {
    Inference {
        engine: &'static str,
        /// The vLLM releases followed; absent with the transformers engine.
        #[serde(skip_serializing_if = "Option::is_none")]
        vllm_version: Option<&'static str>,
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
        pipeline_parallel: u64,
        replicas: u64,
        expert_parallel: bool,
        data_parallel_attention: bool,
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
    /// Instances it spans (training over several nodes).
    pub nodes: u64,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    serving: Option<ServingView>,
}

impl CandidateView {
    /// How the candidate serves its traffic (or its own load on vLLM), in brief.
    pub fn serving_figures(&self) -> Option<ServingFigures> {
        match &self.serving {
            Some(ServingView::Served(s)) => Some(ServingFigures {
                instances: s.instances,
                output_tokens_per_s: s.speed.output_tokens_per_s(),
                usd_per_million_output_tokens: s.speed.usd_per_million_output_tokens(),
            }),
            _ => None,
        }
    }

    /// USD a month: what the plan's demand costs on this candidate (every instance it
    /// needs), or one instance's price when the plan states no demand.
    pub fn monthly_spend(&self) -> Option<f64> {
        match &self.serving {
            Some(ServingView::Served(s)) if s.usd_per_month_for_demand.is_some() => {
                s.usd_per_month_for_demand
            }
            _ => self.usd_per_month,
        }
    }

    /// The row of `c` in `unit`, its warnings less those every candidate shares.
    fn new(c: &Candidate, unit: Unit, shared: &[Warning]) -> CandidateView {
        let per_gpu = c.memory_per_gpu();
        let headroom = c.usable_memory.0 as i128 - per_gpu.0 as i128;
        let split = match c.parallelism {
            Parallelism::Tensor {
                tensor_parallel,
                replicas,
                expert_parallel,
                pipeline_parallel,
                data_parallel_attention,
            } => Split::Tensor {
                tensor_parallel,
                pipeline_parallel,
                replicas,
                expert_parallel,
                data_parallel_attention,
                // What the candidate serves: none where it does not fit (its
                // capacity at the limit is `max_batch_size` per replica).
                concurrent_sequences: c.concurrent_sequences.filter(|_| c.fits),
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
            nodes: c.nodes,
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
            serving: c.serving.as_ref().map(|s| ServingView::new(s, c.gpu_count)),
        }
    }
}

/// A candidate's serving in brief (the daily report's columns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServingFigures {
    /// Instances the demand needs (1 without a demand).
    pub instances: u64,
    /// Output tokens/s of all of them.
    pub output_tokens_per_s: f64,
    /// USD per million output tokens, when priced.
    pub usd_per_million_output_tokens: Option<f64>,
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
    /// Their date: the catalog's, unless one price list prices every instance type.
    pub as_of: String,
    /// Their region, likewise.
    pub region: String,
    /// Where they come from, in words.
    pub source: String,
    /// Each source of the prices in force, with its date, region and the instance
    /// types it prices.
    pub sources: Vec<PriceSourceView>,
    /// Hours in the month the monthly prices are for.
    pub hours_per_month: f64,
}

/// One source of the prices a plan used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PriceSourceView {
    /// Where they come from (`embedded catalog`, `s3://bucket/prices.json`).
    pub source: String,
    /// Their date, as the source gives it.
    pub as_of: String,
    /// Their AWS region, as the source gives it.
    pub region: String,
    /// The instance types whose prices come from it.
    pub instances: Vec<String>,
}

impl PricesView {
    /// The prices of a catalog (or a plan made with one).
    pub fn new(as_of: &str, region: &str, source: &str, sources: &[PriceSource]) -> PricesView {
        PricesView {
            as_of: as_of.to_owned(),
            region: region.to_owned(),
            source: source.to_owned(),
            sources: sources
                .iter()
                .map(|s| PriceSourceView {
                    source: s.source.clone(),
                    as_of: s.as_of.clone(),
                    region: s.region.clone(),
                    instances: s.instances.clone(),
                })
                .collect(),
            hours_per_month: HOURS_PER_MONTH,
        }
    }
}

/// The model a plan is for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanModel {
    /// Its name; `None` for a model given by config or explicit fields.
    pub name: Option<String>,
    /// `registry`, `hub`, `config` or `explicit`.
    pub source: &'static str,
    /// The Hub repository and the commit read, for `source` `hub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubSource>,
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
                hub: input.resolved.hub.clone(),
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
            prices: PricesView::new(
                &plan.prices_as_of,
                &plan.region,
                &plan.price_source,
                &plan.price_sources,
            ),
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
        search: c.search,
        gpu_memory_utilization: c.gpu_memory_utilization,
        concurrent_sequences: c.concurrent_sequences,
        unit: input.unit.name(),
        workload: match &input.request.workload {
            Workload::Inference(r) => WorkloadParameters::Inference {
                engine: r.engine.name(),
                vllm_version: match &r.engine {
                    Engine::Vllm(s) => Some(s.version.name()),
                    Engine::Transformers => None,
                },
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
        traffic: input.request.traffic.as_ref().map(TrafficParameters::from),
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
