//! The planner's request and answer: what is planned, under which constraints, and
//! each candidate with its split, memory, capacity and price.

use calculator::{
    Bytes, Framework, InferenceEstimate, InferenceRequest, TrainingEstimate, TrainingRequest, Unit,
    VllmCapacity, Warning,
};

use crate::catalog::{Gpu, MemorySource, Platform, PriceSource};
use crate::performance::{Demand, Performance};
use crate::prices::HOURS_PER_MONTH;

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
    pub(crate) fn to_gpu(&self) -> Gpu {
        Gpu {
            name: self.name.clone(),
            platform: Platform::Cuda,
            memory_vendor_stated: None,
            usable_memory: Some((self.memory, MemorySource::Request)),
            cuda_total: None,
            bandwidth_gbps: self.bandwidth_gbps,
            bf16_dense_tflops: None,
            fp16_dense_tflops: None,
            fp8_dense_tflops: None,
            fp4_dense_tflops: None,
            int8_dense_tops: None,
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
    /// Training: let each candidate take the first DeepSpeed setting of
    /// [`SEARCH_ORDER`](super::SEARCH_ORDER) that fits, instead of the
    /// request's stage, offload and checkpointing.
    pub search: bool,
}

/// A traffic an inference plan sizes for: the lengths, the demand over every
/// instance together, and the latency targets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanTraffic {
    /// Mean prompt tokens.
    pub input_tokens: u64,
    /// Mean output tokens.
    pub output_tokens: u64,
    /// Concurrent clients or requests a second, over all instances; `None`: cost per
    /// token at the best load within the targets.
    pub demand: Option<Demand>,
    /// Median time-to-first-token target, seconds.
    pub ttft_target: Option<f64>,
    /// Median time-per-output-token target, seconds.
    pub tpot_target: Option<f64>,
    /// Experts spread whole over a replica's GPUs.
    pub expert_parallel: bool,
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
    /// The traffic an inference plan sizes for, when given.
    pub traffic: Option<PlanTraffic>,
    /// The unit the plan's sentences give sizes in (the answer's own unit).
    pub unit: Unit,
}

/// How a candidate serves its traffic (the plan's own load without one).
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateServing {
    /// What reaches each replica.
    pub load: Demand,
    /// A replica's performance under it.
    pub performance: Performance,
    /// Instances (or GPU sets) the demand needs; 1 without a demand.
    pub instances: u64,
    /// Replicas on one instance.
    pub replicas: u64,
    /// The most concurrent requests a replica takes within the targets.
    pub best_load: u64,
    /// Output tokens a second of one instance at that load: what the split is chosen by.
    pub capacity_output_tokens_per_s: f64,
    /// Whether the traffic states a demand (costs for it are then given).
    pub demand_given: bool,
    /// Output tokens a second of all the instances.
    pub output_tokens_per_s: f64,
    /// Prompt and output tokens a second of all the instances.
    pub total_tokens_per_s: f64,
    /// Requests a second of all the instances.
    pub requests_per_s: f64,
    /// USD a month for the demand (every instance it needs).
    pub usd_per_month_for_demand: Option<f64>,
    /// USD per million output tokens at this load.
    pub usd_per_million_output_tokens: Option<f64>,
    /// USD per million prompt and output tokens at this load.
    pub usd_per_million_tokens: Option<f64>,
    /// Whether the latency targets hold at this load.
    pub meets_targets: bool,
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
        /// Whether each replica keeps its routed experts whole, spread over its GPUs
        /// (vLLM's `--enable-expert-parallel`), rather than a slice of each on every GPU.
        expert_parallel: bool,
        /// Pipeline stages of a replica, one a node (`--pipeline-parallel-size`); 1
        /// within one node.
        pipeline_parallel: u64,
        /// Whether the replicas are data-parallel ranks of one engine that share whole
        /// experts (`--data-parallel-size` with `--enable-expert-parallel`), each rank
        /// keeping the attention and latent cache of its own requests.
        data_parallel_attention: bool,
    },
    /// Training: data parallel over `gpus`, with the request's framework.
    Data {
        /// Data-parallel GPUs.
        gpus: u64,
        /// The training framework, as resolved.
        framework: Framework,
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
    Training(Box<TrainingEstimate>),
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
    /// GPUs in the candidate, over all its nodes.
    pub gpu_count: u64,
    /// Instances (nodes) it spans: 1, or up to [`MAX_NODES`](super::MAX_NODES) for
    /// training sharded over several nodes or serving in pipeline stages.
    pub nodes: u64,
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
    /// Whether what is missing is memory (GPU or host), which more nodes can add.
    pub lacks_memory: bool,
    /// Hardware notes (dtype fallbacks, weight-only kernels, raised limits).
    pub notes: Vec<Warning>,
    /// How it serves (inference): its performance and cost per token, or why the
    /// serving model cannot say.
    pub serving: Option<Result<CandidateServing, String>>,
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
    /// Each source of the prices in force and the instance types it prices.
    pub price_sources: Vec<PriceSource>,
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
            let nodes = if c.nodes > 1 {
                format!(" ({} nodes)", c.nodes)
            } else {
                String::new()
            };
            return format!("{place}: {} x {}{nodes}, {price}", c.gpu_count, c.gpu);
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
