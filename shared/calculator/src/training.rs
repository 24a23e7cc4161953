//! Training memory per GPU: weights, gradients, optimizer state, activations, runtime
//! overhead, for full fine-tuning, freezing, LoRA and QLoRA, with ZeRO sharding.
//!
//! Derivations and sources: `docs/methodology.md`, section "Training".

use crate::architecture::LinearKind;
use crate::error::{check_range, check_workload, limits, to_u64, CalcError};
use crate::inference::{compute_bytes, CUDA_CONTEXT_BYTES};
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::units::Bytes;

/// How the model is fine-tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Every weight (or `trainable_parameters` percent of them) is trained.
    Full,
    /// Low-rank adapters on a frozen 16-bit base.
    Lora,
    /// Low-rank adapters on a frozen 4-bit NF4 base (QLoRA).
    Qlora,
    /// The last layers are trained, the rest frozen.
    Freeze,
}

impl Method {
    /// Every method, in the order the API lists them.
    pub const ALL: [Method; 4] = [Method::Full, Method::Lora, Method::Qlora, Method::Freeze];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Full => "full",
            Method::Lora => "lora",
            Method::Qlora => "qlora",
            Method::Freeze => "freeze",
        }
    }

    /// Case-insensitive parse.
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether the method trains adapters (parameter-efficient) or model weights.
    pub fn is_peft(self) -> bool {
        matches!(self, Method::Lora | Method::Qlora)
    }
}

/// Which linear layers LoRA adapts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoraTarget {
    /// Query, key, value and output projections.
    Attention,
    /// Every linear layer of the decoder blocks (PEFT's `all-linear`).
    AllLinear,
}

impl LoraTarget {
    /// Both targets, in the order the API lists them.
    pub const ALL: [LoraTarget; 2] = [LoraTarget::AllLinear, LoraTarget::Attention];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            LoraTarget::Attention => "attention",
            LoraTarget::AllLinear => "all_linear",
        }
    }

    /// Case-insensitive parse (`all-linear` accepted).
    pub fn parse(text: &str) -> Option<LoraTarget> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "attention" | "attn" => Some(LoraTarget::Attention),
            "all_linear" | "all" => Some(LoraTarget::AllLinear),
            _ => None,
        }
    }
}

/// The optimizer, which decides the state kept per trainable parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Optimizer {
    /// AdamW: first and second moments.
    AdamW,
    /// Adam: first and second moments.
    Adam,
    /// 8-bit AdamW (bitsandbytes): moments in 8 bits with block-wise fp32 scales.
    QuantizedAdamW,
    /// SGD with a momentum buffer.
    Sgd,
    /// Plain SGD: no state.
    SgdNoMomentum,
    /// Adafactor: factored second moment, no first moment.
    Adafactor,
    /// Lion: one momentum buffer.
    Lion,
}

impl Optimizer {
    /// Every optimizer, in the order the API lists them.
    pub const ALL: [Optimizer; 7] = [
        Optimizer::AdamW,
        Optimizer::Adam,
        Optimizer::QuantizedAdamW,
        Optimizer::Sgd,
        Optimizer::SgdNoMomentum,
        Optimizer::Adafactor,
        Optimizer::Lion,
    ];

