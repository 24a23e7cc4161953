//! vLLM's start-up memory plan (V1 engine, `vllm serve`, v0.11 and later; see
//! [`VllmVersion`] for what changed at v0.21): the budget
//! `gpu_memory_utilization × total`, what the profile run takes out of it, and the KV
//! pool that is left, in whole blocks. Derivation and sources: `docs/methodology.md`
//! §10; validation against published start-up logs: `docs/accuracy.md`. The pool's
//! layout is `pool`.

mod pool;
mod splits;

pub use pool::{BlockTable, BLOCK_SIZE, MLA_BLOCK_SIZE};
pub use splits::{refused_split, KERNEL_REFUSAL};

use crate::choice::{choice, Choice};
use crate::error::{to_u64, CalcError};
use crate::forward::{forward_activation_bytes, ForwardPass, LogitRows};
use crate::kv_cache::CacheBytes;
use crate::model::Model;
use crate::precision::Precision;
use crate::runtime::CUDA_CONTEXT_BYTES;
use crate::units::{Bytes, Unit};
use pool::Pool;

/// The share of each GPU a plan lets a workload use when no engine default applies
/// (the transformers engine, training): 0.9, vLLM's own default before v0.21. The rest
/// is headroom for the CUDA context, the allocator and other processes. vLLM's default
/// is [`VllmVersion::default_gpu_memory_utilization`].
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;

choice!(
    /// The vLLM releases whose start-up budget this model follows; they differ in what
    /// the budget holds (`docs/methodology.md` §10).
    VllmVersion {
        /// v0.11 to v0.20: default `gpu_memory_utilization` 0.9; CUDA graphs captured
        /// after the pool, in the headroom.
        Upto020 => "0.11-0.20",
        /// v0.21 and later: default 0.92; the profiler's CUDA-graph estimate comes out
        /// of the budget, before the pool.
        From021 => "0.21+",
    } aliases = VllmVersion::of_release
);

/// The release a start-up follows when a request names none: the current one.
pub const DEFAULT_VLLM_VERSION: VllmVersion = VllmVersion::From021;

impl VllmVersion {
    /// `CacheConfig.gpu_memory_utilization`'s default: 0.9 before v0.21, 0.92 from it
    /// (vllm-project/vllm@002f10e0cfa1373a19a0d2756598a34b700d20e5 `vllm/config/cache.py`;
    /// the change is https://github.com/vllm-project/vllm/pull/38284).
    pub fn default_gpu_memory_utilization(self) -> f64 {
        match self {
            VllmVersion::Upto020 => DEFAULT_GPU_MEMORY_UTILIZATION,
            VllmVersion::From021 => 0.92,
        }
    }

    /// Whether the CUDA graphs come out of the budget: from v0.21 the memory profiler
    /// estimates them before sizing the pool (`VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS`
    /// on by default; v0.27.1's start-up log: "CUDA graph memory profiling is enabled
    /// (default since v0.21.0)", https://github.com/gpustack/runner/pull/251).
    pub fn graphs_in_budget(self) -> bool {
        self == VllmVersion::From021
    }

    /// Whether hybrids' state pages follow prefix caching's "align" mode: from v0.21
    /// prefix caching is on for hybrid models too, and `HybridAttentionMambaModelConfig`
    /// sets `mamba_cache_mode` "align" (a request keeps two state blocks per mixer
    /// group, `pool::ALIGN_STATE_BLOCKS`); before, hybrids ran without it.
    pub fn mamba_align(self) -> bool {
        self == VllmVersion::From021
    }

    /// The range a release number falls in (`0.19.0`, `0.21`, `0.27.1`); `None` before
    /// v0.11, whose start-up is not modelled, or for text that is not a release.
    pub fn of_release(release: &str) -> Option<VllmVersion> {
        let mut parts = release.trim().trim_start_matches(['v', 'V']).split('.');
        let major: u64 = parts.next()?.parse().ok()?;
        let minor: u64 = parts
            .next()?
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()?;
        match (major, minor) {
            (0, 0..=10) => None,
            (0, 11..=20) => Some(VllmVersion::Upto020),
            _ => Some(VllmVersion::From021),
        }
    }
}

