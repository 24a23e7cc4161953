//! `POST /api/performance`'s answer: how fast one replica serves the traffic, what a
//! token costs, what bounds it, and how far the figures are expected to be off.

use calculator::{Choice, Engine, InferenceEstimate, InferenceRequest, Quantization};
use planner::performance::{
    fitted_engine, fitted_gpus, Demand, Performance, StepBreakdown, Traffic,
};
use planner::usd_per_million;
use serde::Serialize;

use super::memory::{storage_description, ModelSummary};
use super::shown::Warnings;
use crate::request::PerformanceInput;

/// Seconds to milliseconds, rounded to 0.01 ms.
fn ms(seconds: f64) -> f64 {
    (seconds * 1e5).round() / 100.0
}

/// A figure rounded to 0.01.
fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// How fast and at what cost tokens come: the latencies of one request and the rates
/// of every replica serving (ms, tokens and requests a second, USD).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(super) struct Speed {
    ttft_ms: f64,
    tpot_ms: f64,
    e2e_latency_ms: f64,
    output_tokens_per_s: f64,
    output_tokens_per_s_per_gpu: f64,
    total_tokens_per_s: f64,
    total_tokens_per_s_per_gpu: f64,
    requests_per_s: f64,
    usd_per_million_output_tokens: Option<f64>,
    usd_per_million_tokens: Option<f64>,
}

impl Speed {
    /// `p` of one replica, served by `copies` replicas over `gpus` GPUs, whose output
    /// and total tokens cost `per_million` USD a million.
    pub(super) fn new(
        p: &Performance,
        copies: f64,
        gpus: f64,
        per_million: (Option<f64>, Option<f64>),
    ) -> Speed {
        let output = p.output_tokens_per_s * copies;
        let total = p.total_tokens_per_s * copies;
        let cents = |x: Option<f64>| x.map(|x| (x * 1e4).round() / 1e4);
        Speed {
            ttft_ms: ms(p.ttft_seconds),
            tpot_ms: ms(p.tpot_seconds),
            e2e_latency_ms: ms(p.e2e_seconds),
            output_tokens_per_s: hundredths(output),
            output_tokens_per_s_per_gpu: hundredths(output / gpus.max(1.0)),
            total_tokens_per_s: hundredths(total),
            total_tokens_per_s_per_gpu: hundredths(total / gpus.max(1.0)),
            requests_per_s: (p.requests_per_s * copies * 1e4).round() / 1e4,
            usd_per_million_output_tokens: cents(per_million.0),
            usd_per_million_tokens: cents(per_million.1),
        }
    }

    /// Output tokens a second.
    pub(super) fn output_tokens_per_s(&self) -> f64 {
        self.output_tokens_per_s
    }

    /// USD per million output tokens.
    pub(super) fn usd_per_million_output_tokens(&self) -> Option<f64> {
        self.usd_per_million_output_tokens
    }
}

/// The request as resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct PerformanceParameters {
    #[serde(flatten)]
    echo: serde_json::Map<String, serde_json::Value>,
    precision: &'static str,
    quantization: Option<&'static str>,
    weight_storage: String,
    kv_cache_precision: &'static str,
    load_mtp: bool,
    gpu: String,
    instance: Option<String>,
    num_gpus: u64,
    expert_parallel: bool,
    input_tokens: u64,
    output_tokens: u64,
    concurrency: Option<u64>,
    requests_per_second: Option<f64>,
    gpu_memory_utilization: f64,
    max_num_batched_tokens: u64,
    max_num_seqs: u64,
    enforce_eager: bool,
    usd_per_gpu_hour: Option<f64>,
    price_source: Option<String>,
}

/// One step's cost, per GPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct StepView {
    tokens: f64,
    ms: f64,
    weight_bytes: u64,
    kv_cache_bytes: u64,
    flops: f64,
    allreduce_ms: f64,
    overhead_ms: f64,
}

impl From<&StepBreakdown> for StepView {
    fn from(s: &StepBreakdown) -> StepView {
        StepView {
            tokens: hundredths(s.tokens),
            ms: ms(s.seconds),
            weight_bytes: s.weight_bytes.round() as u64,
            kv_cache_bytes: s.kv_bytes.round() as u64,
            flops: s.flops.round(),
            allreduce_ms: ms(s.allreduce_seconds),
            overhead_ms: ms(s.overhead_seconds),
        }
    }
}

/// The expected error of the figures, percent, and what it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct ExpectedErrorView {
    ttft_percent: f64,
    tpot_percent: f64,
    output_tokens_per_s_percent: f64,
    basis: String,
}

/// The engine the model stands for.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct EngineView {
    name: &'static str,
    fitted_versions: &'static str,
}

