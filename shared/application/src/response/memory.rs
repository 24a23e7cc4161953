//! The memory endpoints' answers: every input as resolved, each component as a string
//! in the requested unit and as exact bytes, and the warnings.

use calculator::{
    Bytes, CacheBytes, Choice, Engine, InferenceEstimate, InferenceRequest, ModuleScope,
    Quantization, TrainingEstimate, TrainingRequest, Unit, VllmCapacity, VllmSettings,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::model::{ArchitectureView, ParametersView};
use super::shown::{components, shown, Components, Shown, Warnings};
use crate::request::hub::HubSource;
use crate::request::{Calculation, Resolved};

components!(
    /// What one GPU holds to serve a model.
    InferenceParts {
        /// Weights (with quantization scales).
        model_weights,
        /// The KV cache (with vLLM, its whole pool).
        kv_cache,
        /// The prefill's (or vLLM's profile run's) transient peak.
        activation_memory,
        /// CUDA context and library state (with vLLM, non-torch memory and graphs).
        runtime_overhead,
        /// Their sum.
        inference_memory,
    }
);

components!(
    /// What one GPU holds to train a model.
    TrainingParts {
        /// Weights and adapters.
        model_weights,
        /// Gradients and the framework's communication buffers.
        gradients_memory,
        /// Master weights and optimizer state, with the step's temporaries at the step.
        optimizer_memory,
        /// Activations and loss buffers held at the peak (0 after backward).
        activation_memory,
        /// CUDA context and library state.
        runtime_overhead,
        /// Their sum: the peak of the step (the four above are the peak phase's).
        training_memory,
    }
);

components!(
    /// What one GPU holds at one moment of the training step.
    PhaseParts {
        /// Weights and adapters.
        model_weights,
        /// Gradients alive then, with the framework's communication buffers.
        gradients_memory,
        /// Master weights and optimizer state, with the step's temporaries at the step.
        optimizer_memory,
        /// Activations and loss buffers still held.
        activation_memory,
        /// Their sum (the runtime overhead is apart).
        phase_memory,
    }
);

/// One moment of the training step, in the asked unit and in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct PhaseView {
    phase: &'static str,
    memory_requirements: PhaseParts<String>,
    memory_bytes: PhaseParts<u64>,
}

/// The step as a timeline: where the peak falls, and every moment's breakdown.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct StepTimelineView {
    peak_phase: &'static str,
    gradient_accumulation_steps: u64,
    phases: Vec<PhaseView>,
}

impl StepTimelineView {
    fn new(req: &TrainingRequest, e: &TrainingEstimate, unit: Unit) -> StepTimelineView {
        let phases = e
            .phases
            .iter()
            .map(|p| {
                let parts = PhaseParts {
                    model_weights: p.weights,
                    gradients_memory: p.gradients,
                    optimizer_memory: p.optimizer,
                    activation_memory: p.activations,
                    phase_memory: p.total,
                };
                PhaseView {
                    phase: p.phase.name(),
                    memory_requirements: parts.strings(unit),
                    memory_bytes: parts.bytes(),
                }
            })
            .collect();
        StepTimelineView {
            peak_phase: e.peak_phase.name(),
            gradient_accumulation_steps: req.gradient_accumulation_steps,
            phases,
        }
    }
}

components!(
    /// The KV cache by what keeps it.
    CacheParts {
        /// Attention keys and values: grow with every token.
        attention_kv,
        /// The sparse-attention indexer's keys: grow with every token.
        indexer_keys,
        /// Linear-attention and state-space layers' state: fixed per sequence.
        fixed_state,
    }
);

components!(
    /// vLLM's start-up figures.
    VllmParts {
        /// `gpu_memory_utilization × total`.
        requested_memory,
        /// Weights, profile peak, non-torch memory and (from vLLM 0.21) the CUDA graphs.
        non_kv_memory,
        /// The profile run's peak.
        profile_peak,
        /// Memory outside PyTorch's allocator.
        non_torch_memory,
        /// What the budget leaves for the KV cache.
        available_kv_cache_memory,
        /// CUDA graphs: inside the budget from vLLM 0.21, outside it before.
        cuda_graph_memory,
        /// The KV cache of one request of `max_model_len` tokens.
        request_kv_cache,
    }
);

impl CacheParts<Bytes> {
    /// The cache of an estimate by kind.
    pub fn of(c: &CacheBytes) -> CacheParts<Bytes> {
        // Each part is at most the whole, which the estimate already checked fits a u64.
        let part = |b: u128| Bytes(b as u64);
        CacheParts {
            attention_kv: part(c.attention),
            indexer_keys: part(c.indexer),
            fixed_state: part(c.state),
        }
    }
}

