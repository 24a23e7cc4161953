//! Inference memory: weights, KV cache, prefill activations, runtime overhead.
//!
//! Derivations and sources: `docs/methodology.md`, section "Inference".

use std::borrow::Cow;

use crate::checkpoint::ModuleScope;
use crate::choice::{choice, Choice};
use crate::error::{check_weights, to_u64, CalcError};
use crate::forward::{forward_activation_bytes, ForwardPass, LogitRows};
use crate::kv_cache::{cache_bytes, CacheBytes};
use crate::limits::{self, DecimalRange};
use crate::model::Model;
use crate::pipeline;
use crate::precision::{Precision, Quantization, WeightFormat};
use crate::runtime::{compute_bytes, CUDA_CONTEXT_BYTES, QUANTIZED_COMPUTE_DTYPE};
use crate::units::{Bytes, Unit};
use crate::vllm::{self, VllmCapacity, VllmSettings};
use crate::warning::{Warning, WarningCode};
use crate::weights::{
    resolve_weight_storage, routed_expert_bytes, unties_lm_head, weight_bytes, WeightStorage,
};

choice!(
    /// Which positions' logits a forward pass over the prompt computes.
    #[derive(Default)]
    Logits {
        /// The last position of each sequence: what a generating server computes (vLLM,
        /// TGI, transformers' `generate`, which upcasts them to fp32 and takes the
        /// softmax).
        #[default]
        Last => "last",
        /// Every prompt position, in the compute dtype: scoring a prompt (perplexity,
        /// log-probabilities of the prompt).
        All => "all",
    }
);

choice!(
    /// The serving engines, by name.
    EngineKind {
        /// Hugging Face transformers' `generate()`.
        Transformers => "transformers",
        /// vLLM.
        Vllm => "vllm",
    }
);

/// The software that serves the model: it decides what the KV cache holds and what
/// the GPU keeps besides.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Engine {
    /// Hugging Face transformers' `generate()`: the cache of the batch's own tokens, the
    /// prefill of the whole prompt at once.
    #[default]
    Transformers,
    /// vLLM: a KV pool of everything its memory budget leaves (methodology §10).
    Vllm(VllmSettings),
}

impl Engine {
    /// Which engine this is.
    pub fn kind(&self) -> EngineKind {
        match self {
            Engine::Transformers => EngineKind::Transformers,
            Engine::Vllm(_) => EngineKind::Vllm,
        }
    }

    /// `transformers` or `vllm`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// An inference request, after parsing. Token counts are per sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceRequest {
    /// Weight precision; `None` uses the model's `torch_dtype` (or the format's).
    pub precision: Option<Precision>,
    /// Named quantized format, where its storage differs from the generic one.
    pub quantization: Option<Quantization>,
    /// Group size of group-wise integer quantization (default 128).
    pub group_size: Option<u64>,
    /// KV-cache precision; `None` is the compute dtype (bfloat16 for quantized weights).
    pub kv_cache_precision: Option<Precision>,
    /// Sequences processed together.
    pub batch_size: u64,
    /// Prompt tokens per sequence.
    pub sequence_length: u64,
    /// Tokens generated per sequence (0: a single forward pass over the prompt).
    pub max_new_tokens: u64,
    /// Which positions' logits the prompt's forward pass computes.
    pub logits: Logits,
    /// Flash/memory-efficient attention (no materialised score matrix).
    pub use_flash_attention: bool,
    /// Load the multi-token-prediction layers the checkpoint stores (MTP speculative
    /// decoding); off by default, as transformers and vLLM without it do not.
    pub load_mtp: bool,
    /// GPUs the model is split over with tensor parallelism.
    pub num_gpus: u64,
    /// The serving engine.
    pub engine: Engine,
    /// The unit the answer's sentences give sizes in (its figures are bytes).
    pub unit: Unit,
}

impl InferenceRequest {
    /// A request with every optional field at its default.
    pub fn new(batch_size: u64, sequence_length: u64) -> InferenceRequest {
        InferenceRequest {
            precision: None,
            quantization: None,
            group_size: None,
            kv_cache_precision: None,
            batch_size,
            sequence_length,
            max_new_tokens: 0,
            logits: Logits::Last,
            use_flash_attention: true,
            num_gpus: 1,
            engine: Engine::Transformers,
            load_mtp: false,
            unit: Unit::Gb,
        }
    }
}

