//! The published serving runs (`shared/planner/tests/data/measured-serving.json`) as
//! the performance model sees them: each row under the settings its source ran vLLM
//! and its benchmark with, the split into the calibration and validation halves, the
//! fit of the efficiency factors, and the errors. Used by the validation test
//! (`tests/serving.rs`) and by `examples/fit_serving.rs`, which writes the factors;
//! each includes this file as its module `serving`.

use calculator::{
    estimate_inference, Bytes, Engine, InferenceRequest, Precision, Quantization, RegistryEntry,
    VllmSettings, VllmVersion,
};
use planner::performance;
use planner::performance::{
    prepare, simulate, Arrivals, ComputeDtype, Efficiency, Prepared, Serving, Trace,
};
use planner::Catalog;
use serde_json::Value;
use std::path::PathBuf;

/// The data file, from the workspace root.
pub const DATA: &str = "shared/planner/tests/data/measured-serving.json";

/// InferenceX's benchmark scripts the InferenceX-derived rows ran (the Llama-3.3-70B
/// scripts before the benchmark's removal, the gpt-oss ones as last published):
/// `kv-cache-dtype fp8` for Llama and on B200, `max-num-batched-tokens 8192`,
/// `--max-num-seqs` the concurrency (H100, H200) or 512 (B200),
/// `--gpu-memory-utilization 0.9`, `--num-prompts` ten times the concurrency,
/// `--random-range-ratio 0.8`.
pub const INFERENCEX_SCRIPTS: &str = "SemiAnalysisAI/InferenceX@c198b20ebe3b69d1f30da0a6df4c13b842a39538 benchmarks/70b_fp8_h100_docker.sh, 70b_fp8_h200_slurm.sh, 70b_fp8_b200_docker.sh, 70b_fp4_b200_docker.sh; SemiAnalysisAI/InferenceX@843c6254ff69b567f772f6a5fd97675af3d04431 benchmarks/single_node/fixed_seq_len/deprecated/gptoss_fp4_h100.sh, gptoss_fp4_h200.sh, gptoss_fp4_b200.sh, gptoss_fp4_mi300x.sh";

/// A statistic a source reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    /// Mean over requests.
    Mean,
    /// Median over requests.
    Median,
}

/// What a row measured: ms, ms, tokens/s per GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// Time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Time per output token, ms.
    pub tpot_ms: Option<f64>,
    /// Output tokens/s per GPU.
    pub output_per_gpu: Option<f64>,
    /// Which statistic the latencies are.
    pub statistic: Statistic,
}

/// Which half of the data a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The efficiency factors are fitted on it.
    Calibration,
    /// Never seen by the fit.
    Validation,
}

/// One published run, resolved.
#[derive(Clone, Debug)]
pub struct Row {
    /// The row's id.
    pub id: String,
    /// The catalog GPU.
    pub gpu: String,
    /// The registry model.
    pub model: String,
    /// Tensor-parallel GPUs.
    pub tensor_parallel: u64,
    /// Client concurrency (or prompts, for a burst).
    pub concurrency: u64,
    /// What was measured.
    pub measured: Measured,
    /// Why it is left out of the fit and the validation, if it is.
    pub excluded: Option<&'static str>,
    /// Calibration or validation.
    pub split: Split,
    /// The replica, resolved (absent for an excluded row that cannot be).
    pub prepared: Option<Prepared>,
    /// The benchmark as it ran.
    pub trace: Trace,
}

/// A prediction of a row: ms, ms, tokens/s per GPU, with the statistic measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predicted {
    /// Time to first token, ms.
    pub ttft_ms: f64,
    /// Time per output token, ms.
    pub tpot_ms: f64,
    /// Output tokens/s per GPU.
    pub output_per_gpu: f64,
}

/// The data file's rows.
pub fn raw_rows() -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join(DATA)).expect("measured-serving.json");
    let data: Value = serde_json::from_str(&text).expect("valid JSON");
    data["rows"].as_array().cloned().unwrap_or_default()
}