/// The model an answer is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    name: Option<String>,
    source: &'static str,
    /// The Hub repository, for `source` `hub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubSource>,
    parameters: ParametersView,
    architecture: ArchitectureView,
}

impl From<&Resolved> for ModelSummary {
    fn from(r: &Resolved) -> ModelSummary {
        ModelSummary {
            name: r.model.name.clone(),
            source: r.source,
            hub: r.hub.clone(),
            parameters: ParametersView::from(&r.model.params),
            architecture: ArchitectureView::from(r.model.as_ref()),
        }
    }
}

/// What vLLM reports at start-up, per GPU: the budget and what it leaves for the KV
/// cache, the cache in blocks and tokens, and how many requests it holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VllmView {
    starts: bool,
    refusal: Option<String>,
    kv_cache_tokens: u64,
    num_blocks: u64,
    block_size: u64,
    max_model_len: u64,
    max_concurrency: f64,
    max_sequences: u64,
    max_num_batched_tokens: u64,
    max_num_seqs: u64,
    cuda_graphs_in_budget: bool,
    #[serde(flatten)]
    memory: Shown<VllmParts<String>, VllmParts<u64>>,
}

impl VllmView {
    /// The view of `c` in `unit`.
    pub fn new(c: &VllmCapacity, unit: Unit) -> VllmView {
        let parts = VllmParts {
            requested_memory: c.requested_memory,
            non_kv_memory: c.non_kv_memory,
            profile_peak: c.profile_peak,
            non_torch_memory: c.non_torch_memory,
            available_kv_cache_memory: c.available_kv_cache_memory,
            cuda_graph_memory: c.cuda_graph_memory,
            request_kv_cache: c.request_kv_bytes,
        };
        VllmView {
            starts: c.starts(),
            refusal: c.refusal.clone(),
            kv_cache_tokens: c.kv_cache_tokens,
            num_blocks: c.num_blocks,
            block_size: c.block_size,
            max_model_len: c.max_model_len,
            max_concurrency: (c.max_concurrency * 100.0).round() / 100.0,
            max_sequences: c.max_sequences,
            max_num_batched_tokens: c.max_num_batched_tokens,
            max_num_seqs: c.max_num_seqs,
            cuda_graphs_in_budget: c.cuda_graphs_in_budget,
            memory: shown(&parts, unit),
        }
    }
}

/// The layout, and the linear weights the checkpoint keeps in 16-bit.
pub(crate) fn storage_description(layout: String, unquantized: &[ModuleScope]) -> String {
    if unquantized.is_empty() {
        return layout;
    }
    let kept: Vec<String> = unquantized
        .iter()
        .map(|s| match s.layer {
            Some(l) => format!("{} of layer {l}", s.kind.name()),
            None => s.kind.name().to_owned(),
        })
        .collect();
    format!(
        "{layout}; the checkpoint keeps these linear weights in 16-bit: {}",
        kept.join(", ")
    )
}

/// The vLLM settings as used: the GPU's memory, the share of it, and the scheduler's
/// limits (defaults filled in).
#[derive(Clone, Debug, PartialEq, Serialize)]
struct VllmParameters {
    gpu: Option<String>,
    gpu_memory_gib: f64,
    gpu_memory_utilization: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_num_batched_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_num_seqs: Option<u64>,
    enforce_eager: bool,
    vllm_version: &'static str,
    expert_parallel: bool,
    data_parallel_size: u64,
    pipeline_parallel_size: u64,
}

impl VllmParameters {
    fn new(s: &VllmSettings, c: Option<&VllmCapacity>) -> VllmParameters {
        VllmParameters {
            gpu: s.gpu_name.clone(),
            gpu_memory_gib: s.gpu_memory.in_unit(Unit::Gib),
            gpu_memory_utilization: s.gpu_memory_utilization,
            max_num_batched_tokens: c.map(|c| c.max_num_batched_tokens),
            max_num_seqs: c.map(|c| c.max_num_seqs),
            enforce_eager: s.enforce_eager,
            vllm_version: s.version.name(),
            expert_parallel: s.expert_parallel,
            data_parallel_size: s.data_parallel_size,
            pipeline_parallel_size: s.pipeline_parallel_size,
        }
    }
}