/// Inference memory per GPU, with the inputs as resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceEstimate {
    /// How the weights are stored.
    pub weight_format: WeightFormat,
    /// Linear weights the published checkpoint keeps in 16-bit (when sized in its
    /// format).
    pub unquantized_modules: Vec<ModuleScope>,
    /// Precision of the KV cache.
    pub kv_cache_precision: Precision,
    /// Weights (with quantization scales) held by one GPU.
    pub model_weights: Bytes,
    /// KV cache of `batch_size x (sequence_length + max_new_tokens)` tokens on one GPU
    /// (with vLLM, its whole pool), every kind together.
    pub kv_cache: Bytes,
    /// The same cache by what keeps it.
    pub cache_by_kind: CacheBytes,
    /// Transient peak of the prefill forward pass on one GPU.
    pub activation_memory: Bytes,
    /// CUDA context and library state of one GPU.
    pub runtime_overhead: Bytes,
    /// Sum of the above: what one GPU must hold.
    pub inference_memory: Bytes,
    /// vLLM's start-up report, with the `vllm` engine.
    pub vllm: Option<VllmCapacity>,
    /// Assumptions and notes.
    pub warnings: Vec<Warning>,
}

/// fp32 `[batch, vocab]` tensors of transformers' `generate()` step: the logits of the
/// last position copied to fp32, and the probabilities after the logits processors.
const GENERATE_FP32_TENSORS: u128 = 2;

/// The prefill of a transformers `generate()` call: every prompt token of the batch in
/// one pass.
fn prefill_pass(req: &InferenceRequest) -> ForwardPass {
    let b = req.batch_size as u128;
    let s = req.sequence_length as u128;
    ForwardPass {
        tokens: b * s,
        sequences: b,
        eager_scores: (!req.use_flash_attention).then_some((b, s)),
        logits: match req.logits {
            Logits::Last => LogitRows::Sampled {
                rows: b,
                fp32_tensors: GENERATE_FP32_TENSORS,
            },
            Logits::All => LogitRows::Every,
        },
    }
}

/// The request's own errors, without sizing anything or naming a GPU: the ranges, the
/// multi-token-prediction layers, the weight format, the tensor-parallel split, and
/// the vLLM settings and models vLLM's memory plan cannot express. vLLM's scheduler
/// limits are held to the loosest GPU's defaults here (a plan checks each GPU's own
/// when it starts vLLM there). [`estimate_inference`] refuses the same requests.
pub fn check_inference(model: &Model, req: &InferenceRequest) -> Result<(), CalcError> {
    let model = checked_model(model, req)?;
    let mut warnings = Vec::new();
    let storage = checked_storage(&model, req, &mut warnings)?;
    if let Engine::Vllm(settings) = &req.engine {
        check_vllm_request(settings, kv_precision(req, &storage.format))?;
        vllm::check_start_up(&model, settings, req.sequence_length + req.max_new_tokens)?;
    }
    Ok(())
}

/// The model as the request loads it (with its multi-token-prediction layers when
/// asked), after the workload's ranges.
fn checked_model<'m>(
    model: &'m Model,
    req: &InferenceRequest,
) -> Result<Cow<'m, Model>, CalcError> {
    limits::check_workload(req.batch_size, req.sequence_length, req.num_gpus)?;
    limits::MAX_NEW_TOKENS_RANGE.check(req.max_new_tokens)?;
    Ok(if req.load_mtp {
        Cow::Owned(model.with_mtp_layers()?)
    } else {
        Cow::Borrowed(model)
    })
}

/// How the weights are stored, and whether the tensor-parallel split is one the
/// model's heads allow.
fn checked_storage<'m>(
    model: &'m Model,
    req: &InferenceRequest,
    warnings: &mut Vec<Warning>,
) -> Result<WeightStorage<'m>, CalcError> {
    let storage = resolve_weight_storage(
        model,
        req.precision,
        req.quantization,
        req.group_size,
        warnings,
    )?;
    check_tensor_parallel(model, &req.engine, req.num_gpus, warnings)?;
    if let Engine::Vllm(settings) = &req.engine {
        check_parallel(model, settings, req.num_gpus)?;
        let refused = vllm::refused_split(
            &model.arch,
            &storage.format,
            storage.unquantized,
            req.num_gpus,
            settings.expert_parallel,
        );
        if let Some(why) = refused {
            return Err(CalcError::field("num_gpus", why));
        }
    }
    Ok(storage)
}