/// The replica's vLLM start-up, as the memory model has it.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct CapacityView {
    kv_cache_tokens: u64,
    max_concurrency: f64,
}

/// `/api/performance`'s answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerformanceAnswer {
    model: ModelSummary,
    parameters: PerformanceParameters,
    #[serde(flatten)]
    speed: Speed,
    mean_running_requests: f64,
    bound: &'static str,
    compute_dtype: &'static str,
    usd_per_hour: Option<f64>,
    expected_error: ExpectedErrorView,
    engine: EngineView,
    vllm: CapacityView,
    decode_step: StepView,
    prefill: StepView,
    #[serde(flatten)]
    warnings: Warnings,
}

impl PerformanceAnswer {
    /// The answer for `input`, estimated as `e` and performing as `p`.
    pub fn new(
        input: &PerformanceInput,
        e: &InferenceEstimate,
        p: &Performance,
    ) -> PerformanceAnswer {
        let req: &InferenceRequest = &input.request;
        let tp = req.num_gpus.max(1) as f64;
        let usd_per_hour = input.price.as_ref().map(|(per_gpu, _)| per_gpu * tp);
        let (engine, versions) = fitted_engine();
        let mut warnings = input.resolved.notes.clone();
        warnings.extend(e.warnings.iter().cloned());
        warnings.extend(p.warnings.iter().cloned());
        let capacity = e.vllm.as_ref();
        PerformanceAnswer {
            model: ModelSummary::from(&input.resolved),
            parameters: parameters(input, e),
            speed: Speed::new(
                p,
                1.0,
                tp,
                (
                    usd_per_hour.and_then(|u| usd_per_million(u, p.output_tokens_per_s)),
                    usd_per_hour.and_then(|u| usd_per_million(u, p.total_tokens_per_s)),
                ),
            ),
            mean_running_requests: hundredths(p.mean_running),
            bound: p.bound.name(),
            compute_dtype: p.compute_dtype.name(),
            usd_per_hour: usd_per_hour.map(|u| (u * 1e4).round() / 1e4),
            expected_error: ExpectedErrorView {
                ttft_percent: p.expected_error.ttft_percent,
                tpot_percent: p.expected_error.tpot_percent,
                output_tokens_per_s_percent: p.expected_error.throughput_percent,
                basis: if p.calibrated {
                    format!(
                        "leave-one-out median error over the published runs on the GPUs with factors of their own ({})",
                        fitted_gpus().join(", ")
                    )
                } else {
                    "median error on the published runs of GPUs without factors of their own".into()
                },
            },
            engine: EngineView {
                name: engine,
                fitted_versions: versions,
            },
            vllm: CapacityView {
                kv_cache_tokens: capacity.map_or(0, |c| c.kv_cache_tokens),
                max_concurrency: capacity.map_or(0.0, |c| hundredths(c.max_concurrency)),
            },
            decode_step: StepView::from(&p.decode_step),
            prefill: StepView::from(&p.prefill),
            warnings: Warnings::of(&warnings),
        }
    }
}

fn parameters(input: &PerformanceInput, e: &InferenceEstimate) -> PerformanceParameters {
    let req = &input.request;
    let fmt = e.weight_format;
    let settings = match &req.engine {
        Engine::Vllm(s) => Some(s),
        Engine::Transformers => None,
    };
    let capacity = e.vllm.as_ref();
    let Traffic {
        input_tokens,
        output_tokens,
        demand,
    } = input.traffic;
    PerformanceParameters {
        echo: input.resolved.echo.clone(),
        precision: fmt.precision.name(),
        quantization: fmt.quantization.map(Quantization::name),
        weight_storage: storage_description(fmt.describe(), &e.unquantized_modules),
        kv_cache_precision: e.kv_cache_precision.name(),
        load_mtp: req.load_mtp,
        gpu: input.gpu.clone(),
        instance: input.instance.clone(),
        num_gpus: req.num_gpus,
        expert_parallel: input.expert_parallel,
        input_tokens,
        output_tokens,
        concurrency: match demand {
            Demand::Concurrency(c) => Some(c),
            Demand::RequestsPerSecond(_) => None,
        },
        requests_per_second: match demand {
            Demand::RequestsPerSecond(r) => Some(r),
            Demand::Concurrency(_) => None,
        },
        gpu_memory_utilization: settings.map_or(0.0, |s| s.gpu_memory_utilization),
        max_num_batched_tokens: capacity.map_or(0, |c| c.max_num_batched_tokens),
        max_num_seqs: capacity.map_or(0, |c| c.max_num_seqs),
        enforce_eager: settings.is_some_and(|s| s.enforce_eager),
        usd_per_gpu_hour: input.price.as_ref().map(|p| (p.0 * 1e4).round() / 1e4),
        price_source: input.price.as_ref().map(|p| p.1.clone()),
    }
}