    /// Canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::AdamW => "AdamW",
            Optimizer::Adam => "Adam",
            Optimizer::QuantizedAdamW => "Quantized AdamW",
            Optimizer::Sgd => "SGD",
            Optimizer::SgdNoMomentum => "SGD without momentum",
            Optimizer::Adafactor => "Adafactor",
            Optimizer::Lion => "Lion",
        }
    }

    /// Case-insensitive parse; spaces, dashes and underscores are interchangeable, and
    /// `AdamW 8-bit` (and `adamw_8bit`, `adamw_bnb_8bit`) mean the quantized AdamW.
    pub fn parse(text: &str) -> Option<Optimizer> {
        let key: String = text
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '(' | ')'))
            .collect();
        Some(match key.as_str() {
            "adamw" | "adamwtorch" | "adamwtorchfused" => Optimizer::AdamW,
            "adam" => Optimizer::Adam,
            "quantizedadamw" | "adamw8bit" | "adamwbnb8bit" | "8bitadamw" | "pagedadamw8bit" => {
                Optimizer::QuantizedAdamW
            }
            "sgd" | "sgdmomentum" | "sgdwithmomentum" => Optimizer::Sgd,
            "sgdwithoutmomentum" | "sgdnomomentum" | "plainsgd" => Optimizer::SgdNoMomentum,
            "adafactor" => Optimizer::Adafactor,
            "lion" => Optimizer::Lion,
            _ => return None,
        })
    }

    /// Bytes of optimizer state per trainable parameter, with states in fp32 (`true`)
    /// or in the 16-bit parameter dtype (`false`); `None` for Adafactor, whose factored
    /// state depends on tensor shapes. The same rates `estimate_training` applies.
    pub fn state_bytes_per_param(self, fp32_states: bool) -> Option<f64> {
        let w = if fp32_states { 4.0 } else { 2.0 };
        Some(match self {
            Optimizer::AdamW | Optimizer::Adam => 2.0 * w,
            Optimizer::QuantizedAdamW => 2.0 * (1.0 + 4.0 / BNB_OPTIM_BLOCK as f64),
            Optimizer::Sgd | Optimizer::Lion => w,
            Optimizer::SgdNoMomentum => 0.0,
            Optimizer::Adafactor => return None,
        })
    }
}

/// Block size of bitsandbytes' block-wise 8-bit optimizer states (one fp32 absmax each).
const BNB_OPTIM_BLOCK: u128 = 256;

/// Bytes per (token x vocabulary entry) at the loss: fp32 log-probabilities saved for
/// backward, the fp32 gradient of the loss w.r.t. them, and the fp32 gradient w.r.t.
/// the upcast logits, all alive at the start of backward.
const CE_BYTES_PER_LOGIT: u128 = 12;

/// LLaMA-Factory's default for freeze tuning: the last 2 layers are trained.
const DEFAULT_FREEZE_LAYERS: u64 = 2;

/// A training request, after parsing.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingRequest {
    /// Compute dtype (float32, float16, bfloat16); `None` uses the model's.
    pub precision: Option<Precision>,
    /// 16-bit compute with fp32 master weights, fp32 gradients for the optimizer and
    /// fp32 optimizer state (`true`), or everything in the 16-bit dtype (`false`).
    pub mixed_precision: bool,
    /// Fine-tuning method.
    pub method: Method,
    /// Percent (0-100] of weights trained, for `full` and `freeze`.
    pub trainable_percent: Option<f64>,
    /// LoRA rank.
    pub lora_rank: u64,
    /// LoRA target modules.
    pub lora_target: LoraTarget,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Recompute each layer in backward instead of storing its activations.
    pub gradient_checkpointing: bool,
    /// Micro-batch per GPU, in sequences.
    pub batch_size: u64,
    /// Tokens per sequence.
    pub sequence_length: u64,
    /// Flash attention (no materialised score matrix).
    pub use_flash_attention: bool,
    /// Data-parallel GPUs.
    pub num_gpus: u64,
    /// ZeRO stage 0-3 (3 = FSDP full shard).
    pub zero_stage: u8,
}

impl TrainingRequest {
    /// A request with every optional field at its default.
    pub fn new(batch_size: u64, sequence_length: u64) -> TrainingRequest {
        TrainingRequest {
            precision: None,
            mixed_precision: true,
            method: Method::Full,
            trainable_percent: None,
            lora_rank: 8,
            lora_target: LoraTarget::AllLinear,
            optimizer: Optimizer::AdamW,
            gradient_checkpointing: false,
            batch_size,
            sequence_length,
            use_flash_attention: true,
            num_gpus: 1,
            zero_stage: 0,
        }
    }
}