/// The catalog GPU a row's short name stands for, and an instance that carries it.
fn catalog_gpu(short: &str) -> (&'static str, Option<&'static str>) {
    match short {
        "H100" => ("NVIDIA H100 SXM 80GB", Some("p5.48xlarge")),
        "H200" => ("NVIDIA H200 SXM 141GB", Some("p5en.48xlarge")),
        "B200" => ("NVIDIA B200", Some("p6-b200.48xlarge")),
        "A100" => ("NVIDIA A100 80GB", Some("p4de.24xlarge")),
        _ => ("AMD Instinct MI300X", None),
    }
}

fn source_of(id: &str) -> &str {
    id.split('-').next().unwrap_or("")
}

/// Why a row is neither fitted nor validated on, if it is not.
fn exclusion(row: &Value) -> Option<&'static str> {
    if row["engine"].as_str() != Some("vllm") {
        return Some("SGLang: the model is vLLM's scheduler");
    }
    if row.get("quality_flag").is_some() {
        return Some("the source flags the run (quality_flag)");
    }
    if row["pp"].as_u64().is_some_and(|pp| pp > 1) {
        return Some("pipeline parallel: the model runs one tensor-parallel replica");
    }
    if source_of(row["id"].as_str().unwrap_or("")) == "aic" && row["concurrency"] == 512 {
        return Some("TPOT below the same configuration's at concurrency 64: the engine ran a far smaller batch than 512 under settings the source does not state");
    }
    None
}

/// The value of `--name N` in a serving command.
fn flag(command: &str, name: &str) -> Option<u64> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == name)?;
    words.next()?.parse().ok()
}

/// The fixed split: a row is calibration when the FNV-1a hash of its id is even, on a
/// GPU with enough runs to fit its own factors (H100, H200, B200), under a closed-loop
/// benchmark; every other row is validation. Bursts (every prompt sent at once, under
/// engine defaults of older vLLM versions) are validated on but never fitted.
pub fn split_of(id: &str, gpu: &str, burst: bool) -> Split {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let fitted_gpu = matches!(gpu, "H100" | "H200" | "B200");
    if fitted_gpu && !burst && hash % 2 == 0 {
        Split::Calibration
    } else {
        Split::Validation
    }
}

/// Every row of the data file, resolved under its source's settings.
pub fn rows() -> Vec<Row> {
    let catalog = Catalog::embedded();
    raw_rows().iter().map(|r| resolve(r, catalog)).collect()
}