/// The KV cache's precision: the request's, else the compute dtype.
fn kv_precision(req: &InferenceRequest, format: &WeightFormat) -> Precision {
    req.kv_cache_precision
        .unwrap_or(if format.precision.is_quantized() {
            QUANTIZED_COMPUTE_DTYPE
        } else {
            format.precision
        })
}

/// Memory one GPU needs to serve `req`.
pub fn estimate_inference(
    model: &Model,
    req: &InferenceRequest,
) -> Result<InferenceEstimate, CalcError> {
    let model = checked_model(model, req)?;
    let model = model.as_ref();
    let mut warnings = model.warnings.clone();
    let storage = checked_storage(model, req, &mut warnings)?;
    let format = storage.format;
    let arch = &model.arch;
    let gpus = req.num_gpus;
    let kv_precision = kv_precision(req, &format);
    let tokens = req.sequence_length + req.max_new_tokens;
    if let Some(max) = arch.max_position_embeddings {
        if tokens > max {
            warnings.push(Warning::new(WarningCode::ExceedsMaxPositions, format!(
                "sequence_length + max_new_tokens = {tokens} exceeds the model's max_position_embeddings ({max})"
            )));
        }
    }

    if unties_lm_head(model, &format) {
        warnings.push(Warning::new(
            WarningCode::Fp8UntiedLmHead,
            "fp8 checkpoints of tied models store lm_head as its own 16-bit matrix; it is counted",
        ));
    }
    let mut weights = weights_per_gpu(model, &storage, &req.engine, gpus);
    check_weights(weights)?;
    let a = compute_bytes(format.precision);
    let context = CUDA_CONTEXT_BYTES as u128;
    let (cache, activations, overhead, vllm) = match &req.engine {
        Engine::Transformers => (
            cache_bytes(
                model,
                kv_precision,
                a,
                req.batch_size as u128,
                tokens as u128,
                gpus,
            ),
            forward_activation_bytes(model, prefill_pass(req), gpus, a),
            context,
            None,
        ),
        Engine::Vllm(settings) => {
            check_vllm_gpu(settings)?;
            check_vllm_request(settings, kv_precision)?;
            let (c, stage_weights) = if settings.pipeline_parallel_size > 1 {
                limiting_stage(
                    model,
                    &storage,
                    settings,
                    gpus,
                    kv_precision,
                    a,
                    tokens,
                    req.unit,
                )?
            } else {
                let c = vllm::start_up(
                    model,
                    settings,
                    gpus,
                    weights,
                    kv_precision,
                    a,
                    tokens,
                    req.unit,
                )?;
                (c, weights)
            };
            weights = stage_weights;
            vllm_warnings(req, &c, &mut warnings);
            if settings.expert_parallel {
                warnings.push(Warning::new(
                    WarningCode::ExpertParallelUnvalidated,
                    "expert parallelism: each GPU holds whole experts; the all-to-all backend's buffers (vLLM's all2all_backend: NCCL, DeepEP, pplx) are not counted beyond the tensor-parallel non-torch allowance, and no published start-up checks it",
                ));
            }
            if req.load_mtp && arch.mixer.is_some() {
                warnings.push(Warning::new(WarningCode::VllmMtpStateNotCounted,
                    "with MTP speculative decoding vLLM also widens each state layer's convolution state and keeps one more state block per speculative token and request; not counted")
                );
            }
            let overhead = context + c.non_torch_memory.0 as u128 + c.cuda_graph_memory.0 as u128;
            (c.pool_by_kind, c.profile_peak.0 as u128, overhead, Some(c))
        }
    };
    let kv = cache.total();
    let total = weights + kv + activations + overhead;
    Ok(InferenceEstimate {
        weight_format: format,
        unquantized_modules: storage.unquantized.to_vec(),
        kv_cache_precision: kv_precision,
        model_weights: Bytes(to_u64(weights)?),
        kv_cache: Bytes(to_u64(kv)?),
        cache_by_kind: cache,
        activation_memory: Bytes(to_u64(activations)?),
        runtime_overhead: Bytes(to_u64(overhead)?),
        inference_memory: Bytes(to_u64(total)?),
        vllm,
        warnings,
    })
}