/// Parts of the estimate that explain the totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TrainingDetails {
    /// Parameters that receive gradients (weights, or LoRA adapters).
    pub trainable_parameters: u64,
    /// fp32 master copy of the trainable weights (mixed precision), per GPU.
    pub master_weights: Bytes,
    /// Optimizer moments, per GPU.
    pub optimizer_states: Bytes,
    /// Temporaries of the optimizer step (PyTorch's multi-tensor implementations), per
    /// GPU; they reuse memory that activations free, so only their excess over the
    /// activation peak is added to `optimizer_memory`.
    pub optimizer_step_workspace: Bytes,
    /// Logits and cross-entropy buffers at the loss, per GPU (inside activations).
    pub loss_buffers: Bytes,
    /// Layers whose activations are kept for backward.
    pub layers_with_activations: u64,
}

/// Training memory per GPU with the inputs as resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingEstimate {
    /// Compute dtype.
    pub precision: Precision,
    /// Whether mixed precision applies (false for float32 compute).
    pub mixed_precision: bool,
    /// Storage of the frozen 4-bit base (QLoRA only).
    pub base_format: Option<WeightFormat>,
    /// Weights held by one GPU: the model in its storage format plus adapters.
    pub model_weights: Bytes,
    /// Gradients of the trainable parameters held by one GPU.
    pub gradients_memory: Bytes,
    /// Master weights, optimizer state and the excess of the optimizer step's
    /// temporaries over the activation peak, held by one GPU.
    pub optimizer_memory: Bytes,
    /// Peak of activations kept for backward, with the loss buffers.
    pub activation_memory: Bytes,
    /// CUDA context and library state.
    pub runtime_overhead: Bytes,
    /// Sum of the above: the peak one GPU must hold.
    pub training_memory: Bytes,
    /// Explanation of the totals.
    pub details: TrainingDetails,
    /// Assumptions and notes.
    pub warnings: Vec<String>,
}

/// Shape statistics of the trainable tensors.
#[derive(Clone, Copy, Debug, Default)]
struct Trainable {
    /// Trainable scalars.
    elements: u128,
    /// State elements of Adafactor's factored second moment (rows + columns per matrix,
    /// every element of a vector).
    factored: u128,
    /// Elements of the largest trainable tensor.
    largest: u128,
    /// Decoder layers through which gradients flow and whose activations are kept.
    grad_layers: u64,
    /// Whether the attention / MLP projections have trainable weights (their inputs
    /// must then be saved).
    attn_weights: bool,
    mlp_weights: bool,
}

fn fraction(total: u128, percent: f64) -> u128 {
    // percent is validated to [0, 100]; the product is at most `total`.
    ((total as f64) * percent / 100.0).round() as u128
}