fn resolve(r: &Value, catalog: &Catalog) -> Row {
    let id = r["id"].as_str().unwrap_or("").to_owned();
    let short = r["gpu"].as_str().unwrap_or("");
    let (gpu_name, instance) = catalog_gpu(short);
    let gpu = catalog.gpu(gpu_name).expect("catalog GPU");
    let link = instance
        .and_then(|i| catalog.instances.iter().find(|x| x.name == i))
        .and_then(|i| i.interconnect.as_ref());
    let model_name = match r["model"].as_str().unwrap_or("") {
        "openai/gpt-oss-120b" => "gpt-oss-120b",
        "openai/gpt-oss-20b" => "gpt-oss-20b",
        _ => "Llama-3.3-70B-Instruct",
    };
    let model = &RegistryEntry::lookup(model_name).expect("registry").model;
    let tp = r["tp"].as_u64().unwrap_or(1);
    let concurrency = r["concurrency"].as_u64().unwrap_or(1);
    let source = source_of(&id);
    let inferencex = matches!(source, "aic" | "ixcsv" | "ixgh" | "nebius");
    let burst = r["load_mode"].as_str().unwrap_or("").starts_with("burst");
    let llama = model_name.starts_with("Llama");
    // Each run under the vLLM release it used (0.10.2's under the oldest modelled range).
    let version = r["engine_version"]
        .as_str()
        .and_then(VllmVersion::of_release)
        .unwrap_or(VllmVersion::Upto020);
    // vLLM budgets from the total CUDA reports (`Gpu::vllm_total`), as answers do.
    let mut settings = VllmSettings::of_version(gpu.vllm_total().unwrap_or(Bytes(0)), version);
    settings.gpu_name = Some(gpu.name.clone());
    let mut req = InferenceRequest::new(1, r["isl"].as_u64().unwrap_or(1));
    req.max_new_tokens = r["osl"].as_u64().unwrap_or(1);
    req.num_gpus = tp;
    if inferencex && short == "MI300X" {
        settings.gpu_memory_utilization = 0.95;
    } else if inferencex {
        settings.max_num_batched_tokens = Some(8192);
        settings.max_num_seqs = Some(if short == "B200" {
            512
        } else {
            concurrency.clamp(1, 1024)
        });
        if llama || short == "B200" {
            req.kv_cache_precision = Some(Precision::Float8);
        }
    } else {
        let command = r["serving_command"].as_str().unwrap_or("");
        settings.max_num_batched_tokens = flag(command, "--max-num-batched-tokens");
        settings.max_num_seqs = flag(command, "--max-num-seqs");
    }
    if llama {
        // nvidia/Llama-3.3-70B-Instruct-FP8 (ModelOpt, per-tensor) and -FP4 (NVFP4).
        if r["precision"].as_str() == Some("fp8") {
            req.precision = Some(Precision::Float8);
        } else {
            req.quantization = Some(Quantization::Nvfp4);
        }
    }
    req.engine = Engine::Vllm(settings);
    let prepared = estimate_inference(model, &req).ok().and_then(|e| {
        let serving = Serving {
            model,
            estimate: &e,
            gpu,
            link,
            tensor_parallel: tp,
            expert_parallel: false,
        };
        prepare(&serving, catalog).ok()
    });
    let prompts = if burst {
        concurrency
    } else if inferencex {
        10 * concurrency
    } else {
        100
    };
    let trace = Trace {
        arrivals: Arrivals::ClosedLoop {
            clients: concurrency,
        },
        requests: prompts,
        warmup: 0,
        max_input: req.sequence_length,
        max_output: req.max_new_tokens,
        spread: if inferencex { 0.8 } else { 1.0 },
        seed: 7,
    };
    let g = |k: &str| r[k].as_f64();
    let median = g("median_ttft_ms").is_some() || g("median_tpot_ms").is_some();
    let measured = Measured {
        ttft_ms: g("median_ttft_ms").or(g("mean_ttft_ms")),
        tpot_ms: g("median_tpot_ms").or(g("mean_tpot_ms")),
        output_per_gpu: g("output_tokens_per_s_per_gpu"),
        statistic: if median {
            Statistic::Median
        } else {
            Statistic::Mean
        },
    };
    let mut excluded = exclusion(r);
    if excluded.is_none() && prepared.is_none() {
        excluded = Some("vLLM would not start under the row's settings in the calculator");
    }
    Row {
        split: split_of(&id, short, burst),
        id,
        gpu: gpu_name.to_owned(),
        model: model_name.to_owned(),
        tensor_parallel: tp,
        concurrency,
        measured,
        excluded,
        prepared,
        trace,
    }
}

/// The row's figures under `eff`.
pub fn predict(row: &Row, eff: &Efficiency) -> Option<Predicted> {
    let p = row.prepared.as_ref()?;
    let o = simulate(&p.shape, &p.hardware, eff, p.limits, &row.trace);
    // A published run never needs more than the bound on a simulation's work.
    assert!(
        !o.truncated,
        "{}: the simulation stopped at its bound",
        row.id
    );
    let (ttft, tpot) = match row.measured.statistic {
        Statistic::Mean => (o.mean_ttft, o.mean_tpot),
        Statistic::Median => (o.median_ttft, o.median_tpot),
    };
    Some(Predicted {
        ttft_ms: (ttft + eff.front_end_seconds) * 1e3,
        tpot_ms: tpot * 1e3,
        output_per_gpu: o.output_tokens_per_s / row.tensor_parallel as f64,
    })
}

/// `ln(predicted / measured)` of each metric a row has.
pub fn log_errors(row: &Row, p: &Predicted) -> [Option<f64>; 3] {
    let e = |pred: f64, m: Option<f64>| m.filter(|m| *m > 0.0).map(|m| (pred / m).ln());
    [
        e(p.ttft_ms, row.measured.ttft_ms),
        e(p.tpot_ms, row.measured.tpot_ms),
        e(p.output_per_gpu, row.measured.output_per_gpu),
    ]
}