/// vLLM serves with larger default batches on GPUs with at least this much memory
/// (70 GiB, `EngineArgs._set_default_args`, vllm-project/vllm@99d7eb5d6a512cfcc5a2b104f24ebf2d6cda772b `vllm/engine/arg_utils.py`), A100s excepted.
const LARGE_GPU_BYTES: u64 = 70 << 30;

/// Memory outside PyTorch's allocator that the profile run adds on one GPU (cuBLAS and
/// attention-backend handles, lazily loaded kernel images), in bytes. An allowance,
/// not a derivation: vLLM v0.19 reports 0.24-0.26 GiB on one H100 for five models
/// (llm-d-planner PR #205's logs, https://github.com/llm-d-incubation/llm-d-planner/pull/205); gemma-3-4b reported 0.07 GiB (vLLM PR #21489, https://github.com/vllm-project/vllm/pull/21489).
const NON_TORCH_SINGLE_GPU: u64 = 256 << 20;

/// The same under tensor parallelism, where NCCL communicators and vLLM's custom
/// all-reduce buffers are created during the profile run: 2.06-2.13 GiB on H100s at
/// TP 2 and 4 in the same logs. An allowance; PCIe GPUs without NVLink SHARP need less.
const NON_TORCH_TENSOR_PARALLEL: u64 = 2200 << 20;

/// CUDA-graph memory per decoder layer, in bytes: the piecewise graphs vLLM captures
/// per layer and batch size after the KV pool is allocated, outside the budget. An
/// allowance: the logs above report 0.91 GiB (32 layers), 1.09 GiB (42) and 1.79 GiB
/// (80), i.e. 23-29 MiB per layer; 32 MiB covers them.
const CUDA_GRAPH_BYTES_PER_LAYER: u64 = 32 << 20;

/// fp32 `[rows, vocab]` tensors of the sampler's warm-up besides the model-dtype
/// logits: the fp32 copy (`Sampler.forward`), the probabilities and the exponential
/// noise of the Gumbel-max draw (`random_sample`).
const SAMPLER_FP32_TENSORS: u128 = 3;

/// The engine settings a start-up depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct VllmSettings {
    /// Total memory of one GPU as the driver reports it, in bytes.
    pub gpu_memory: Bytes,
    /// The GPU's name, for vLLM's default batch (it excludes A100s); `None` if unknown.
    pub gpu_name: Option<String>,
    /// Share of `gpu_memory` the instance may use, in (0, 1].
    pub gpu_memory_utilization: f64,
    /// Tokens per scheduler step (the profile run's batch); `None` for the default.
    pub max_num_batched_tokens: Option<u64>,
    /// Sequences per step (the sampler warm-up's rows); `None` for the default.
    pub max_num_seqs: Option<u64>,
    /// `--enforce-eager`: no CUDA graphs.
    pub enforce_eager: bool,
    /// The releases whose start-up this follows.
    pub version: VllmVersion,
    /// `--enable-expert-parallel`: each GPU holds whole routed experts, spread over
    /// the `tensor_parallel × data_parallel_size` GPUs of the engine, instead of a slice
    /// of every expert (MoE models).
    pub expert_parallel: bool,
    /// `--data-parallel-size`: engine ranks, each with its own tensor-parallel group,
    /// scheduler and KV pool; with `expert_parallel` they share the experts.
    pub data_parallel_size: u64,
    /// `--pipeline-parallel-size`: consecutive stages of the decoder layers, each over
    /// its own tensor-parallel group (across nodes, typically one stage a node).
    pub pipeline_parallel_size: u64,
}

impl VllmSettings {
    /// Settings for a GPU of `gpu_memory` bytes, everything else at the current vLLM's
    /// defaults.
    pub fn new(gpu_memory: Bytes) -> VllmSettings {
        VllmSettings::of_version(gpu_memory, DEFAULT_VLLM_VERSION)
    }

    /// Settings for a GPU of `gpu_memory` bytes under `version`, at its defaults.
    pub fn of_version(gpu_memory: Bytes, version: VllmVersion) -> VllmSettings {
        VllmSettings {
            gpu_memory,
            gpu_name: None,
            gpu_memory_utilization: version.default_gpu_memory_utilization(),
            max_num_batched_tokens: None,
            max_num_seqs: None,
            enforce_eager: false,
            version,
            expert_parallel: false,
            data_parallel_size: 1,
            pipeline_parallel_size: 1,
        }
    }
}