/// Memory one GPU needs to train with `req`.
pub fn estimate_training(
    model: &Model,
    req: &TrainingRequest,
) -> Result<TrainingEstimate, CalcError> {
    check_workload(req.batch_size, req.sequence_length, req.num_gpus)?;
    check_range("lora_rank", req.lora_rank, 1, limits::MAX_LORA_RANK)?;
    if let Some(p) = req.trainable_percent {
        if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
            return Err(CalcError::field(
                "trainable_parameters",
                "must be a percentage from 0 to 100",
            ));
        }
    }
    let mut warnings = model.warnings.clone();
    let precision = req.precision.unwrap_or_else(|| model.default_precision());
    if precision.is_quantized() {
        return Err(CalcError::field(
            "precision",
            format!(
                "training computes in float32, float16 or bfloat16, not {}; for a 4-bit base use method qlora",
                precision.name()
            ),
        ));
    }
    // The old field's default (100) is harmless with adapters; any other value would
    // be silently meaningless, so it is an error.
    if req.method.is_peft() && req.trainable_percent == Some(100.0) {
        warnings.push(format!(
            "trainable_parameters applies to methods full and freeze; ignored for {}",
            req.method.name()
        ));
    } else if req.trainable_percent.is_some() && req.method.is_peft() {
        return Err(CalcError::field(
            "trainable_parameters",
            format!(
                "applies to methods full and freeze; {} trains rank-{} adapters (set lora_rank and lora_target)",
                req.method.name(),
                req.lora_rank
            ),
        ));
    }
    if req.zero_stage > 3 {
        return Err(CalcError::field("zero_stage", "must be 0, 1, 2 or 3"));
    }
    let a = compute_bytes(precision);
    let mixed = req.mixed_precision && precision != Precision::Float32;
    let n = req.num_gpus as u128;
    let z = if n > 1 { req.zero_stage } else { 0 };
    let shard = |bytes: u128, from_stage: u8| {
        if z >= from_stage {
            bytes.div_ceil(n)
        } else {
            bytes
        }
    };

    let trainable = trainable_set(model, req, &mut warnings);
    let t = trainable.elements;
    let params = &model.params;

    // Weights.
    let (base, base_format) = match req.method {
        Method::Qlora => {
            let format = WeightFormat {
                precision: Precision::Int4,
                quantization: Some(Quantization::Bitsandbytes),
                group_size: DEFAULT_GROUP_SIZE,
                double_quant: true,
            };
            // PEFT's prepare_model_for_kbit_training casts every non-quantized weight
            // (embeddings, lm_head, norms, biases) to fp32.
            let (bits, quantized) = model.quantized_linears(&format);
            let rest = params.total - quantized;
            ((bits + rest * 32).div_ceil(8), Some(format))
        }
        _ => (params.total * a, None),
    };
    let adapter_weights = if req.method.is_peft() { t * a } else { 0 };
    let largest_layer = params
        .dense_layer
        .max(params.moe_layer)
        .max(params.embedding_matrix);
    let gathered = if z >= 3 { largest_layer * a } else { 0 };
    let weights = shard(base + adapter_weights, 3) + gathered;

    // Gradients: 16-bit gradients from backward, plus (mixed) the fp32 copy the
    // optimizer consumes. Stage 1 shards the fp32 copy, stage 2 both.
    let (grads16, grads32) = match (mixed, precision) {
        (true, _) => (t * 2, t * 4),
        (false, Precision::Float32) => (0, t * 4),
        (false, _) => (t * 2, 0),
    };
    let grads_gathered = if z >= 3 { largest_layer.min(t) * a } else { 0 };
    let gradients = shard(grads16, 2) + shard(grads32, 1) + grads_gathered;

    // Optimizer state: fp32 master weights (mixed) and moments.
    let fp32_states = mixed || precision == Precision::Float32;
    let master = if mixed { shard(t * 4, 1) } else { 0 };
    let states = shard(
        optimizer_state_bytes(req.optimizer, &trainable, fp32_states),
        1,
    );
    let workspace = shard(
        step_workspace_bytes(req.optimizer, &trainable, fp32_states),
        1,
    );

    // Activations.
    let resid = if req.method == Method::Qlora { 4 } else { a };
    let (activations, loss) = activation_bytes(model, req, &trainable, a, resid);
    let workspace_excess = workspace.saturating_sub(activations);
    let optimizer = master + states + workspace_excess;

    let overhead = CUDA_CONTEXT_BYTES as u128;
    let total = weights + gradients + optimizer + activations + overhead;

    if n == 1 && req.zero_stage > 0 {
        warnings.push(format!(
            "zero_stage {} shards across GPUs; with num_gpus 1 nothing is sharded",
            req.zero_stage
        ));
    }
    if n > 1 && req.zero_stage == 0 {
        warnings.push(format!(
            "num_gpus {n} with zero_stage 0: plain data parallelism, every GPU holds a full copy of weights, gradients and optimizer state"
        ));
    }
    if let Some(max) = model.arch.max_position_embeddings {
        if req.sequence_length > max {
            warnings.push(format!(
                "sequence_length {} exceeds the model's max_position_embeddings ({max})",
                req.sequence_length
            ));
        }
    }

    Ok(TrainingEstimate {
        precision,
        mixed_precision: mixed,
        base_format,
        model_weights: Bytes(to_u64(weights)?),
        gradients_memory: Bytes(to_u64(gradients)?),
        optimizer_memory: Bytes(to_u64(optimizer)?),
        activation_memory: Bytes(to_u64(activations)?),
        runtime_overhead: Bytes(to_u64(overhead)?),
        training_memory: Bytes(to_u64(total)?),
        details: TrainingDetails {
            trainable_parameters: to_u64(t)?,
            master_weights: Bytes(to_u64(master)?),
            optimizer_states: Bytes(to_u64(states)?),
            optimizer_step_workspace: Bytes(to_u64(workspace)?),
            loss_buffers: Bytes(to_u64(loss)?),
            layers_with_activations: trainable.grad_layers,
        },
        warnings,
    })
}

