//! Planning one workload: which instances (or GPUs) hold it, how it is split over
//! their GPUs, what that leaves, and what it costs. Every memory figure comes from the
//! calculator; this module only chooses settings and compares. Methodology §11.

use calculator::limits::{self, FieldRange};
use calculator::vllm::serve_batch_defaults;
use calculator::{
    estimate_inference, estimate_training, max_batch_size, max_sequence_length,
    max_sequence_length_vllm, Bytes, CalcError, Engine, InferenceEstimate, InferenceRequest, Model,
    TrainingEstimate, TrainingRequest, VllmCapacity, VllmSettings, Workload as FitWorkload,
};

use crate::catalog::{Catalog, Gpu, MemorySource, Platform};
use crate::kernels::{weight_support, Support};

/// Hours in the month that prices are quoted for (AWS's convention: 365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Tensor-parallel degrees tried, smallest first: vLLM's usual splits within one
/// machine.
pub const TENSOR_PARALLEL_DEGREES: [u64; 4] = [1, 2, 4, 8];

/// Most GPU names, instance types or custom GPUs one request may list.
pub const MAX_LISTED: usize = 64;

/// Most GPUs one candidate may have (`max_gpus`): the largest instance has 16 chips.
pub const MAX_GPUS: FieldRange = FieldRange {
    field: "max_gpus",
    min: 1,
    max: 1024,
};

/// Concurrent requests a plan may ask one candidate to hold.
pub const CONCURRENT_SEQUENCES: FieldRange = FieldRange {
    field: "concurrent_sequences",
    min: 1,
    max: 1 << 30,
};

/// GPU counts tried for a GPU that no catalog instance carries (a custom GPU, or one
/// named in `gpus`), up to `max_gpus`: the counts a tensor-parallel replica can have.
const GPU_COUNTS: [u64; 4] = TENSOR_PARALLEL_DEGREES;

/// What is being planned.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    /// Serving: one model replica per `tensor_parallel` GPUs.
    Inference(InferenceRequest),
    /// Training: data-parallel over every GPU of the instance.
    Training(TrainingRequest),
}

/// A GPU the request defines.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomGpu {
    /// Its name (must not be a catalog name).
    pub name: String,
    /// Memory of one GPU, in bytes.
    pub memory: Bytes,
    /// Price of one GPU, USD per hour.
    pub usd_per_hour: Option<f64>,
    /// Memory bandwidth, GB/s.
    pub bandwidth_gbps: Option<f64>,
}

impl CustomGpu {
    fn to_gpu(&self) -> Gpu {
        Gpu {
            name: self.name.clone(),
            platform: Platform::Cuda,
            memory_vendor_stated: None,
            usable_memory: Some((self.memory, MemorySource::Request)),
            bandwidth_gbps: self.bandwidth_gbps,
            bf16_dense_tflops: None,
            fp16_dense_tflops: None,
            bf16_supported: true,
            fp8_supported: true,
            compute_capability: None,
            unverified: Vec::new(),
            custom: true,
        }
    }
}

/// Limits on the candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraints {
    /// GPU names to consider (catalog or custom); empty for every CUDA GPU that an
    /// instance carries.
    pub gpus: Vec<String>,
    /// Instance types to consider; empty for all.
    pub instance_types: Vec<String>,
    /// Most GPUs one candidate may have.
    pub max_gpus: Option<u64>,
    /// Share of each GPU's memory the workload may use (vLLM's
    /// `gpu_memory_utilization`); the rest is headroom.
    pub gpu_memory_utilization: f64,
    /// Sequences of the requested length the whole candidate must hold at once
    /// (inference); `None`: one replica must hold `batch_size`.
    pub concurrent_sequences: Option<u64>,
}

/// A planning request.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRequest {
    /// The workload, with the engine settings other than the GPU's.
    pub workload: Workload,
    /// Which candidates to consider.
    pub constraints: Constraints,
    /// GPUs defined by the request.
    pub custom_gpus: Vec<CustomGpu>,
}

/// How a candidate runs the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parallelism {
    /// Inference: `replicas` copies of the model, each over `tensor_parallel` GPUs.
    Tensor {
        /// GPUs per replica.
        tensor_parallel: u64,
        /// Replicas the candidate holds.
        replicas: u64,
    },
    /// Training: data parallel over `gpus`, with the request's framework.
    Data {
        /// Data-parallel GPUs.
        gpus: u64,
        /// The training framework, as resolved.
        framework: calculator::Framework,
        /// DeepSpeed's ZeRO stage (0 for the other frameworks).
        zero_stage: u8,
    },
}

