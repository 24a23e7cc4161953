//! vLLM's start-up memory plan (V1 engine, `vllm serve`, v0.11 to v0.20): the budget
//! `gpu_memory_utilization × total`, what the profile run takes out of it, and the KV
//! pool that is left, in whole blocks. Derivation and sources: `docs/methodology.md`
//! §10; validation against published start-up logs: `docs/accuracy.md`.

use crate::architecture::StateMixer;
use crate::choice::Choice;
use crate::error::{to_u64, CalcError};
use crate::forward::{forward_activation_bytes, ForwardPass, LogitRows};
use crate::kv_cache::{
    cached_bytes, indexer_bytes_per_token_layer, values_per_token_layer, CacheBytes,
};
use crate::model::Model;
use crate::precision::Precision;
use crate::runtime::{CUDA_CONTEXT_BYTES, FP32_BYTES};
use crate::units::{gib, Bytes};

/// vLLM's default `gpu_memory_utilization` (`CacheConfig`, v0.11 to v0.20): the share
/// of the GPU's total memory the instance may use; the rest is headroom for the CUDA
/// context, CUDA graphs, the allocator and other processes.
pub const DEFAULT_GPU_MEMORY_UTILIZATION: f64 = 0.9;

/// Tokens per KV-cache block on CUDA (`vllm/platforms/cuda.py`, when `block_size` is
/// unset).
pub const BLOCK_SIZE: u64 = 16;

/// Tokens per block of MLA caches: FlashMLA, vLLM's MLA backend on Hopper, needs a
/// multiple of 64.
pub const MLA_BLOCK_SIZE: u64 = 64;

/// vLLM serves with larger default batches on GPUs with at least this much memory
/// (70 GiB, `EngineArgs._set_default_args`), A100s excepted.
const LARGE_GPU_BYTES: u64 = 70 << 30;

/// Memory outside PyTorch's allocator that the profile run adds on one GPU (cuBLAS and
/// attention-backend handles, lazily loaded kernel images), in bytes. An allowance,
/// not a derivation: vLLM v0.19 reports 0.24-0.26 GiB on one H100 for five models
/// (llm-d-planner PR #205's logs); gemma-3-4b reported 0.07 GiB (vLLM PR #21489).
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
}