/// The inference request as resolved, for the answer's `parameters`.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct InferenceParameters {
    #[serde(flatten)]
    echo: Map<String, Value>,
    precision: &'static str,
    quantization: Option<&'static str>,
    group_size: Option<u64>,
    weight_storage: String,
    kv_cache_precision: &'static str,
    batch_size: u64,
    sequence_length: u64,
    max_new_tokens: u64,
    logits: &'static str,
    use_flash_attention: bool,
    load_mtp: bool,
    num_gpus: u64,
    engine: &'static str,
    #[serde(flatten)]
    vllm: Option<VllmParameters>,
    unit: &'static str,
}

/// The answer of `POST /api/memory/inference` (and of each inference configuration of
/// a compare).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InferenceAnswer {
    calculation_type: &'static str,
    model: ModelSummary,
    parameters: InferenceParameters,
    memory_requirements: InferenceParts<String>,
    memory_bytes: InferenceParts<u64>,
    #[serde(flatten)]
    warnings: Warnings,
    per_gpu: bool,
    kv_cache_by_kind: Shown<CacheParts<String>, CacheParts<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vllm: Option<VllmView>,
}

impl InferenceAnswer {
    /// The answer for `r` and `req`, estimated as `e`, in `unit`.
    pub fn new(
        r: &Resolved,
        req: &InferenceRequest,
        e: &InferenceEstimate,
        unit: Unit,
    ) -> InferenceAnswer {
        let fmt = e.weight_format;
        let parameters = InferenceParameters {
            echo: r.echo.clone(),
            precision: fmt.precision.name(),
            quantization: fmt.quantization.map(Quantization::name),
            group_size: fmt.uses_group_size().then_some(fmt.group_size),
            weight_storage: storage_description(fmt.describe(), &e.unquantized_modules),
            kv_cache_precision: e.kv_cache_precision.name(),
            batch_size: req.batch_size,
            sequence_length: req.sequence_length,
            max_new_tokens: req.max_new_tokens,
            logits: req.logits.name(),
            use_flash_attention: req.use_flash_attention,
            load_mtp: req.load_mtp,
            num_gpus: req.num_gpus,
            engine: req.engine.name(),
            vllm: match &req.engine {
                Engine::Vllm(s) => Some(VllmParameters::new(s, e.vllm.as_ref())),
                Engine::Transformers => None,
            },
            unit: unit.name(),
        };
        let parts = InferenceParts {
            model_weights: e.model_weights,
            kv_cache: e.kv_cache,
            activation_memory: e.activation_memory,
            runtime_overhead: e.runtime_overhead,
            inference_memory: e.inference_memory,
        };
        InferenceAnswer {
            calculation_type: Calculation::Inference.name(),
            model: ModelSummary::from(r),
            parameters,
            memory_requirements: parts.strings(unit),
            memory_bytes: parts.bytes(),
            warnings: Warnings::of(r.notes.iter().chain(&e.warnings)),
            per_gpu: req.num_gpus > 1,
            kv_cache_by_kind: shown(&CacheParts::of(&e.cache_by_kind), unit),
            vllm: e.vllm.as_ref().map(|v| VllmView::new(v, unit)),
        }
    }
}

/// The training request as resolved, for the answer's `parameters`.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct TrainingParameters {
    #[serde(flatten)]
    echo: Map<String, Value>,
    precision: &'static str,
    mixed_precision: bool,
    method: &'static str,
    trainable_parameters: f64,
    lora_rank: Option<u64>,
    /// The kind's name, or the list of module names.
    lora_target: Option<Value>,
    optimizer: &'static str,
    gradient_checkpointing: &'static str,
    batch_size: u64,
    sequence_length: u64,
    use_flash_attention: bool,
    num_gpus: u64,
    framework: &'static str,
    zero_stage: u8,
    optimizer_implementation: &'static str,
    loss: &'static str,
    /// Echoed when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    hold_logits: bool,
    offload_optimizer: &'static str,
    offload_parameters: &'static str,
    unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_dropout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fsdp_sharding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_weight_storage: Option<String>,
}

/// Parts of the training estimate that explain the totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct TrainingDetailsView {
    trainable_parameter_count: u64,
    master_weights_bytes: u64,
    optimizer_states_bytes: u64,
    optimizer_step_workspace_bytes: u64,
    communication_buffers_bytes: u64,
    autocast_weight_copies_bytes: u64,
    loss_buffers_bytes: u64,
    layers_with_activations: u64,
}

