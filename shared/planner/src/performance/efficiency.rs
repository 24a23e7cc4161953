//! The efficiency factors of the serving model: the share of peak bandwidth and peak
//! FLOPs vLLM's kernels reach on a GPU, the engine's per-step and per-sequence costs
//! and the client-side latency of a request, each fitted on the calibration half of the
//! published runs (`tests/data/measured-serving.json`) and stated once, in
//! `data/serving-efficiency.json`, with the rows it was fitted on and the error it
//! leaves on the rows it never saw (methodology §12.3).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::hardware::ComputeDtype;

/// How close vLLM comes to the hardware, and what the engine adds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct Efficiency {
    /// Share of the GPU's peak memory bandwidth reading weights and caches reach.
    pub bandwidth: f64,
    /// Share of the peak dense FLOP/s of the linear layers' dtype reached.
    pub compute: f64,
    /// Share of the peak 16-bit FLOP/s attention reaches.
    pub attention: f64,
    /// Share of the link's bandwidth an all-reduce reaches.
    pub link: f64,
    /// Fixed cost of one engine step (scheduling, sampling, launch), seconds.
    pub step_seconds: f64,
    /// Cost of one scheduled sequence in one step, seconds.
    pub sequence_seconds: f64,
    /// Latency a client sees on top of the engine's first step (HTTP, tokenization,
    /// detokenization, streaming), seconds.
    pub front_end_seconds: f64,
}

/// The expected error of a prediction: the median absolute error of leave-one-out
/// predictions over the published runs, percent.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct ExpectedError {
    /// Time to first token.
    pub ttft_percent: f64,
    /// Time per output token.
    pub tpot_percent: f64,
    /// Output tokens/s per GPU.
    pub throughput_percent: f64,
}

/// Factors fitted for one GPU: its bandwidth share, and its compute share for each
/// dtype its published runs computed in (kernels differ: a weight-only 16-bit Marlin
/// GEMM reaches a different share of peak than an fp8 CUTLASS one).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct GpuFactors {
    /// The catalog GPU.
    pub gpu: String,
    /// Share of peak memory bandwidth.
    pub bandwidth: f64,
    /// Share of peak dense FLOP/s, by [`ComputeDtype::name`].
    pub compute: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Fitted {
    engine: String,
    engine_versions: String,
    engine_wide: EngineWide,
    gpus: Vec<GpuFactors>,
    expected_error: ExpectedError,
    expected_error_uncalibrated_gpu: ExpectedError,
}

/// The factors every GPU shares: they describe vLLM and its kernels, not a GPU.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct EngineWide {
    /// Share of peak 16-bit FLOP/s attention reaches.
    pub attention: f64,
    /// Share of the link's bandwidth an all-reduce reaches.
    pub link: f64,
    /// Fixed cost of one engine step, milliseconds.
    pub step_ms: f64,
    /// Cost of one scheduled sequence in one step, microseconds.
    pub sequence_us: f64,
    /// Client-side latency of a request, milliseconds.
    pub front_end_ms: f64,
}

const FITTED_JSON: &str = include_str!("../../data/serving-efficiency.json");

static FITTED: LazyLock<Fitted> = LazyLock::new(|| {
    serde_json::from_str(FITTED_JSON).expect("data/serving-efficiency.json is valid")
});

/// The factors for `gpu` (a catalog name) computing in `dtype`, and whether they were
/// fitted on its own runs in that dtype.
pub fn efficiency_for(gpu: &str, dtype: ComputeDtype) -> (Efficiency, bool) {
    efficiency_among(&FITTED.gpus, &FITTED.engine_wide, gpu, dtype)
}

/// The factors for `gpu` computing in `dtype` under fitted factors `gpus` and `engine`
/// (the fit itself evaluates candidates through this), and whether `gpu` has its own
/// in that dtype. Otherwise: the fitted GPUs' median bandwidth share, and the median
/// compute share of the GPUs fitted in that dtype (of every fitted share when none was).
pub fn efficiency_among(
    gpus: &[GpuFactors],
    engine: &EngineWide,
    gpu: &str,
    dtype: ComputeDtype,
) -> (Efficiency, bool) {
    let own = gpus.iter().find(|g| g.gpu.eq_ignore_ascii_case(gpu));
    let own_compute = own.and_then(|g| g.compute.get(dtype.name()).copied());
    let bandwidth = own.map_or_else(|| median(gpus.iter().map(|g| g.bandwidth)), |g| g.bandwidth);
    let compute = own_compute.unwrap_or_else(|| {
        let same: Vec<f64> = gpus
            .iter()
            .filter_map(|g| g.compute.get(dtype.name()).copied())
            .collect();
        if same.is_empty() {
            median(gpus.iter().flat_map(|g| g.compute.values().copied()))
        } else {
            median(same.into_iter())
        }
    });
    (
        with_engine(bandwidth, compute, engine),
        own_compute.is_some(),
    )
}

fn with_engine(bandwidth: f64, compute: f64, e: &EngineWide) -> Efficiency {
    Efficiency {
        bandwidth,
        compute,
        attention: e.attention,
        link: e.link,
        step_seconds: e.step_ms * 1e-3,
        sequence_seconds: e.sequence_us * 1e-6,
        front_end_seconds: e.front_end_ms * 1e-3,
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 1.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The model's expected error: for a GPU with published runs, and for one without.
pub fn expected_error(calibrated: bool) -> ExpectedError {
    if calibrated {
        FITTED.expected_error
    } else {
        FITTED.expected_error_uncalibrated_gpu
    }
}

/// Whether `gpu` (a catalog name) has factors fitted on its own runs.
pub fn has_own_factors(gpu: &str) -> bool {
    FITTED.gpus.iter().any(|g| g.gpu.eq_ignore_ascii_case(gpu))
}

/// The GPUs with factors of their own.
pub fn fitted_gpus() -> Vec<&'static str> {
    FITTED.gpus.iter().map(|g| g.gpu.as_str()).collect()
}

/// The engine and versions the factors were fitted for.
pub fn fitted_engine() -> (&'static str, &'static str) {
    (&FITTED.engine, &FITTED.engine_versions)
}