/// `vllm serve`'s default batch for a GPU (`EngineArgs._set_default_args`, usage
/// context `OPENAI_API_SERVER`), with the rule that chose it.
pub fn serve_batch_defaults(gpu_memory: Bytes, gpu_name: Option<&str>) -> (u64, u64, &'static str) {
    let a100 = gpu_name.is_some_and(|n| n.to_ascii_lowercase().contains("a100"));
    if gpu_memory.0 >= LARGE_GPU_BYTES && !a100 {
        (8192, 1024, "vllm serve's default on GPUs with 70 GiB or more (A100s excepted): 8192 tokens, 1024 sequences")
    } else {
        (
            2048,
            256,
            "vllm serve's default on GPUs under 70 GiB and on A100s: 2048 tokens, 256 sequences",
        )
    }
}

/// What vLLM reports at start-up, per GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct VllmCapacity {
    /// `gpu_memory_utilization × total`, rounded up: the instance's budget.
    pub requested_memory: Bytes,
    /// Tokens per step, as used.
    pub max_num_batched_tokens: u64,
    /// Sequences per step, as used.
    pub max_num_seqs: u64,
    /// Which default chose the batch, when the request left it out.
    pub batch_defaults: Option<&'static str>,
    /// The profile run's peak above the weights (forward pass and sampler warm-up).
    pub profile_peak: Bytes,
    /// Non-torch memory the profile run adds (allowance).
    pub non_torch_memory: Bytes,
    /// Weights, profile peak, non-torch memory and (from v0.21) the CUDA graphs' estimate:
    /// what the budget holds besides the KV cache.
    pub non_kv_memory: Bytes,
    /// CUDA-graph memory (allowance; 0 with `enforce_eager`): captured after the KV pool,
    /// outside the budget, before v0.21; estimated inside the budget from v0.21.
    pub cuda_graph_memory: Bytes,
    /// Whether decode steps replay CUDA graphs (not `enforce_eager`).
    pub cuda_graphs: bool,
    /// Whether the CUDA graphs come out of the budget (v0.21 and later).
    pub cuda_graphs_in_budget: bool,
    /// What lives outside the budget: the CUDA context and the CUDA graphs.
    pub outside_budget: Bytes,
    /// What `gpu_memory_utilization` leaves of the GPU: `total − requested`.
    pub headroom: Bytes,
    /// The budget left for the KV cache ("Available KV cache memory"); 0 when the rest
    /// of the budget already exceeds it.
    pub available_kv_cache_memory: Bytes,
    /// How far the budget falls short of weights, profile peak and non-torch memory.
    pub budget_shortfall: Bytes,
    /// Tokens per block.
    pub block_size: u64,
    /// Blocks per layer group (`num_gpu_blocks`).
    pub num_blocks: u64,
    /// Block ids a request holds at each length.
    pub block_table: BlockTable,
    /// "GPU KV cache size", in tokens.
    pub kv_cache_tokens: u64,
    /// Bytes the pool allocates: whole blocks of every layer.
    pub kv_cache_bytes: Bytes,
    /// The pool by what its pages hold (attention keys and values, indexer keys).
    pub pool_by_kind: CacheBytes,
    /// `max_model_len`: prompt plus generated tokens of one request.
    pub max_model_len: u64,
    /// KV-cache bytes one request of `max_model_len` tokens needs (what vLLM checks
    /// before it starts).
    pub request_kv_bytes: Bytes,
    /// "Maximum concurrency for `max_model_len` tokens per request".
    pub max_concurrency: f64,
    /// Whole requests of `max_model_len` tokens the pool holds at once, at most
    /// `max_num_seqs`.
    pub max_sequences: u64,
    /// Why vLLM would refuse to start, if it would.
    pub refusal: Option<String>,
}

impl VllmCapacity {
    /// Whether vLLM starts with these settings.
    pub fn starts(&self) -> bool {
        self.refusal.is_none()
    }

    /// Whether the headroom holds what lives outside the budget; if not, start-up runs
    /// out of memory when it captures the CUDA graphs.
    pub fn headroom_suffices(&self) -> bool {
        self.outside_budget <= self.headroom
    }
}