/// Which parameters are trained, with the shape statistics the optimizer needs.
fn trainable_set(model: &Model, req: &TrainingRequest, warnings: &mut Vec<String>) -> Trainable {
    let arch = &model.arch;
    let p = &model.params;
    let layers = arch.num_layers;
    match req.method {
        Method::Lora | Method::Qlora => {
            let r = req.lora_rank as u128;
            let mut t = Trainable {
                grad_layers: layers,
                attn_weights: true,
                mlp_weights: req.lora_target == LoraTarget::AllLinear,
                ..Trainable::default()
            };
            for g in &model.linears {
                if req.lora_target == LoraTarget::Attention && g.kind != LinearKind::Attention {
                    continue;
                }
                let (i, o) = (g.shape.rows_in as u128, g.shape.cols_out as u128);
                t.elements += r * (i + o) * g.shape.count;
                t.factored += (2 * r + i + o) * g.shape.count;
                t.largest = t.largest.max(r * i.max(o));
            }
            t
        }
        Method::Full | Method::Freeze => {
            let largest_matrix = model
                .linears
                .iter()
                .map(|g| g.shape.rows_in as u128 * g.shape.cols_out as u128)
                .max()
                .unwrap_or(0)
                .max(p.embedding_matrix);
            let full_factored = factored_state_elements(model);
            let (elements, grad_layers) = match (req.method, req.trainable_percent) {
                (Method::Full, None) => (p.total, layers),
                (Method::Full, Some(pct)) => {
                    warnings.push(
                        "trainable_parameters with method full: gradients are assumed to flow through every layer; method freeze trains only the last layers and keeps fewer activations"
                            .into(),
                    );
                    (fraction(p.total, pct), layers)
                }
                (_, Some(pct)) => {
                    let e = fraction(p.total, pct);
                    let per_layer = p.dense_layer.max(p.moe_layer).max(1);
                    (e, (e.div_ceil(per_layer) as u64).clamp(1, layers))
                }
                (_, None) => {
                    let k = DEFAULT_FREEZE_LAYERS.min(layers);
                    let moe_last = arch.moe.map_or(0, |m| m.moe_layers).min(k) as u128;
                    let e = moe_last * p.moe_layer + (k as u128 - moe_last) * p.dense_layer;
                    (e.min(p.total), k)
                }
            };
            Trainable {
                elements,
                factored: (full_factored * elements).checked_div(p.total).unwrap_or(0),
                largest: largest_matrix.min(elements),
                grad_layers,
                attn_weights: true,
                mlp_weights: true,
            }
        }
    }
}

/// Adafactor state elements for training every weight: rows + columns of each matrix
/// (linear layers, embeddings, position table, routers) and every vector element.
fn factored_state_elements(model: &Model) -> u128 {
    let arch = &model.arch;
    let p = &model.params;
    let linear_factored: u128 = model
        .linears
        .iter()
        .map(|g| (g.shape.rows_in as u128 + g.shape.cols_out as u128) * g.shape.count)
        .sum();
    let emb = (arch.vocab_size + arch.embedding_dim) as u128;
    let mut matrices = p.linear + p.embedding;
    let mut factored = linear_factored + emb * if arch.tie_word_embeddings { 1 } else { 2 };
    if arch.learned_positions > 0 {
        factored += (arch.learned_positions + arch.hidden_size) as u128;
    }
    if let Some(m) = arch.moe {
        let router = arch.hidden_size as u128 * m.num_experts as u128 * m.moe_layers as u128;
        matrices += router;
        factored += (arch.hidden_size + m.num_experts) as u128 * m.moe_layers as u128;
    }
    factored + p.total.saturating_sub(matrices)
}