/// Bytes of weights on one GPU of `gpus`-way tensor parallelism: a slice of every
/// matrix, or under vLLM's expert parallelism a slice of every other matrix and whole
/// experts, as many as the busiest of the `gpus × data_parallel_size` GPUs holds
/// (vLLM gives the first `E mod ranks` ranks one more).
fn weights_per_gpu(model: &Model, storage: &WeightStorage, engine: &Engine, gpus: u64) -> u128 {
    let all = weight_bytes(model, storage);
    let (Engine::Vllm(s), Some(moe)) = (engine, &model.arch.moe) else {
        return all.div_ceil(gpus as u128);
    };
    if !s.expert_parallel {
        return all.div_ceil(gpus as u128);
    }
    let experts = routed_expert_bytes(model, &storage.format).min(all);
    let ranks = (gpus * s.data_parallel_size) as u128;
    let per_expert = experts.div_ceil(moe.num_experts.max(1) as u128);
    let local = (moe.num_experts as u128).div_ceil(ranks);
    (all - experts).div_ceil(gpus as u128) + local * per_expert
}

/// vLLM's start-up on the pipeline stage that holds the fewest KV blocks (vLLM sizes
/// every stage's pool alike, by the smallest), or the first that refuses, with that
/// stage's weights per GPU.
#[allow(clippy::too_many_arguments)]
fn limiting_stage(
    model: &Model,
    storage: &WeightStorage,
    settings: &VllmSettings,
    gpus: u64,
    kv_precision: Precision,
    a: u128,
    tokens: u64,
    unit: Unit,
) -> Result<(VllmCapacity, u128), CalcError> {
    let mut worst: Option<(VllmCapacity, u128)> = None;
    for stage in pipeline::stages(model, storage, settings.pipeline_parallel_size)? {
        let weights = stage.weight_bytes.div_ceil(gpus as u128);
        check_weights(weights)?;
        let c = vllm::start_up(
            &stage.model,
            settings,
            gpus,
            weights,
            kv_precision,
            a,
            tokens,
            unit,
        )?;
        let worse = worst
            .as_ref()
            .is_none_or(|(w, _)| w.starts() && (!c.starts() || c.num_blocks < w.num_blocks));
        if worse {
            worst = Some((c, weights));
        }
    }
    Ok(worst.expect("at least one stage"))
}

/// vLLM's parallel settings: expert parallelism needs routed experts, and the engine's
/// GPUs (`num_gpus × data_parallel_size`) stay within the limit.
fn check_parallel(model: &Model, s: &VllmSettings, gpus: u64) -> Result<(), CalcError> {
    limits::DATA_PARALLEL_SIZE.check(s.data_parallel_size)?;
    limits::PIPELINE_PARALLEL_SIZE.check(s.pipeline_parallel_size)?;
    // Stages and whole experts are sized from the architecture's own matrices, which a
    // `model_size` override does not describe.
    let split = if s.pipeline_parallel_size > 1 {
        Some("pipeline_parallel_size")
    } else if s.expert_parallel {
        Some("expert_parallel")
    } else {
        None
    };
    if let Some(field) = split.filter(|_| !model.counts_from_architecture()) {
        return Err(CalcError::field(
            field,
            "needs the model's architecture: with model_size the parameter count is not the layers' and experts' own; give model_name or config",
        ));
    }
    if s.pipeline_parallel_size > 1 {
        pipeline::check(model, s.pipeline_parallel_size)?;
        if s.expert_parallel {
            return Err(CalcError::field(
                "pipeline_parallel_size",
                "pipeline stages with expert parallelism are not modelled; use one or the other",
            ));
        }
    }
    if s.expert_parallel && model.arch.moe.is_none() {
        return Err(CalcError::field(
            "expert_parallel",
            "applies to MoE models: the model has no routed experts to spread",
        ));
    }
    let engine_gpus = gpus
        .saturating_mul(s.data_parallel_size)
        .saturating_mul(s.pipeline_parallel_size);
    if engine_gpus > limits::MAX_NUM_GPUS {
        let field = if s.pipeline_parallel_size > 1 {
            "pipeline_parallel_size"
        } else {
            "data_parallel_size"
        };
        return Err(CalcError::field(
            field,
            format!(
                "num_gpus x data_parallel_size x pipeline_parallel_size must be at most {} GPUs",
                limits::MAX_NUM_GPUS
            ),
        ));
    }
    Ok(())
}