/// The scheduler's limits as vLLM resolves them: `(max_num_batched_tokens,
/// max_num_seqs, the default rule when one applied)`. A defaulted step never exceeds
/// what `max_num_seqs` requests could fill, and a defaulted `max_num_seqs` never
/// exceeds the step; given values must satisfy `max_num_batched_tokens ≥ max_num_seqs`
/// (vLLM's `SchedulerConfig` refuses anything else).
fn batch_limits(
    settings: &VllmSettings,
    max_model_len: u64,
) -> Result<(u64, u64, Option<&'static str>), CalcError> {
    let (default_tokens, default_seqs, rule) =
        serve_batch_defaults(settings.gpu_memory, settings.gpu_name.as_deref());
    let seqs = settings.max_num_seqs.unwrap_or(default_seqs);
    let tokens = settings
        .max_num_batched_tokens
        .unwrap_or_else(|| default_tokens.min(seqs.saturating_mul(max_model_len)));
    let seqs = match settings.max_num_seqs {
        Some(s) if s > tokens => {
            return Err(CalcError::field(
                "max_num_seqs",
                format!("must be at most max_num_batched_tokens ({tokens}): vLLM schedules one token per sequence and step at least; raise max_num_batched_tokens"),
            ))
        }
        Some(s) => s,
        None => seqs.min(tokens),
    };
    let defaulted = settings.max_num_batched_tokens.is_none() || settings.max_num_seqs.is_none();
    Ok((tokens, seqs, defaulted.then_some(rule)))
}

/// Why vLLM would refuse to start, if it would: nothing left for the KV cache, a
/// `max_model_len` past the model's context, or one request larger than the pool.
fn refusal(
    model: &Model,
    max_model_len: u64,
    [non_kv, requested, available, one_request]: [u128; 4],
    unit: Unit,
) -> Option<String> {
    let said = |b: u128| Bytes(b.min(u64::MAX as u128) as u64).format(unit);
    let context = model.arch.max_position_embeddings;
    if available == 0 {
        Some(format!(
            "no memory is left for the KV cache: weights, the profile run's peak, non-torch memory and (from vLLM 0.21) the CUDA graphs' estimate need {} of the {} budget (gpu_memory_utilization x total)",
            said(non_kv),
            said(requested)
        ))
    } else if let Some(max) = context.filter(|m| max_model_len > *m) {
        Some(format!(
            "max_model_len {max_model_len} is longer than the model's context (max_position_embeddings {max}); vLLM refuses it"
        ))
    } else if one_request > available {
        Some(format!(
            "one request of max_model_len {max_model_len} tokens needs {} of KV cache, more than the {} available",
            said(one_request),
            said(available)
        ))
    } else {
        None
    }
}

/// Models whose vLLM pool is not modelled: no attention layers, or linear-attention
/// and state-space layers beside MLA or windowed attention.
fn check_model_support(model: &Model) -> Result<(), CalcError> {
    let arch = &model.arch;
    if arch.attention_layers == 0 {
        return Err(CalcError::field(
            "engine",
            "vLLM's pool for a model without attention layers is not modelled; use engine transformers",
        ));
    }
    if let Some(m) = arch
        .mixer
        .filter(|_| arch.mla.is_some() || arch.sliding_layers > 0)
    {
        return Err(CalcError::field(
            "engine",
            format!(
                "vLLM's pool for {} layers beside MLA or windowed attention is not modelled; use engine transformers",
                m.kind.name()
            ),
        ));
    }
    Ok(())
}

/// What a start-up refuses whatever the GPU: scheduler limits that do not hold
/// together even with the loosest GPU's defaults (the largest GPUs', 8192 tokens), and
/// models whose pool is not modelled.
pub(crate) fn check_start_up(
    model: &Model,
    settings: &VllmSettings,
    max_model_len: u64,
) -> Result<(), CalcError> {
    let loosest = VllmSettings {
        gpu_memory: Bytes(u64::MAX),
        gpu_name: None,
        ..settings.clone()
    };
    batch_limits(&loosest, max_model_len)?;
    check_model_support(model)
}