/// The fitted factors: the engine-wide ones, and each fitted GPU's bandwidth share and
/// compute share per dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct Factors {
    /// `[attention, link, step_ms, sequence_us, front_end_ms]`.
    pub engine: [f64; 5],
    /// `(catalog GPU, bandwidth, [(dtype, compute)])`.
    pub gpus: Vec<GpuFactors>,
}

/// One fitted GPU's factors.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuFactors {
    /// The catalog GPU.
    pub gpu: String,
    /// Share of peak bandwidth.
    pub bandwidth: f64,
    /// Share of peak FLOP/s by the dtype its linear layers computed in.
    pub compute: Vec<(ComputeDtype, f64)>,
}

/// The GPUs with their own factors, and the dtypes their published runs computed in.
pub const FITTED_GPUS: [(&str, &[ComputeDtype]); 3] = [
    (
        "NVIDIA H100 SXM 80GB",
        &[ComputeDtype::WeightOnly, ComputeDtype::Fp8],
    ),
    (
        "NVIDIA H200 SXM 141GB",
        &[ComputeDtype::WeightOnly, ComputeDtype::Fp8],
    ),
    ("NVIDIA B200", &[ComputeDtype::Fp8, ComputeDtype::Fp4]),
];

impl Factors {
    /// The factors for `gpu` computing in `dtype` (the fitted medians where it has none),
    /// as the planner's `efficiency_for` reads them.
    pub fn efficiency(&self, gpu: &str, dtype: ComputeDtype) -> Efficiency {
        let gpus: Vec<performance::GpuFactors> = self
            .gpus
            .iter()
            .map(|g| performance::GpuFactors {
                gpu: g.gpu.clone(),
                bandwidth: g.bandwidth,
                compute: g
                    .compute
                    .iter()
                    .map(|(d, c)| (d.name().to_owned(), *c))
                    .collect(),
            })
            .collect();
        let [attention, link, step_ms, sequence_us, front_end_ms] = self.engine;
        let engine = performance::EngineWide {
            attention,
            link,
            step_ms,
            sequence_us,
            front_end_ms,
        };
        performance::efficiency_among(&gpus, &engine, gpu, dtype).0
    }

    /// Whether every factor is in its physical range.
    pub fn valid(&self) -> bool {
        let share = |x: f64| x > 0.01 && x <= 1.0;
        let [attention, link, step_ms, sequence_us, front_end_ms] = self.engine;
        share(attention)
            && share(link)
            && step_ms >= 0.0
            && sequence_us >= 0.0
            && front_end_ms >= 0.0
            && self
                .gpus
                .iter()
                .all(|g| share(g.bandwidth) && g.compute.iter().all(|c| share(c.1)))
    }