fn optimizer_state_bytes(opt: Optimizer, t: &Trainable, fp32_states: bool) -> u128 {
    match opt {
        // Adafactor keeps its factored moments in fp32 whatever the parameter dtype.
        Optimizer::Adafactor => t.factored * 4,
        Optimizer::QuantizedAdamW => 2 * t.elements + 2 * t.elements.div_ceil(BNB_OPTIM_BLOCK) * 4,
        Optimizer::AdamW | Optimizer::Adam => t.elements * if fp32_states { 8 } else { 4 },
        Optimizer::Sgd | Optimizer::Lion => t.elements * if fp32_states { 4 } else { 2 },
        Optimizer::SgdNoMomentum => 0,
    }
}

/// Temporaries of one optimizer step. PyTorch's default multi-tensor (foreach) Adam and
/// AdamW materialise `sqrt(v) + eps` for every parameter at once: one state-sized
/// tensor list. Per-tensor optimizers (Adafactor, Lion) hold temporaries of one tensor
/// at a time; bitsandbytes' 8-bit step and SGD's foreach step work in place.
fn step_workspace_bytes(opt: Optimizer, t: &Trainable, fp32_states: bool) -> u128 {
    let w = if fp32_states { 4 } else { 2 };
    match opt {
        Optimizer::AdamW | Optimizer::Adam => t.elements * w,
        Optimizer::Adafactor => 3 * t.largest * 4,
        Optimizer::Lion => 2 * t.largest * w,
        Optimizer::QuantizedAdamW | Optimizer::Sgd | Optimizer::SgdNoMomentum => 0,
    }
}