impl VllmSettings {
    /// Settings for a GPU of `gpu_memory` bytes, everything else at vLLM's defaults.
    pub fn new(gpu_memory: Bytes) -> VllmSettings {
        VllmSettings {
            gpu_memory,
            gpu_name: None,
            gpu_memory_utilization: DEFAULT_GPU_MEMORY_UTILIZATION,
            max_num_batched_tokens: None,
            max_num_seqs: None,
            enforce_eager: false,
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
    /// Weights, profile peak and non-torch memory: what the budget holds besides the
    /// KV cache.
    pub non_kv_memory: Bytes,
    /// CUDA-graph memory captured after the KV pool, outside the budget (allowance; 0
    /// with `enforce_eager`).
    pub cuda_graph_memory: Bytes,
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

/// Latent values per fp32 scale in vLLM's `fp8_ds_mla` cache layout (656 bytes per
/// token for DeepSeek-V3.2: 512 fp8 latent values, 4 scales, 64 bf16 rope values;
/// `MLAAttentionSpec.real_page_size_bytes` and the FlashMLA sparse backend).
const DS_MLA_SCALE_BLOCK: u128 = 128;

/// How vLLM lays its pool out for a model (per GPU): pages of `block` tokens, one page
/// per layer and block id, `group_size` layers sharing each block id's pages.
struct Pool {
    /// Tokens per block.
    block: u64,
    /// Tokens per block in the "GPU KV cache size" report.
    report_block: u64,
    /// Bytes of one layer's page: attention keys and values and indexer keys (a mixer
    /// layer's state is padded to the same size).
    page: u128,
    /// Bytes of `page` that hold attention keys and values.
    attention_page: u128,
    /// Bytes of `page` that hold the indexer's keys.
    indexer_page: u128,
    /// Layers per group.
    group_size: u128,
    /// Groups of every kind.
    groups: u128,
    /// Block ids one request of `max_model_len` takes, over all groups.
    blocks_per_request: u128,
    /// Of those, the attention groups'.
    attention_blocks_per_request: u128,
    /// Pages one request takes over all layers (what vLLM checks before it starts).
    pages_per_request: u128,
}

/// vLLM's kernel block alignment: attention blocks are a multiple of 16 tokens
/// (`HybridAttentionMambaModelConfig`: "some attention backends (e.g. FA) only support
/// setting block size to multiple of 16").
const BLOCK_ALIGNMENT: u64 = 16;

impl Pool {
    /// Attention only: full and sliding (or chunked) layers in groups; MLA blocks of 64;
    /// DeepSeek-V3.2's indexer keys beside the latent in each page.
    fn attention(model: &Model, gpus: u64, kv_precision: Precision, len: u64, step: u64) -> Pool {
        let block = if model.arch.mla.is_some() {
            MLA_BLOCK_SIZE
        } else {
            BLOCK_SIZE
        };
        let attention_page = match (model.arch.mla, model.arch.indexer) {
            // DeepSeek-V3.2's sparse kernels keep an fp8 cache as `fp8_ds_mla`: the
            // latent in fp8 with an fp32 scale per 128 values, the rope key in bf16.
            (Some(m), Some(_)) if kv_precision == Precision::Float8 => {
                let latent = m.kv_lora_rank as u128;
                let scales = latent.div_ceil(DS_MLA_SCALE_BLOCK) * FP32_BYTES;
                block as u128 * (latent + scales + 2 * m.qk_rope_head_dim as u128)
            }
            _ => cached_bytes(
                block as u128 * values_per_token_layer(model, gpus),
                kv_precision,
            ),
        };
        let indexer_page = model
            .arch
            .indexer
            .map_or(0, |ix| block as u128 * indexer_bytes_per_token_layer(ix));
        let layers = LayerGroups::of(model);
        let (full, sliding) = layers.groups();
        let blocks = layers.blocks_per_request(len, block, step) as u128;
        Pool {
            block,
            report_block: block,
            page: attention_page + indexer_page,
            attention_page,
            indexer_page,
            group_size: layers.group_size() as u128,
            groups: (full + sliding) as u128,
            blocks_per_request: blocks,
            attention_blocks_per_request: blocks,
            pages_per_request: layers.pages_per_request(len, block, step),
        }
    }

    /// Attention beside linear-attention or state-space layers
    /// (`HybridAttentionMambaModelConfig`, `MambaSpec`): one layer's whole state is a
    /// page, the attention block grows (in steps of 16 tokens) until its page holds
    /// that, and the state is padded to it; attention and mixer layers form groups by
    /// the rule of [`LayerGroups::group_size`]; a request takes `ceil(len/block)` block
    /// ids per attention group and one per mixer group.
    fn hybrid(
        model: &Model,
        m: StateMixer,
        gpus: u64,
        kv_precision: Precision,
        a: u128,
        len: u64,
    ) -> Pool {
        let arch = &model.arch;
        let per_token = cached_bytes(values_per_token_layer(model, gpus), kv_precision);
        let state = vllm_state_bytes(m, a, gpus);
        let block = BLOCK_ALIGNMENT * state.div_ceil(BLOCK_ALIGNMENT as u128 * per_token) as u64;
        let page = block as u128 * per_token;
        let (n_att, n_mix) = (arch.attention_layers, m.layers);
        let layers = LayerGroups {
            full: n_att,
            sliding: n_mix,
            window: 0,
            chunked: false,
        };
        let (att_groups, mix_groups) = layers.groups();
        let attention_blocks = (att_groups * len.div_ceil(block)) as u128;
        Pool {
            block,
            // "GPU KV cache size" counts in the smaller of the attention block and the
            // state's "block" (`max_model_len` tokens).
            report_block: block.min(len),
            page,
            attention_page: page,
            indexer_page: 0,
            group_size: layers.group_size() as u128,
            groups: (att_groups + mix_groups) as u128,
            blocks_per_request: attention_blocks + mix_groups as u128,
            attention_blocks_per_request: attention_blocks,
            pages_per_request: n_att as u128 * len.div_ceil(block) as u128 + n_mix as u128,
        }
    }
}

/// One mixer layer's state on one of `gpus` GPUs as vLLM keeps it
/// (`MambaStateShapeCalculator`, `MambaStateDtypeCalculator`): the convolution's last
/// `K − 1` inputs in the model dtype (`a` bytes) over the GPU's channels (Mamba-2's
/// B/C groups replicated up to the GPU count when they do not divide), and the
/// recurrent state in the model dtype or fp32.
fn vllm_state_bytes(m: StateMixer, a: u128, gpus: u64) -> u128 {
    let extra_groups = if m.groups > 0 && !m.groups.is_multiple_of(gpus) {
        gpus.saturating_sub(m.groups)
    } else {
        0
    };
    let channels = (m.conv_channels + extra_groups * m.group_channels) / gpus;
    let conv = channels as u128 * m.conv_kernel.saturating_sub(1) as u128 * a;
    let recurrent = if m.vllm_state_fp32 { FP32_BYTES } else { a };
    let per_head = (m.recurrent_state / m.heads.max(1)) as u128;
    conv + (m.heads / gpus) as u128 * per_head * recurrent
}

/// The attention layers of a model as vLLM's KV-cache manager groups them: full
/// attention and sliding-window layers get separate block tables.
struct LayerGroups {
    full: u64,
    sliding: u64,
    window: u64,
    chunked: bool,
}

impl LayerGroups {
    fn of(model: &Model) -> LayerGroups {
        let arch = &model.arch;
        let window = arch.sliding_window.unwrap_or(0);
        let sliding = if window > 0 { arch.sliding_layers } else { 0 };
        LayerGroups {
            full: arch.attention_layers - sliding,
            sliding,
            window,
            chunked: arch.chunked_window,
        }
    }

    /// Layers per group: vLLM splits a hybrid model into groups of the smaller layer
    /// count (padding the last), or of the larger when the two are within 1.5x; a
    /// uniform model is one group of every layer.
    fn group_size(&self) -> u64 {
        let (small, large) = (self.full.min(self.sliding), self.full.max(self.sliding));
        // Uniform (small == 0), or within 1.5x: groups of the larger count.
        if small == 0 || 2 * large < 3 * small {
            large
        } else {
            small
        }
    }

    /// `(full-attention groups, sliding-window groups)`.
    fn groups(&self) -> (u64, u64) {
        let g = self.group_size();
        (self.full.div_ceil(g), self.sliding.div_ceil(g))
    }

    /// Blocks one layer needs for a request of `len` tokens (`max_memory_usage_bytes`
    /// of its spec over the page size): a full layer keeps every token, a sliding one
    /// its window plus the tokens of one step, and one block more; a chunked one
    /// (`ChunkedLocalAttentionSpec`) one chunk plus the tokens of one step.
    fn layer_blocks(&self, len: u64, block: u64, step_tokens: u64) -> (u64, u64) {
        let windowed = if self.chunked {
            len.min(self.window + step_tokens).div_ceil(block)
        } else {
            len.min(self.window.saturating_sub(1) + step_tokens)
                .div_ceil(block)
                + 1
        };
        (len.div_ceil(block), windowed)
    }

    /// Blocks a request needs, summed over groups: what "Maximum concurrency" divides
    /// the pool by.
    fn blocks_per_request(&self, len: u64, block: u64, step_tokens: u64) -> u64 {
        let (full, sliding) = self.groups();
        let (f, s) = self.layer_blocks(len, block, step_tokens);
        full * f + sliding * s
    }

    /// Pages a request needs, summed over layers: what vLLM checks against the pool
    /// before it starts (padding layers of a group hold nothing).
    fn pages_per_request(&self, len: u64, block: u64, step_tokens: u64) -> u128 {
        let (f, s) = self.layer_blocks(len, block, step_tokens);
        self.full as u128 * f as u128 + self.sliding as u128 * s as u128
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
    non_kv: u128,
    requested: u128,
    available: u128,
    one_request: u128,
) -> Option<String> {
    let context = model.arch.max_position_embeddings;
    if available == 0 {
        Some(format!(
            "no memory is left for the KV cache: weights, the profile run's peak and non-torch memory need {:.2} GiB of the {:.2} GiB budget (gpu_memory_utilization x total)",
            gib(non_kv),
            gib(requested)
        ))
    } else if let Some(max) = context.filter(|m| max_model_len > *m) {
        Some(format!(
            "max_model_len {max_model_len} is longer than the model's context (max_position_embeddings {max}); vLLM refuses it"
        ))
    } else if one_request > available {
        Some(format!(
            "one request of max_model_len {max_model_len} tokens needs {:.2} GiB of KV cache, more than the {:.2} GiB available",
            gib(one_request),
            gib(available)
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
pub(crate) fn start_up(
    model: &Model,
    settings: &VllmSettings,
    gpus: u64,
    weights: u128,
    kv_precision: Precision,
    a: u128,
    max_model_len: u64,
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
    let non_kv = weights + peak + non_torch;
    let available = requested.saturating_sub(non_kv);

    check_model_support(model)?;
    let pool = match model.arch.mixer {
        Some(m) => Pool::hybrid(model, m, gpus, kv_precision, a, max_model_len),
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
    let graphs = if settings.enforce_eager {
        0
    } else {
        CUDA_GRAPH_BYTES_PER_LAYER as u128 * model.arch.num_layers as u128
    };
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
        outside_budget: to(CUDA_CONTEXT_BYTES as u128 + graphs)?,
        headroom: to((settings.gpu_memory.0 as u128).saturating_sub(requested))?,
        available_kv_cache_memory: to(available)?,
        budget_shortfall: to(non_kv.saturating_sub(requested))?,
        block_size: block,
        num_blocks: to(num_blocks)?.0,
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
            non_kv,
            requested,
            available,
            one_request,
        ),
    })
}