/// vLLM's start-up on one GPU of `settings`, for a model whose weights take `weights`
/// bytes per GPU under `gpus`-way tensor parallelism, `max_model_len` tokens per request
/// and a KV cache in `kv_precision`; `a` is the compute dtype's bytes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_up(
    model: &Model,
    settings: &VllmSettings,
    gpus: u64,
    weights: u128,
    kv_precision: Precision,
    a: u128,
    max_model_len: u64,
    unit: Unit,
) -> Result<VllmCapacity, CalcError> {
    let (max_num_batched_tokens, max_num_seqs, batch_defaults) =
        batch_limits(settings, max_model_len)?;
    let requested = (settings.gpu_memory.0 as f64 * settings.gpu_memory_utilization).ceil() as u128;
    let pass = ForwardPass {
        tokens: max_num_batched_tokens as u128,
        sequences: max_num_seqs as u128,
        eager_scores: None,
        logits: LogitRows::Sampled {
            rows: max_num_seqs as u128,
            fp32_tensors: SAMPLER_FP32_TENSORS,
        },
    };
    let peak = forward_activation_bytes(model, pass, gpus, a);
    let non_torch = if gpus > 1 {
        NON_TORCH_TENSOR_PARALLEL
    } else {
        NON_TORCH_SINGLE_GPU
    } as u128;
    let graphs = if settings.enforce_eager {
        0
    } else {
        CUDA_GRAPH_BYTES_PER_LAYER as u128 * model.arch.num_layers as u128
    };
    // From v0.21 the profiler's estimate of the graphs is taken out of the budget; before,
    // they are captured after the pool, in the headroom.
    let graphs_in_budget = if settings.version.graphs_in_budget() {
        graphs
    } else {
        0
    };
    let non_kv = weights + peak + non_torch + graphs_in_budget;
    let available = requested.saturating_sub(non_kv);

    check_model_support(model)?;
    let pool = match model.arch.mixer {
        Some(m) => Pool::hybrid(
            model,
            m,
            gpus,
            kv_precision,
            (a, max_model_len),
            settings.version.mamba_align(),
        ),
        None => Pool::attention(
            model,
            gpus,
            kv_precision,
            max_model_len,
            max_num_batched_tokens,
        ),
    };
    let (block, page, group_size) = (pool.block, pool.page, pool.group_size);
    let num_blocks = available / page / group_size;
    let blocks_per_request = pool.blocks_per_request;
    let one_request = pool.pages_per_request * page;
    let pool_bytes = num_blocks * page * group_size;
    // Attention's share of a full-length request's blocks (the rest are state pages).
    let attention_pool = pool_bytes * pool.attention_blocks_per_request / blocks_per_request;
    let to = |v: u128| to_u64(v).map(Bytes);
    Ok(VllmCapacity {
        requested_memory: to(requested)?,
        max_num_batched_tokens,
        max_num_seqs,
        batch_defaults,
        profile_peak: to(peak)?,
        non_torch_memory: to(non_torch)?,
        non_kv_memory: to(non_kv)?,
        cuda_graph_memory: to(graphs)?,
        cuda_graphs: !settings.enforce_eager,
        cuda_graphs_in_budget: graphs_in_budget > 0,
        outside_budget: to(CUDA_CONTEXT_BYTES as u128 + graphs - graphs_in_budget)?,
        headroom: to((settings.gpu_memory.0 as u128).saturating_sub(requested))?,
        available_kv_cache_memory: to(available)?,
        budget_shortfall: to(non_kv.saturating_sub(requested))?,
        block_size: block,
        num_blocks: to(num_blocks)?.0,
        block_table: pool.table,
        kv_cache_tokens: to(num_blocks / pool.groups * pool.report_block as u128)?.0,
        kv_cache_bytes: to(pool_bytes)?,
        pool_by_kind: CacheBytes {
            attention: attention_pool * pool.attention_page / page,
            indexer: attention_pool * pool.indexer_page / page,
            state: pool_bytes - attention_pool,
        },
        max_model_len,
        request_kv_bytes: to(one_request)?,
        max_concurrency: num_blocks as f64 / blocks_per_request as f64,
        max_sequences: (num_blocks / blocks_per_request).min(max_num_seqs as u128) as u64,
        refusal: refusal(
            model,
            max_model_len,
            [non_kv, requested, available, one_request],
            unit,
        ),
    })
}