    /// The factors the planner embeds (`data/serving-efficiency.json`).
    pub fn embedded() -> Factors {
        Factors {
            engine: {
                let e = performance::efficiency_for("", ComputeDtype::Sixteen).0;
                [
                    e.attention,
                    e.link,
                    e.step_seconds * 1e3,
                    e.sequence_seconds * 1e6,
                    e.front_end_seconds * 1e3,
                ]
            },
            gpus: FITTED_GPUS
                .iter()
                .map(|(gpu, dtypes)| GpuFactors {
                    gpu: gpu.to_string(),
                    bandwidth: performance::efficiency_for(gpu, dtypes[0]).0.bandwidth,
                    compute: dtypes
                        .iter()
                        .map(|d| (*d, performance::efficiency_for(gpu, *d).0.compute))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The efficiency a row is predicted with under `f`.
pub fn row_efficiency(row: &Row, f: &Factors) -> Option<Efficiency> {
    row.prepared
        .as_ref()
        .map(|p| f.efficiency(&row.gpu, p.compute_dtype))
}

/// The fit's objective: the mean absolute log error of each metric, summed over the
/// three metrics (TTFT, TPOT, output throughput), over `rows`.
pub fn loss(rows: &[&Row], f: &Factors) -> f64 {
    if !f.valid() {
        return f64::MAX;
    }
    let errors = all_errors(rows, f);
    errors
        .iter()
        .map(|v| v.iter().map(|x| x.abs()).sum::<f64>() / v.len().max(1) as f64)
        .sum()
}

/// Every row's log errors by metric, computed over two threads.
pub fn all_errors(rows: &[&Row], f: &Factors) -> [Vec<f64>; 3] {
    let (a, b) = rows.split_at(rows.len() / 2);
    let run = |part: &[&Row]| -> Vec<[Option<f64>; 3]> {
        part.iter()
            .filter_map(|r| predict(r, &row_efficiency(r, f)?).map(|p| log_errors(r, &p)))
            .collect()
    };
    let results = std::thread::scope(|s| {
        let first = s.spawn(|| run(a));
        let mut second = run(b);
        let mut all = first.join().expect("thread");
        all.append(&mut second);
        all
    });
    let mut out: [Vec<f64>; 3] = Default::default();
    for errs in results {
        for (k, e) in errs.iter().enumerate() {
            if let Some(e) = e {
                out[k].push(*e);
            }
        }
    }
    out
}

/// Nelder–Mead on `x` (reflection 1, expansion 2, contraction ½, shrink ½), `iterations`
/// times, from a simplex of steps `scale`.
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    x: &[f64],
    scale: &[f64],
    iterations: usize,
) -> Vec<f64> {
    let n = x.len();
    let mut points: Vec<Vec<f64>> = vec![x.to_vec()];
    for i in 0..n {
        let mut p = x.to_vec();
        p[i] += scale[i];
        points.push(p);
    }
    let mut values: Vec<f64> = points.iter().map(|p| f(p)).collect();
    for _ in 0..iterations {
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
        points = order.iter().map(|&i| points[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let centre: Vec<f64> = (0..n)
            .map(|j| points[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|j| centre[j] + t * (points[n][j] - centre[j]))
                .collect()
        };
        let r = along(-1.0);
        let fr = f(&r);
        if fr < values[0] {
            let e = along(-2.0);
            let fe = f(&e);
            if fe < fr {
                points[n] = e;
                values[n] = fe;
            } else {
                points[n] = r;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            points[n] = r;
            values[n] = fr;
        } else {
            let c = along(0.5);
            let fc = f(&c);
            if fc < values[n] {
                points[n] = c;
                values[n] = fc;
            } else {
                for i in 1..=n {
                    points[i] = (0..n)
                        .map(|j| points[0][j] + 0.5 * (points[i][j] - points[0][j]))
                        .collect();
                    values[i] = f(&points[i]);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|a, b| values[*a].total_cmp(&values[*b]))
        .unwrap_or(0);
    points[best].clone()
}

/// Fits `start` on `rows` by block coordinates: the engine-wide factors on every row,
/// then each fitted GPU's two on its own rows, `rounds` times.
pub fn fit(rows: &[&Row], start: &Factors, rounds: usize, iterations: usize) -> Factors {
    let mut f = start.clone();
    for _ in 0..rounds {
        let base = f.clone();
        let engine = nelder_mead(
            &|x| {
                let mut g = base.clone();
                g.engine.copy_from_slice(x);
                loss(rows, &g)
            },
            &f.engine,
            &[0.05, 0.05, 0.5, 5.0, 10.0],
            iterations,
        );
        f.engine.copy_from_slice(&engine);
        for k in 0..f.gpus.len() {
            let own: Vec<&Row> = rows
                .iter()
                .copied()
                .filter(|r| r.gpu == f.gpus[k].gpu)
                .collect();
            if own.is_empty() {
                continue;
            }
            let base = f.clone();
            let mut x0 = vec![f.gpus[k].bandwidth];
            x0.extend(f.gpus[k].compute.iter().map(|c| c.1));
            let x = nelder_mead(
                &|x| {
                    let mut g = base.clone();
                    g.gpus[k].bandwidth = x[0];
                    for (c, v) in g.gpus[k].compute.iter_mut().zip(&x[1..]) {
                        c.1 = *v;
                    }
                    loss(&own, &g)
                },
                &x0,
                &vec![0.08; x0.len()],
                iterations / 2,
            );
            f.gpus[k].bandwidth = x[0];
            for (c, v) in f.gpus[k].compute.iter_mut().zip(&x[1..]) {
                c.1 = *v;
            }
        }
    }
    f
}

/// The median of `|exp(e) − 1|`, percent.
pub fn median_percent(errors: &[f64]) -> f64 {
    let mut v: Vec<f64> = errors.iter().map(|e| e.exp_m1().abs() * 100.0).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