/// The calculator's answer for a candidate's setting.
#[derive(Clone, Debug, PartialEq)]
pub enum Estimate {
    /// Per GPU, for one replica.
    Inference(Box<InferenceEstimate>),
    /// Per GPU.
    Training(TrainingEstimate),
}

impl Estimate {
    /// Memory one GPU holds, in bytes.
    pub fn per_gpu(&self) -> Bytes {
        match self {
            Estimate::Inference(e) => e.inference_memory,
            Estimate::Training(e) => e.training_memory,
        }
    }

    /// vLLM's start-up report, for the vLLM engine.
    pub fn vllm(&self) -> Option<&VllmCapacity> {
        match self {
            Estimate::Inference(e) => e.vllm.as_ref(),
            Estimate::Training(_) => None,
        }
    }
}

/// One candidate: an instance type, or a count of GPUs that no instance carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Instance type; `None` for GPUs without a catalog instance.
    pub instance: Option<String>,
    /// The GPU.
    pub gpu: String,
    /// GPUs in the candidate.
    pub gpu_count: u64,
    /// Whether the workload fits (and, for inference, vLLM starts and holds the
    /// requested sequences).
    pub fits: bool,
    /// How it is split.
    pub parallelism: Parallelism,
    /// Memory one GPU offers, in bytes (what its driver reports).
    pub usable_memory: Bytes,
    /// The GPU's memory bandwidth, GB/s, when known.
    pub bandwidth_gbps: Option<f64>,
    /// `gpu_memory_utilization × usable_memory`, in bytes.
    pub budget: Bytes,
    /// The estimate at the chosen parallelism.
    pub estimate: Estimate,
    /// Largest batch (inference: per replica, concurrent requests of the requested
    /// length; training: micro-batch per GPU) that fits.
    pub max_batch_size: Option<u64>,
    /// Longest sequence that fits at the requested batch.
    pub max_sequence_length: Option<u64>,
    /// Inference: concurrent requests of the requested length the whole candidate
    /// holds (replicas × per-replica capacity).
    pub concurrent_sequences: Option<u64>,
    /// Price, USD per hour.
    pub usd_per_hour: Option<f64>,
    /// What is missing, when it does not fit.
    pub missing: Option<String>,
    /// Hardware notes (dtype fallbacks, weight-only kernels).
    pub notes: Vec<String>,
}

impl Candidate {
    /// Price, USD per month of [`HOURS_PER_MONTH`].
    pub fn usd_per_month(&self) -> Option<f64> {
        self.usd_per_hour.map(|p| p * HOURS_PER_MONTH)
    }

    /// What one GPU holds, in bytes.
    pub fn memory_per_gpu(&self) -> Bytes {
        self.estimate.per_gpu()
    }
}

/// A GPU or instance left out, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Excluded {
    /// The GPU.
    pub gpu: String,
    /// The instance, if one.
    pub instance: Option<String>,
    /// Why it cannot run the workload.
    pub reason: String,
}

/// A plan: candidates (fitting ones first, cheapest first), what was left out, and the
/// prices' provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Every candidate considered.
    pub candidates: Vec<Candidate>,
    /// GPUs and instances that cannot run the workload at all.
    pub excluded: Vec<Excluded>,
    /// Date of the prices.
    pub prices_as_of: String,
    /// Region of the prices.
    pub region: String,
    /// Where the prices come from.
    pub price_source: String,
}

impl Plan {
    /// The cheapest fitting candidate with a price, else the first fitting one.
    pub fn cheapest(&self) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.fits)
    }

    /// One sentence: the cheapest fit, or what the closest candidate lacks.
    pub fn summary(&self) -> String {
        if let Some(c) = self.cheapest() {
            let place = c
                .instance
                .as_deref()
                .unwrap_or("GPUs without an instance type");
            let price = c
                .usd_per_month()
                .map_or_else(|| "price unknown".to_owned(), |m| format!("${m:.0}/month"));
            return format!("{place}: {} x {}, {price}", c.gpu_count, c.gpu);
        }
        match self
            .candidates
            .iter()
            .max_by_key(|c| c.usable_memory.0 * c.gpu_count)
        {
            Some(c) => format!(
                "nothing fits; the largest candidate, {} x {}{}, {}",
                c.gpu_count,
                c.gpu,
                c.instance
                    .as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                c.missing.as_deref().unwrap_or("does not fit")
            ),
            None => "nothing fits: no candidate GPU can run this workload".into(),
        }
    }
}