/// What offload puts on one node's host memory and NVMe.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct OffloadedView {
    host_memory_per_node: String,
    host_memory_per_node_bytes: u64,
    nvme_per_node: String,
    nvme_per_node_bytes: u64,
}

/// The answer of `POST /api/memory/training` (and of each training configuration of a
/// compare).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainingAnswer {
    calculation_type: &'static str,
    model: ModelSummary,
    parameters: TrainingParameters,
    memory_requirements: TrainingParts<String>,
    memory_bytes: TrainingParts<u64>,
    #[serde(flatten)]
    warnings: Warnings,
    step_timeline: StepTimelineView,
    details: TrainingDetailsView,
    per_gpu: bool,
    offloaded: OffloadedView,
}

impl TrainingAnswer {
    /// The answer for `r` and `req`, estimated as `e`, in `unit`.
    pub fn new(
        r: &Resolved,
        req: &TrainingRequest,
        e: &TrainingEstimate,
        unit: Unit,
    ) -> TrainingAnswer {
        let peft = req.method.is_peft();
        let parameters = TrainingParameters {
            echo: r.echo.clone(),
            precision: e.precision.name(),
            mixed_precision: e.mixed_precision,
            method: req.method.name(),
            trainable_parameters: e.trainable_percent,
            lora_rank: peft.then_some(req.lora_rank),
            lora_target: peft.then(|| {
                if req.lora_modules.is_empty() {
                    Value::from(req.lora_target.name())
                } else {
                    Value::from(req.lora_modules.clone())
                }
            }),
            optimizer: req.optimizer.name(),
            gradient_checkpointing: if req.gradient_checkpointing {
                "full"
            } else {
                "none"
            },
            batch_size: req.batch_size,
            sequence_length: req.sequence_length,
            use_flash_attention: req.use_flash_attention,
            num_gpus: req.num_gpus,
            framework: e.framework.name(),
            zero_stage: req.zero_stage,
            optimizer_implementation: e.optimizer_implementation.name(),
            loss: req.loss.name(),
            hold_logits: req.hold_logits,
            offload_optimizer: req.offload_optimizer.name(),
            offload_parameters: req.offload_parameters.name(),
            unit: unit.name(),
            lora_dropout: peft.then_some(req.lora_dropout),
            fsdp_sharding: e.fsdp_sharding.map(|s| s.name()),
            base_weight_storage: e.base_format.map(|b| b.describe()),
        };
        let parts = TrainingParts {
            model_weights: e.model_weights,
            gradients_memory: e.gradients_memory,
            optimizer_memory: e.optimizer_memory,
            activation_memory: e.activation_memory,
            runtime_overhead: e.runtime_overhead,
            training_memory: e.training_memory,
        };
        let d = e.details;
        TrainingAnswer {
            calculation_type: Calculation::Training.name(),
            model: ModelSummary::from(r),
            parameters,
            memory_requirements: parts.strings(unit),
            memory_bytes: parts.bytes(),
            warnings: Warnings::of(r.notes.iter().chain(&e.warnings)),
            step_timeline: StepTimelineView::new(req, e, unit),
            details: TrainingDetailsView {
                trainable_parameter_count: d.trainable_parameters,
                master_weights_bytes: d.master_weights.0,
                optimizer_states_bytes: d.optimizer_states.0,
                optimizer_step_workspace_bytes: d.optimizer_step_workspace.0,
                communication_buffers_bytes: d.communication_buffers.0,
                autocast_weight_copies_bytes: d.autocast_weight_copies.0,
                loss_buffers_bytes: d.loss_buffers.0,
                layers_with_activations: d.layers_with_activations,
            },
            per_gpu: true,
            offloaded: OffloadedView {
                host_memory_per_node: e.host_memory_per_node.format(unit),
                host_memory_per_node_bytes: e.host_memory_per_node.0,
                nvme_per_node: e.nvme_per_node.format(unit),
                nvme_per_node_bytes: e.nvme_per_node.0,
            },
        }
    }
}

/// A memory answer of either kind, with its total per GPU (what a compare ranks by).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MemoryAnswer {
    /// Serving.
    Inference(Box<InferenceAnswer>),
    /// Training.
    Training(Box<TrainingAnswer>),
}

impl MemoryAnswer {
    /// `inference_memory` or `training_memory`.
    pub fn total(&self) -> Bytes {
        match self {
            MemoryAnswer::Inference(a) => Bytes(a.memory_bytes.inference_memory),
            MemoryAnswer::Training(a) => Bytes(a.memory_bytes.training_memory),
        }
    }
}