/// Activation peak of one micro-batch and the loss buffers inside it.
///
/// Per-layer saved tensors follow what autograd keeps (Korthikanti et al. 2022's
/// accounting, redone for modern layers): norm inputs, the inputs of linear layers
/// whose weights are trained, the q/k/v/output and log-sum-exp of flash attention, the
/// MLP intermediates elementwise ops need. With gradient checkpointing only each
/// layer's input is kept and one layer is recomputed at a time.
fn activation_bytes(
    model: &Model,
    req: &TrainingRequest,
    t: &Trainable,
    a: u128,
    resid: u128,
) -> (u128, u128) {
    let arch = &model.arch;
    let b = req.batch_size as u128;
    let s = req.sequence_length as u128;
    let tokens = b * s;
    let h = arch.hidden_size as u128;
    let q = arch.q_dim() as u128;
    let kv = arch.kv_dim() as u128;
    let o = arch.attn_out_dim() as u128;
    let attn_w = t.attn_weights as u128;
    let mlp_w = t.mlp_weights as u128;

    // Attention block, bytes per token.
    let mut attn = h * resid + (q + 2 * kv + o) * a + arch.num_heads as u128 * 4;
    let separate_mlp_norm = !arch.parallel_attention;
    let norm1_out_saved =
        attn_w == 1 || (mlp_w == 1 && !separate_mlp_norm && arch.norms_per_layer == 1);
    if norm1_out_saved {
        attn += h * a;
    }
    if arch.qk_norm {
        attn += (q + kv) * a;
    }
    if let Some(m) = arch.mla {
        let latent = (m.q_lora_rank.unwrap_or(0) + m.kv_lora_rank + m.qk_rope_head_dim) as u128;
        attn += latent * a * (1 + attn_w);
    }
    if arch.norms_per_layer > 2 {
        attn += (arch.norms_per_layer as u128 - 2) * h * a;
    }

    // Feed-forward input norm.
    let mut ffn_norm = 0;
    if separate_mlp_norm {
        ffn_norm += h * resid;
    }
    if (separate_mlp_norm || arch.norms_per_layer >= 2) && mlp_w == 1 {
        ffn_norm += h * a;
    }
    let gated = |width: u128| {
        if arch.gated_mlp {
            3 * width * a + mlp_w * width * a
        } else {
            width * a + mlp_w * width * a
        }
    };
    let i = arch.intermediate_size as u128;
    let dense_layer = attn + ffn_norm + gated(i);
    let dense_work = 2 * (q + 2 * kv).max(if arch.gated_mlp { 2 * i } else { i }) * a + 2 * h * a;
    let moe_layer_and_work = arch.moe.map(|m| {
        let k = m.experts_per_token as u128;
        let ie = m.expert_intermediate as u128;
        let is = m.shared_intermediate as u128;
        let routed = k * (mlp_w * h * a + gated(ie) + h * a);
        let shared = if is > 0 { gated(is) } else { 0 };
        let layer = attn + ffn_norm + m.num_experts as u128 * 4 + routed + shared;
        let work = 2 * (q + 2 * kv).max(2 * (k * ie + is)) * a + 2 * h * a;
        (layer, work)
    });

    let eager = if req.use_flash_attention {
        0
    } else {
        // Softmax output in fp32 and the probabilities cast back, per layer.
        b * arch.num_heads as u128 * s * s * (4 + a)
    };

    // Layers that keep activations: the last `grad_layers`, MoE layers being the last
    // ones in every supported layout.
    let moe_layers = arch.moe.map_or(0, |m| m.moe_layers).min(t.grad_layers) as u128;
    let dense_layers = t.grad_layers as u128 - moe_layers;

    let final_norm = h * resid + h * a;
    let loss = tokens * arch.vocab_size as u128 * CE_BYTES_PER_LOGIT;
    let (moe_layer, moe_work) = moe_layer_and_work.unwrap_or((0, 0));

    let peak = if req.gradient_checkpointing {
        let checkpoints = t.grad_layers as u128 * tokens * h * resid;
        let dense_peak = if dense_layers > 0 {
            tokens * (dense_layer + dense_work)
        } else {
            0
        };
        let moe_peak = if moe_layers > 0 {
            tokens * (moe_layer + moe_work)
        } else {
            0
        };
        let one_layer = dense_peak.max(moe_peak) + eager;
        checkpoints + tokens * final_norm + loss.max(one_layer)
    } else {
        let stored = dense_layers * (tokens * dense_layer + eager)
            + moe_layers * (tokens * moe_layer + eager);
        let work = tokens * dense_work.max(moe_work);
        stored + tokens * final_norm + loss.max(work)
    };
    (peak, loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    fn llama() -> &'static Model {
        &registry::lookup("Llama-3.1-8B").unwrap().model
    }

    fn run(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
        let mut req = TrainingRequest::new(1, 1024);
        edit(&mut req);
        estimate_training(llama(), &req).unwrap()
    }

    const PSI: u64 = 8_030_261_248;

    #[test]
    fn precision_settings_keep_what_the_docs_say() {
        let mixed = run(|_| {});
        assert_eq!(mixed.model_weights.0, 2 * PSI);
        assert_eq!(mixed.gradients_memory.0, 6 * PSI);
        assert_eq!(mixed.details.master_weights.0, 4 * PSI);
        assert_eq!(mixed.details.optimizer_states.0, 8 * PSI);
        let pure = run(|r| r.mixed_precision = false);
        assert_eq!(pure.gradients_memory.0, 2 * PSI);
        assert_eq!(pure.details.master_weights.0, 0);
        assert_eq!(pure.details.optimizer_states.0, 4 * PSI);
        let fp32 = run(|r| r.precision = Some(Precision::Float32));
        assert!(!fp32.mixed_precision);
        assert_eq!(fp32.model_weights.0, 4 * PSI);
        assert_eq!(fp32.gradients_memory.0, 4 * PSI);
        assert_eq!(fp32.details.optimizer_states.0, 8 * PSI);
    }

    #[test]
    fn zero_stages_shard_progressively() {
        let stage = |z| {
            run(|r| {
                r.num_gpus = 8;
                r.zero_stage = z;
            })
        };
        let (s0, s1, s2, s3) = (stage(0), stage(1), stage(2), stage(3));
        assert_eq!(
            s1.details.optimizer_states.0,
            s0.details.optimizer_states.0.div_ceil(8)
        );
        assert_eq!(s1.gradients_memory.0, 2 * PSI + (4 * PSI).div_ceil(8));
        assert_eq!(
            s2.gradients_memory.0,
            (2 * PSI).div_ceil(8) + (4 * PSI).div_ceil(8)
        );
        assert!(s3.model_weights.0 < s2.model_weights.0 / 4);
        assert!(s0.training_memory > s1.training_memory);
        assert!(s1.training_memory > s2.training_memory);
        assert!(s2.training_memory > s3.training_memory);
    }

    #[test]
    fn published_rates_match_the_accounting() {
        for o in Optimizer::ALL {
            let Some(rate) = o.state_bytes_per_param(true) else {
                continue;
            };
            let got = run(|r| r.optimizer = o).details.optimizer_states.0 as f64;
            assert!((got / PSI as f64 - rate).abs() < 1e-6, "{}", o.name());
        }
    }

    #[test]
    fn optimizers_differ_only_in_state() {
        let adam = run(|_| {});
        let sgd = run(|r| r.optimizer = Optimizer::SgdNoMomentum);
        let bnb = run(|r| r.optimizer = Optimizer::QuantizedAdamW);
        let adafactor = run(|r| r.optimizer = Optimizer::Adafactor);
        assert_eq!(sgd.details.optimizer_states.0, 0);
        assert_eq!(
            bnb.details.optimizer_states.0,
            2 * PSI + 2 * PSI.div_ceil(256) * 4
        );
        // Factored second moment: far below one byte per parameter.
        assert!(adafactor.details.optimizer_states.0 < PSI / 10);
        assert_eq!(adam.gradients_memory, sgd.gradients_memory);
    }

    #[test]
    fn checkpointing_and_flash_attention_change_activations() {
        let plain = run(|r| r.sequence_length = 4096);
        let ckpt = run(|r| {
            r.sequence_length = 4096;
            r.gradient_checkpointing = true;
        });
        let eager = run(|r| {
            r.sequence_length = 4096;
            r.use_flash_attention = false;
        });
        assert!(ckpt.activation_memory.0 < plain.activation_memory.0 / 2);
        // 32 layers x 32 heads x 4096^2 x (4 + 2) bytes of scores on top.
        assert_eq!(
            eager.activation_memory.0 - plain.activation_memory.0,
            32 * 32 * 4096 * 4096 * 6
        );
    }

    #[test]
    fn methods_train_what_they_say() {
        let freeze = run(|r| r.method = Method::Freeze);
        let layer = llama().params.dense_layer as u64;
        assert_eq!(freeze.details.trainable_parameters, 2 * layer);
        assert_eq!(freeze.details.layers_with_activations, 2);
        let lora = run(|r| {
            r.method = Method::Lora;
            r.lora_target = LoraTarget::Attention;
        });
        // Rank 8 on q, k, v, o of 32 layers: 8 x ((4096+4096) + 2 x (4096+1024) + (4096+4096)).
        assert_eq!(
            lora.details.trainable_parameters,
            32 * 8 * (8192 + 2 * 5120 + 8192)
        );
        let ok = run(|r| {
            r.method = Method::Lora;
            r.trainable_percent = Some(100.0);
        });
        assert!(ok.warnings.iter().any(|w| w.contains("ignored for lora")));
        let mut req = TrainingRequest::new(1, 1024);
        req.method = Method::Qlora;
        req.trainable_percent = Some(50.0);
        assert!(matches!(
            estimate_training(llama(), &req),
            Err(CalcError::InvalidField { ref field, .. }) if field == "trainable_parameters"
        ));
    }
}