/// Plans `req` for `model` over `catalog` (its prices as given). Fails only when the
/// workload itself is invalid (a field error, as the memory endpoints give).
pub fn plan(model: &Model, req: &PlanRequest, catalog: &Catalog) -> Result<Plan, CalcError> {
    check_workload(model, &req.workload)?;
    let mut candidates = Vec::new();
    let mut excluded = Vec::new();
    for (gpu, instance, counts) in places(req, catalog) {
        match evaluate(model, req, &gpu, instance.as_ref(), &counts)? {
            Ok(c) => candidates.push(c),
            Err(reason) => excluded.push(Excluded {
                gpu: gpu.name.clone(),
                instance: instance.map(|i| i.0),
                reason,
            }),
        }
    }
    candidates.sort_by(|a, b| {
        b.fits
            .cmp(&a.fits)
            .then(price_order(a.usd_per_hour, b.usd_per_hour))
            .then(a.gpu_count.cmp(&b.gpu_count))
            .then(a.gpu.cmp(&b.gpu))
    });
    Ok(Plan {
        candidates,
        excluded,
        prices_as_of: catalog.prices_as_of.clone(),
        region: catalog.region.clone(),
        price_source: catalog.price_source.clone(),
    })
}

fn price_order(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The workload's own errors (a bad field) before any candidate is tried: on one GPU
/// with the transformers engine, which every valid request can express.
fn check_workload(model: &Model, workload: &Workload) -> Result<(), CalcError> {
    match workload {
        Workload::Inference(r) => {
            let mut r = r.clone();
            r.num_gpus = 1;
            if let Engine::Vllm(s) = &mut r.engine {
                // The request's own fields and the engine settings' ranges, on a GPU
                // large enough for any model the limits allow.
                s.gpu_memory = Bytes(limits::MAX_GPU_MEMORY);
            }
            match estimate_inference(model, &r) {
                // Too large for one GPU is for the candidates to say, not a bad field.
                Err(CalcError::TooLarge | CalcError::WeightsTooLarge) | Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Workload::Training(r) => {
            let mut r = r.clone();
            r.num_gpus = 1;
            estimate_training(model, &r).map(drop)
        }
    }
}

/// An instance's name and price, or the per-GPU price of a GPU without one.
type Place = (String, Option<f64>);

/// Every (GPU, instance, GPU counts) to evaluate, after the constraints.
fn places(req: &PlanRequest, catalog: &Catalog) -> Vec<(Gpu, Option<Place>, Vec<u64>)> {
    let c = &req.constraints;
    let named =
        |list: &[String], name: &str| list.iter().any(|n| n.trim().eq_ignore_ascii_case(name));
    let max_gpus = c.max_gpus.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    for instance in &catalog.instances {
        let Some(gpu) = catalog.gpu(&instance.gpu) else {
            continue;
        };
        let by_gpu = c.gpus.is_empty() || named(&c.gpus, &gpu.name);
        let by_instance = c.instance_types.is_empty() || named(&c.instance_types, &instance.name);
        // Accelerators that are not CUDA GPUs only when asked for by name.
        let asked = named(&c.gpus, &gpu.name) || named(&c.instance_types, &instance.name);
        if by_gpu
            && by_instance
            && instance.gpu_count <= max_gpus
            && (gpu.platform == Platform::Cuda || asked)
        {
            out.push((
                gpu.clone(),
                Some((instance.name.clone(), instance.usd_per_hour)),
                vec![instance.gpu_count],
            ));
        }
    }
    if !c.instance_types.is_empty() {
        return out;
    }
    let counts: Vec<u64> = GPU_COUNTS.into_iter().filter(|n| *n <= max_gpus).collect();
    // Named catalog GPUs that no instance carries (each once), and the request's own.
    let mut seen: Vec<&str> = Vec::new();
    for name in &c.gpus {
        if let Some(gpu) = catalog.gpu(name) {
            if catalog.instances_of(&gpu.name).next().is_none()
                && !seen.contains(&gpu.name.as_str())
            {
                seen.push(&gpu.name);
                out.push((gpu.clone(), None, counts.clone()));
            }
        }
    }
    for custom in &req.custom_gpus {
        if c.gpus.is_empty() || named(&c.gpus, &custom.name) {
            out.push((custom.to_gpu(), None, counts.clone()));
        }
    }
    out
}

/// One candidate for `gpu`: the first GPU count (and parallelism) that fits, or the
/// largest tried with what it lacks; `Err` when the GPU cannot run the workload.
fn evaluate(
    model: &Model,
    req: &PlanRequest,
    gpu: &Gpu,
    instance: Option<&Place>,
    counts: &[u64],
) -> Result<Result<Candidate, String>, CalcError> {
    let Some((usable, _)) = gpu.usable_memory else {
        return Ok(Err(format!(
            "{}: the catalog has no driver-reported memory for it",
            gpu.name
        )));
    };
    let mut last = None;
    for &count in counts {
        let price = match instance {
            Some((_, p)) => *p,
            None => custom_price(req, gpu).map(|p| p * count as f64),
        };
        let setting = Setting {
            model,
            req,
            gpu,
            usable,
            count,
        };
        let candidate = match &req.workload {
            Workload::Inference(r) => setting.inference(r)?,
            Workload::Training(r) => setting.training(r)?,
        };
        let mut candidate = match candidate {
            Ok(c) => c,
            Err(reason) => return Ok(Err(reason)),
        };
        candidate.instance = instance.map(|i| i.0.clone());
        candidate.usd_per_hour = price;
        let fits = candidate.fits;
        last = Some(candidate);
        if fits {
            break;
        }
    }
    Ok(last.ok_or_else(|| format!("{}: no GPU count within max_gpus", gpu.name)))
}

fn custom_price(req: &PlanRequest, gpu: &Gpu) -> Option<f64> {
    req.custom_gpus
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(&gpu.name))
        .and_then(|c| c.usd_per_hour)
}

/// One GPU model in one count.
struct Setting<'a> {
    model: &'a Model,
    req: &'a PlanRequest,
    gpu: &'a Gpu,
    usable: Bytes,
    count: u64,
}

fn too_large(gpu: &Gpu) -> String {
    format!(
        "{}: the workload needs more than {} per GPU",
        gpu.name,
        limits::LARGEST_REPORTABLE
    )
}

fn gb(bytes: u128) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

impl Setting<'_> {
    fn utilization(&self) -> f64 {
        self.req.constraints.gpu_memory_utilization
    }

    fn budget(&self) -> Bytes {
        Bytes((self.usable.0 as f64 * self.utilization()).floor() as u64)
    }

    fn candidate(&self, parallelism: Parallelism, estimate: Estimate) -> Candidate {
        Candidate {
            instance: None,
            gpu: self.gpu.name.clone(),
            gpu_count: self.count,
            fits: false,
            parallelism,
            usable_memory: self.usable,
            bandwidth_gbps: self.gpu.bandwidth_gbps,
            budget: self.budget(),
            estimate,
            max_batch_size: None,
            max_sequence_length: None,
            concurrent_sequences: None,
            usd_per_hour: None,
            missing: None,
            notes: Vec::new(),
        }
    }

    /// The hardware's say on the weight format: notes, or why it cannot run.
    fn support(&self, estimate: &InferenceEstimate) -> Result<Vec<String>, String> {
        let support = weight_support(self.gpu, &estimate.weight_format);
        let mut notes: Vec<String> = support.note(self.gpu).into_iter().collect();
        if !support.runs() {
            return Err(notes.remove(0));
        }
        if support == Support::Native && self.gpu.platform == Platform::Neuron {
            notes.push(format!(
                "{} runs AWS Neuron's own serving stack, not vLLM on CUDA: this memory model is an approximation there",
                self.gpu.name
            ));
        }
        Ok(notes)
    }

    /// Inference: the smallest tensor-parallel degree at which the requirement is met
    /// (a replica holds `batch_size` requests, or the candidate holds
    /// `concurrent_sequences`), which leaves the most replicas and the least
    /// all-reduce traffic; when none meets it, the largest valid degree, with what it
    /// lacks.
    fn inference(&self, base: &InferenceRequest) -> Result<Result<Candidate, String>, CalcError> {
        let mut best: Option<(Candidate, InferenceRequest)> = None;
        for tp in TENSOR_PARALLEL_DEGREES
            .into_iter()
            .filter(|t| self.count.is_multiple_of(*t))
        {
            let mut r = base.clone();
            r.num_gpus = tp;
            let replicas = self.count / tp;
            let mut notes = Vec::new();
            let need = self.per_replica(&r, replicas);
            if let Engine::Vllm(s) = &mut r.engine {
                s.gpu_memory = self.usable;
                s.gpu_name = Some(self.gpu.name.clone());
                s.gpu_memory_utilization = self.utilization();
                notes.extend(self.raise_max_num_seqs(s, need));
            }
            let e = match estimate_inference(self.model, &r) {
                Ok(e) => e,
                // A degree the heads do not divide: the next one may.
                Err(CalcError::InvalidField { ref field, .. }) if field == "num_gpus" => continue,
                // Scheduler limits this GPU's defaults cannot take.
                Err(CalcError::InvalidField { field, message }) if field.starts_with("max_num") => {
                    return Ok(Err(format!("{}: {field}: {message}", self.gpu.name)))
                }
                Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => {
                    return Ok(Err(too_large(self.gpu)))
                }
                Err(e) => return Err(e),
            };
            match self.support(&e) {
                Ok(n) => notes.splice(0..0, n).for_each(drop),
                Err(reason) => return Ok(Err(reason)),
            };
            let mut c = self.candidate(
                Parallelism::Tensor {
                    tensor_parallel: tp,
                    replicas,
                },
                Estimate::Inference(Box::new(e.clone())),
            );
            c.notes = notes;
            self.judge_inference(&mut c, &r, &e, replicas)?;
            let fits = c.fits;
            best = Some((c, r));
            if fits {
                break;
            }
        }
        let Some((mut c, r)) = best else {
            return Ok(Err(format!(
                "{}: no tensor-parallel degree in {:?} that divides {} GPUs also divides the model's attention heads",
                self.gpu.name, TENSOR_PARALLEL_DEGREES, self.count
            )));
        };
        // The longest context, a bisection, only for the degree chosen, holding what
        // each replica must hold.
        let replicas = self.count / r.num_gpus;
        let mut r = r;
        r.batch_size = self.per_replica(&r, replicas);
        c.max_sequence_length = match &r.engine {
            Engine::Vllm(_) => max_sequence_length_vllm(self.model, &r)?,
            Engine::Transformers => {
                max_sequence_length(self.model, FitWorkload::Inference(&r), self.budget())?
            }
        };
        Ok(Ok(c))
    }

    /// Requests of the requested length one replica must hold: `batch_size`, or its
    /// share of `concurrent_sequences`.
    fn per_replica(&self, r: &InferenceRequest, replicas: u64) -> u64 {
        match self.req.constraints.concurrent_sequences {
            Some(t) => t.div_ceil(replicas),
            None => r.batch_size,
        }
    }

    /// Raises a defaulted `max_num_seqs` (and, if needed, a defaulted
    /// `max_num_batched_tokens`) to what a replica must hold, as an operator would pass
    /// `--max-num-seqs`; says so. Given values are kept.
    fn raise_max_num_seqs(&self, s: &mut VllmSettings, need: u64) -> Option<String> {
        let (tokens, seqs, _) = serve_batch_defaults(self.usable, Some(&self.gpu.name));
        if s.max_num_seqs.is_some() || need <= seqs {
            return None;
        }
        let need = need.min(limits::MAX_NUM_SEQS.max);
        s.max_num_seqs = Some(need);
        if s.max_num_batched_tokens.is_none() && need > tokens {
            s.max_num_batched_tokens = Some(need);
        }
        Some(format!(
            "max_num_seqs raised from vllm serve's default {seqs} to {need} (--max-num-seqs {need}) for the requests each replica holds"
        ))
    }

    fn judge_inference(
        &self,
        c: &mut Candidate,
        r: &InferenceRequest,
        e: &InferenceEstimate,
        replicas: u64,
    ) -> Result<(), CalcError> {
        let tp = r.num_gpus;
        let target = self.req.constraints.concurrent_sequences;
        let per_replica = self.per_replica(r, replicas);
        match &e.vllm {
            Some(v) => {
                c.max_batch_size = v.starts().then_some(v.max_sequences);
                c.concurrent_sequences = Some(if v.starts() {
                    v.max_sequences * replicas
                } else {
                    0
                });
                let need =
                    v.non_kv_memory.0 as u128 + per_replica as u128 * v.request_kv_bytes.0 as u128;
                let pool_holds = v.max_concurrency.floor() as u64;
                if v.starts() && v.max_num_seqs < per_replica && pool_holds >= per_replica {
                    c.missing = Some(format!(
                        "max_num_seqs ({}) limits each replica to {} concurrent requests; the KV cache holds {pool_holds}: raise max_num_seqs to {per_replica}",
                        v.max_num_seqs, v.max_num_seqs
                    ));
                } else if !v.starts() || v.max_sequences < per_replica {
                    c.missing = Some(format!(
                        "needs {} per GPU at TP {tp} for {per_replica} concurrent requests of {} tokens per replica (has {} at gpu_memory_utilization {})",
                        gb((need as f64 / self.utilization()).ceil() as u128),
                        v.max_model_len,
                        gb(self.usable.0 as u128),
                        self.utilization()
                    ));
                } else if !v.headroom_suffices() {
                    c.missing = Some(format!(
                        "gpu_memory_utilization {} leaves {} per GPU, less than the CUDA context and CUDA graphs need ({})",
                        self.utilization(),
                        gb(v.headroom.0 as u128),
                        gb(v.outside_budget.0 as u128)
                    ));
                } else {
                    c.fits = true;
                }
            }
            None => {
                let budget = self.budget();
                let w = FitWorkload::Inference(r);
                c.max_batch_size = max_batch_size(self.model, w, budget)?;
                c.concurrent_sequences = c.max_batch_size.map(|b| b * replicas);
                let fits_target =
                    c.concurrent_sequences.unwrap_or(0) >= target.unwrap_or(r.batch_size);
                if e.inference_memory <= budget && fits_target {
                    c.fits = true;
                } else {
                    c.missing = Some(format!(
                        "needs {} per GPU at TP {tp} (has {} at gpu_memory_utilization {})",
                        gb((e.inference_memory.0 as f64 / self.utilization()).ceil() as u128),
                        gb(self.usable.0 as u128),
                        self.utilization()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Training: data parallel over every GPU with the request's framework; one
    /// instance is one node (hybrid sharding's group, the host memory's node).
    fn training(&self, base: &TrainingRequest) -> Result<Result<Candidate, String>, CalcError> {
        let mut r = base.clone();
        r.num_gpus = self.count;
        r.gpus_per_node.get_or_insert(self.count);
        let e = match estimate_training(self.model, &r) {
            Ok(e) => e,
            Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => {
                return Ok(Err(too_large(self.gpu)))
            }
            Err(e) => return Err(e),
        };
        let mut notes = Vec::new();
        if !self.gpu.bf16_supported && e.precision == calculator::Precision::Bfloat16 {
            notes.push(format!(
                "{} has no bfloat16 tensor cores: train in float16 with loss scaling (same memory)",
                self.gpu.name
            ));
        }
        let budget = self.budget();
        let mut c = self.candidate(
            Parallelism::Data {
                gpus: self.count,
                framework: e.framework,
                zero_stage: r.zero_stage,
            },
            Estimate::Training(e.clone()),
        );
        c.notes = notes;
        let w = FitWorkload::Training(&r);
        c.max_batch_size = max_batch_size(self.model, w, budget)?;
        c.max_sequence_length = max_sequence_length(self.model, w, budget)?;
        if e.training_memory <= budget {
            c.fits = true;
        } else {
            c.missing = Some(format!(
                "needs {} per GPU over {} GPUs with {} (has {} at gpu_memory_utilization {})",
                gb((e.training_memory.0 as f64 / self.utilization()).ceil() as u128),
                self.count,
                sharding_said(&e, r.zero_stage),
                gb(self.usable.0 as u128),
                self.utilization()
            ));
        }
        Ok(Ok(c))
    }
}

/// The framework and its sharding, as a plan says them.
fn sharding_said(e: &calculator::TrainingEstimate, zero_stage: u8) -> String {
    use calculator::{Choice, Framework};
    match (e.framework, e.fsdp_sharding) {
        (Framework::Deepspeed, _) => format!("DeepSpeed ZeRO stage {zero_stage}"),
        (Framework::Fsdp, Some(s)) => format!("FSDP {}", s.name()),
        _ => "DDP (framework transformers)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calculator::{names, registry, Precision, VllmSettings};

    fn model(name: &str) -> Model {
        names::resolve(name).unwrap().model.into_owned()
    }

    fn serving(batch: u64, len: u64) -> InferenceRequest {
        let mut r = InferenceRequest::new(batch, len);
        r.engine = Engine::Vllm(VllmSettings::new(Bytes(0)));
        r
    }

    fn request(workload: Workload, edit: impl FnOnce(&mut Constraints)) -> PlanRequest {
        let mut constraints = Constraints {
            gpus: vec![],
            instance_types: vec![],
            max_gpus: None,
            gpu_memory_utilization: 0.9,
            concurrent_sequences: None,
        };
        edit(&mut constraints);
        PlanRequest {
            workload,
            constraints,
            custom_gpus: vec![],
        }
    }

    fn run(model_name: &str, req: &PlanRequest) -> Plan {
        plan(&model(model_name), req, Catalog::embedded()).unwrap()
    }

    fn row<'a>(p: &'a Plan, instance: &str) -> &'a Candidate {
        p.candidates
            .iter()
            .find(|c| c.instance.as_deref() == Some(instance))
            .unwrap_or_else(|| panic!("no row for {instance}"))
    }

    fn tensor(c: &Candidate) -> (u64, u64) {
        match c.parallelism {
            Parallelism::Tensor {
                tensor_parallel,
                replicas,
            } => (tensor_parallel, replicas),
            Parallelism::Data { .. } => panic!("inference rows are tensor parallel"),
        }
    }

    #[test]
    fn the_smallest_degree_that_meets_the_requirement_is_chosen() {
        // 141 GB of weights: TP 2 holds one 8k request per replica, four replicas.
        let one = run(
            "Llama-3.1-70B",
            &request(Workload::Inference(serving(1, 8192)), |_| {}),
        );
        let p5 = row(&one, "p5.48xlarge");
        assert!(p5.fits);
        assert_eq!(tensor(p5), (2, 4));
        // A hundred concurrent requests need the KV space of four GPUs per replica.
        let hundred = run(
            "Llama-3.1-70B",
            &request(Workload::Inference(serving(1, 8192)), |c| {
                c.concurrent_sequences = Some(100)
            }),
        );
        let p5 = row(&hundred, "p5.48xlarge");
        assert_eq!(tensor(p5), (4, 2));
        assert!(p5.concurrent_sequences.unwrap() >= 100);
        let p = one;
        // One H100 cannot hold the weights: what is missing is said in numbers.
        let single = row(&p, "p5.4xlarge");
        assert!(!single.fits);
        let missing = single.missing.as_deref().unwrap();
        assert!(
            missing.starts_with("needs ") && missing.contains("at TP 1"),
            "{missing}"
        );
    }

    #[test]
    fn a_defaulted_max_num_seqs_is_raised_to_what_a_replica_holds() {
        // 300 concurrent 512-token requests of Qwen3-0.6B fit one L4's KV pool, but
        // vllm serve's default max_num_seqs on it is 256: the plan raises it and says so.
        let p = run(
            "Qwen3-0.6B",
            &request(Workload::Inference(serving(1, 512)), |c| {
                c.instance_types = vec!["g6.xlarge".into()];
                c.concurrent_sequences = Some(300);
            }),
        );
        let c = &p.candidates[0];
        assert!(c.fits, "{:?}", c.missing);
        assert_eq!(c.estimate.vllm().unwrap().max_num_seqs, 300);
        assert!(
            c.notes.iter().any(|n| n.contains("--max-num-seqs 300")),
            "{:?}",
            c.notes
        );
        // A value the request gives is kept, and what it limits is said.
        let mut given = serving(1, 512);
        if let Engine::Vllm(s) = &mut given.engine {
            s.max_num_seqs = Some(256);
        }
        let p = run(
            "Qwen3-0.6B",
            &request(Workload::Inference(given), |c| {
                c.instance_types = vec!["g6.xlarge".into()];
                c.concurrent_sequences = Some(300);
            }),
        );
        let c = &p.candidates[0];
        assert!(!c.fits);
        assert!(
            c.missing
                .as_deref()
                .unwrap()
                .starts_with("max_num_seqs (256) limits"),
            "{:?}",
            c.missing
        );
    }

    #[test]
    fn tensor_parallel_degrees_divide_the_heads() {
        // Qwen2.5-7B: 28 query heads, 4 key/value heads: 8 divides neither.
        let p = run(
            "Qwen2.5-7B-Instruct",
            &request(Workload::Inference(serving(1, 4096)), |c| {
                c.instance_types = vec!["p5.48xlarge".into()];
                c.concurrent_sequences = Some(100_000);
            }),
        );
        let (tp, replicas) = tensor(&p.candidates[0]);
        assert!(28 % tp == 0 && tp * replicas == 8 && tp < 8, "TP {tp}");
    }

    #[test]
    fn capacity_is_replicas_times_whole_requests_in_the_pool() {
        let p = run(
            "Llama-3.1-8B",
            &request(Workload::Inference(serving(1, 8192)), |c| {
                c.instance_types = vec!["g6e.12xlarge".into()]
            }),
        );
        let c = &p.candidates[0];
        let (tp, replicas) = tensor(c);
        assert_eq!((tp, replicas), (1, 4));
        let v = c.estimate.vllm().unwrap();
        // 32 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes x 16 tokens per block.
        let page_all_layers = 32 * 8 * 128 * 2 * 2 * 16;
        assert_eq!(
            v.num_blocks,
            v.available_kv_cache_memory.0 / page_all_layers
        );
        assert_eq!(v.kv_cache_tokens, v.num_blocks * 16);
        assert_eq!(v.max_sequences, v.num_blocks / (8192 / 16));
        assert_eq!(c.concurrent_sequences, Some(4 * v.max_sequences));
        assert_eq!(c.max_batch_size, Some(v.max_sequences));
        // L40S (46,068 MiB, under 70 GiB): vllm serve's small default batch.
        assert_eq!((v.max_num_batched_tokens, v.max_num_seqs), (2048, 256));
    }

    #[test]
    fn formats_run_where_a_kernel_exists() {
        let fp8 = run(
            "Qwen/Qwen3-8B-FP8",
            &request(Workload::Inference(serving(1, 4096)), |_| {}),
        );
        let t4 = fp8
            .excluded
            .iter()
            .find(|e| e.instance.as_deref() == Some("g4dn.xlarge"));
        assert!(t4.unwrap().reason.contains("compute capability 7.5"));
        assert!(row(&fp8, "g5.xlarge").notes[0].contains("weight"));
        assert!(row(&fp8, "p5.4xlarge").notes.is_empty());
        let bf16 = run(
            "Qwen3-0.6B",
            &request(Workload::Inference(serving(1, 4096)), |_| {}),
        );
        assert!(row(&bf16, "g4dn.xlarge").notes[0].contains("float16"));
    }

    #[test]
    fn a_workload_that_fits_nowhere_says_what_it_lacks() {
        let p = run(
            "Llama-3.1-405B",
            &request(Workload::Inference(serving(1, 8192)), |c| {
                c.max_gpus = Some(1)
            }),
        );
        assert!(p.cheapest().is_none() && !p.candidates.is_empty());
        assert!(p.candidates.iter().all(|c| c.missing.is_some()));
        assert!(
            p.summary()
                .starts_with("nothing fits; the largest candidate"),
            "{}",
            p.summary()
        );
    }

    #[test]
    fn training_is_data_parallel_over_the_instance() {
        let mut r = TrainingRequest::new(1, 2048);
        r.zero_stage = 3;
        let p = run(
            "Llama-3.1-8B",
            &request(Workload::Training(r), |c| {
                c.instance_types = vec!["p4de.24xlarge".into(), "g5.xlarge".into()]
            }),
        );
        let a100 = row(&p, "p4de.24xlarge");
        assert!(a100.fits);
        assert_eq!(
            a100.parallelism,
            Parallelism::Data {
                gpus: 8,
                framework: calculator::Framework::Deepspeed,
                zero_stage: 3
            }
        );
        // The missing memory names the framework and its sharding.
        let g5 = row(&p, "g5.xlarge");
        assert!(
            g5.missing
                .as_deref()
                .unwrap()
                .contains("with DeepSpeed ZeRO stage 3"),
            "{:?}",
            g5.missing
        );
        assert!(a100.max_batch_size.unwrap() >= 1);
        assert!(!row(&p, "g5.xlarge").fits);
        assert!(p.candidates[0].fits, "fitting rows come first");
    }

    #[test]
    fn non_cuda_accelerators_only_when_named_and_custom_gpus_priced_per_gpu() {
        let base = Workload::Inference(serving(1, 4096));
        let all = run("Qwen3-0.6B", &request(base.clone(), |_| {}));
        assert!(all.candidates.iter().all(|c| !c.gpu.starts_with("AWS")));
        let named = run(
            "Qwen3-0.6B",
            &request(base.clone(), |c| {
                c.gpus = vec!["AWS Inferentia2 (per chip)".into()]
            }),
        );
        assert!(named.candidates.iter().all(|c| c.gpu.starts_with("AWS")));
        assert!(named.candidates[0]
            .notes
            .iter()
            .any(|n| n.contains("Neuron")));

        let mut req = request(base, |c| c.gpus = vec!["lab-gpu".into()]);
        req.custom_gpus = vec![CustomGpu {
            name: "lab-gpu".into(),
            memory: Bytes(24 << 30),
            usd_per_hour: Some(0.5),
            bandwidth_gbps: None,
        }];
        let custom = plan(&model("Qwen3-0.6B"), &req, Catalog::embedded()).unwrap();
        let c = &custom.candidates[0];
        assert_eq!(
            (c.instance.as_deref(), c.gpu_count, c.usd_per_hour),
            (None, 1, Some(0.5))
        );
        assert_eq!(c.usd_per_month(), Some(0.5 * HOURS_PER_MONTH));
    }

    #[test]
    fn invalid_workloads_are_field_errors() {
        let mut r = serving(1, 4096);
        r.kv_cache_precision = Some(Precision::Int4);
        let err = plan(
            &registry::lookup("Qwen3-0.6B").unwrap().model,
            &request(Workload::Inference(r), |_| {}),
            Catalog::embedded(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("kv_cache_precision"), "{err}");
    }
}