/// Tensor parallelism splits attention heads; vLLM also splits or replicates whole
/// key/value heads (`QKVParallelLinear`), so their count and the GPUs' must divide one
/// another.
fn check_tensor_parallel(
    model: &Model,
    engine: &Engine,
    gpus: u64,
    warnings: &mut Vec<Warning>,
) -> Result<(), CalcError> {
    let arch = &model.arch;
    if !arch.num_heads.is_multiple_of(gpus) {
        return Err(CalcError::field(
            "num_gpus",
            format!(
                "tensor parallelism splits attention heads: must divide num_attention_heads ({})",
                arch.num_heads
            ),
        ));
    }
    if let Some(m) = arch.mixer.filter(|m| !m.heads.is_multiple_of(gpus)) {
        return Err(CalcError::field(
            "num_gpus",
            format!(
                "tensor parallelism splits the {} heads too: must divide their count ({})",
                m.kind.name(),
                m.heads
            ),
        ));
    }
    let kv = arch.num_kv_heads;
    let vllm = matches!(engine, Engine::Vllm(_));
    if vllm && arch.mla.is_none() && !kv.is_multiple_of(gpus) && !gpus.is_multiple_of(kv) {
        return Err(CalcError::field(
            "num_gpus",
            format!("vLLM splits or replicates whole key/value heads: num_gpus must divide num_key_value_heads ({kv}) or be a multiple of it"),
        ));
    }
    // MLA models have a KV head per query head, which `gpus` divides: never fewer.
    if kv < gpus {
        warnings.push(Warning::new(
            WarningCode::KvHeadsReplicated,
            format!(
            "{kv} key/value heads over {gpus} GPUs: each GPU keeps a replica of one head's cache"
        ),
        ));
    }
    Ok(())
}

/// The GPU vLLM starts on: its memory and the share of it the instance may use.
fn check_vllm_gpu(settings: &VllmSettings) -> Result<(), CalcError> {
    limits::GPU_MEMORY_UTILIZATION.check(settings.gpu_memory_utilization)?;
    limits::GPU_MEMORY.check(settings.gpu_memory.0)?;
    Ok(())
}

/// What vLLM cannot express: scheduler limits out of range, integer KV caches.
fn check_vllm_request(settings: &VllmSettings, kv_precision: Precision) -> Result<(), CalcError> {
    if let Some(t) = settings.max_num_batched_tokens {
        limits::MAX_NUM_BATCHED_TOKENS.check(t)?;
    }
    if let Some(s) = settings.max_num_seqs {
        limits::MAX_NUM_SEQS.check(s)?;
    }
    if kv_precision.is_quantized() && kv_precision != Precision::Float8 {
        return Err(CalcError::field(
            "kv_cache_precision",
            "vLLM caches keys and values in the model's dtype or in float8; integer caches are a transformers option",
        ));
    }
    Ok(())
}

/// Notes on a vLLM start-up: settings it ignores, a batch larger than the pool, a
/// refusal to start, too little headroom for what lives outside the budget.
fn vllm_warnings(req: &InferenceRequest, c: &VllmCapacity, warnings: &mut Vec<Warning>) {
    if !req.use_flash_attention || req.logits == Logits::All {
        warnings.push(Warning::new(WarningCode::VllmIgnoresSetting,
            "vLLM always uses its paged attention kernels and computes the last position's logits; use_flash_attention and logits apply to the transformers engine")
        );
    }
    if let Some(rule) = c.batch_defaults {
        warnings.push(Warning::new(
            WarningCode::VllmBatchDefaults,
            format!(
                "max_num_batched_tokens {} and max_num_seqs {}: {rule}",
                c.max_num_batched_tokens, c.max_num_seqs
            ),
        ));
    }
    if let Some(why) = &c.refusal {
        warnings.push(Warning::new(
            WarningCode::VllmWouldNotStart,
            format!("vLLM would not start: {why}"),
        ));
    } else if req.batch_size > c.max_sequences {
        warnings.push(Warning::new(WarningCode::VllmQueues, format!(
            "the KV cache holds {} of {} tokens at once; the other {} of batch_size {} wait in vLLM's queue",
            crate::counted(c.max_sequences, "request"),
            c.max_model_len,
            req.batch_size - c.max_sequences,
            req.batch_size
        )));
    }
    if !c.headroom_suffices() {
        warnings.push(Warning::new(WarningCode::VllmHeadroomShort, format!(
            "{} (about {}) live outside the budget, in the {} that gpu_memory_utilization leaves: start-up may run out of memory; lower gpu_memory_utilization{}",
            if c.cuda_graphs && !c.cuda_graphs_in_budget {
                "the CUDA context and CUDA graphs"
            } else {
                "the CUDA context"
            },
            c.outside_budget.format(req.unit),
            c.headroom.format(req.unit),
            if c.cuda_graphs && !c.cuda_graphs_in_budget {
                " or set enforce_eager"
            } else {
                ""
            }
        )));
    }
}
