//! Activations of one training micro-batch: what autograd keeps per layer, the working
//! set of one layer's backward, the loss buffers, and the peak they make with and
//! without gradient checkpointing (`docs/methodology.md` §7.5).
//!
//! Per-layer saved tensors follow what autograd keeps (Korthikanti et al. 2022,
//! "Reducing Activation Recomputation in Large Transformer Models", redone for current
//! layers): norm inputs, the inputs of linear layers whose weights are trained (a
//! frozen layer needs its weight, not its input, to pass the gradient on), flash
//! attention's q/k/v/output and log-sum-exp, the MLP intermediates elementwise ops
//! need. All sizes below are bytes per token unless a name says otherwise.

mod mixer;

use super::request::{TrainingRequest, DEFAULT_LOSS_CHUNKS};
use super::targets::{adapts, adapts_any};
use super::trainable::Trainable;
use super::vocabulary::Loss;
use crate::architecture::{Architecture, FeedForward, LinearGroup, Moe, Norm, QkNorm};
use crate::linear::{LinearKind, Projection};
use crate::model::Model;
use crate::runtime::FP32_BYTES;

/// Tensors of one logit's size alive at the peak of the loss's backward: the
/// log-probabilities `log_softmax` saved, the gradient `nll_loss` returns for them and
/// the gradient `log_softmax`'s backward produces for the logits. In fp32 for the
/// standard loss (12 bytes per logit), in the compute dtype without the upcast (6 for
/// bf16); both measured on an H100 (`scripts/device/training_terms.py`: 12.0 and 6.0
/// bytes per logit beyond the 16-bit logits).
pub(crate) const CE_TENSORS_PER_LOGIT: u128 = 3;

/// The chunked loss keeps every chunk's fp32 log-probabilities for backward, and
/// builds the two fp32 gradients of one chunk at a time (measured 5.0 bytes per logit
/// with 8 chunks: 4 + 8/8).
const CHUNKED_GRADIENT_TENSORS: u128 = 2;

/// Tensors of the widest intermediate alive in one layer's backward: the gradient
/// arriving at it and the gradient it produces for its input (likewise two of the
/// residual width: into the block and out of it).
const BACKWARD_WORKING_COPIES: u128 = 2;

/// Saved activations and backward working set of one decoder layer, bytes per token.
#[derive(Clone, Copy)]
struct LayerBytes {
    saved: u128,
    work: u128,
}

/// How a framework feeds its 16-bit matmuls, which decides which inputs autograd
/// saves as separate copies (measured with saved-tensor hooks on an H100,
/// `scripts/device/saved_tensors.py`, methodology §7.5).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Casting {
    /// Compute dtype bytes.
    pub a: u128,
    /// Residual stream bytes: 4 for an fp32 model under torch autocast and for QLoRA.
    pub resid: u128,
    /// Norm weights train (full and freeze): each norm also saves its normalized input.
    pub norms_trained: bool,
    /// Each trained projection casts its fp32 input to 16 bits and saves that copy
    /// (torch autocast over fp32 weights), instead of the projections sharing one.
    pub input_casts: bool,
    /// Each LoRA adapter saves its own 16-bit copy of its input: PEFT casts the input to
    /// the fp32 adapters' dtype and autocast casts it back, or dropout makes a copy.
    pub adapter_copies: bool,
    /// The step runs under torch autocast, which runs `cross_entropy` in fp32 whatever
    /// dtype the model code hands it.
    pub autocast: bool,
}

/// One norm over `width` values. RMSNorm as transformers writes it upcasts its input
/// to fp32 and saves it (the residual itself when that is fp32) with the fp32 inverse
/// RMS per token, and, when its weight trains, the normalized input in the input dtype
/// (Gemma's in fp32). LayerNorm saves its input (its two fp32 statistics per token are
/// not counted).
fn norm_saved(arch: &Architecture, width: u128, c: &Casting) -> u128 {
    match arch.norm {
        Norm::Rms => {
            let normalized = if !c.norms_trained {
                0
            } else if arch.model_type.starts_with("gemma") {
                width * FP32_BYTES
            } else {
                width * c.resid
            };
            width * c.resid.max(FP32_BYTES) + FP32_BYTES + normalized
        }
        Norm::Layer { .. } => width * c.resid,
    }
}

/// Linear layers of `kinds` per decoder layer that has them: how many read the
/// block's normalized input (`hidden` wide), the summed widths of the attention
/// block's other inputs (the output projection reads the attention output, MLA's
/// up-projections its latents; the MLP's other input, the down projection's, is
/// counted with the MLP), and how many there are in all. By role, not shape (q and o
/// are often the same shape). A model with dense and MoE layers gets the dense MLP's
/// and the shared experts' together (an over-count for either).
fn projections(model: &Model, kinds: &[LinearKind]) -> (u128, u128, u128) {
    counted_projections(model, kinds, |_| true)
}

/// [`projections`] over the matrices LoRA adapts: what their adapters read.
fn adapted_projections(
    model: &Model,
    req: &TrainingRequest,
    kinds: &[LinearKind],
) -> (u128, u128, u128) {
    counted_projections(model, kinds, |g| adapts(model, req, g))
}

/// [`projections`] over the groups of `kinds` that `counted` keeps.
fn counted_projections(
    model: &Model,
    kinds: &[LinearKind],
    counted: impl Fn(&LinearGroup) -> bool,
) -> (u128, u128, u128) {
    let arch = &model.arch;
    let (mut readers, mut others, mut all) = (0, 0, 0);
    for g in model.linears.iter().filter(|g| kinds.contains(&g.kind)) {
        if !counted(g) {
            continue;
        }
        let per_layer = g.shape.count / layers_of(model, g.kind);
        all += per_layer;
        if g.projection.reads_block_input() {
            readers += per_layer;
        } else if g.kind == LinearKind::Attention {
            others += match (g.projection, arch.mla) {
                (Projection::KeyValueB, Some(m)) => m.kv_lora_rank as u128,
                (Projection::QueryB | Projection::IndexerQuery, Some(m)) => {
                    m.q_lora_rank.unwrap_or(0) as u128
                }
                _ => arch.attn_out_dim() as u128,
            };
        }
    }
    (readers, others, all)
}

/// The decoder layers that hold matrices of `kind` (at least 1).
fn layers_of(model: &Model, kind: LinearKind) -> u128 {
    let arch = &model.arch;
    match kind {
        LinearKind::Attention => arch.attention_layers,
        LinearKind::Mlp => arch.dense_layers(),
        LinearKind::Expert | LinearKind::SharedExpert => arch.moe.map_or(0, |m| m.moe_layers),
        LinearKind::Mixer => arch.mixer.map_or(0, |m| m.layers),
    }
    .max(1) as u128
}

/// What the projections of a block save of their inputs beyond the block's own
/// tensors: the normalized input once when they share it; one 16-bit copy per
/// projection under autocast casts; with LoRA adapter copies, one per adapted matrix
/// (the other inputs too: `o_proj`'s, MLA's latents), and each adapter's rank-`r`
/// `lora_A` output. `trained` says whether any projection of the block trains.
fn projection_inputs(
    model: &Model,
    req: &TrainingRequest,
    kinds: &[LinearKind],
    trained: bool,
    c: &Casting,
) -> u128 {
    let h = model.arch.hidden_size as u128;
    if adapts_any(model, req, kinds) {
        let (readers, other_widths, all) = adapted_projections(model, req, kinds);
        let rank = all * req.lora_rank as u128 * c.a;
        return if c.adapter_copies {
            (readers * h + other_widths) * c.a + rank
        } else {
            h * c.a + rank
        };
    }
    let (readers, _, _) = projections(model, kinds);
    if trained && c.input_casts {
        readers * h * c.a
    } else if trained {
        h * c.a
    } else {
        0
    }
}

/// The attention block's saved tensors: its norm, the projections' inputs, q, k, v and
/// the attention output for flash attention's backward, its fp32 log-sum-exp per
/// head, q/k norms, MLA's latents, and Gemma's extra norms. The projections' inputs
/// are saved when they train (full, freeze) or carry adapters.
fn attention_saved(model: &Model, req: &TrainingRequest, c: &Casting) -> u128 {
    let arch = &model.arch;
    let (h, a) = (arch.hidden_size as u128, c.a);
    let (q, kv, o) = (
        arch.q_dim() as u128,
        arch.kv_dim() as u128,
        arch.attn_out_dim() as u128,
    );
    let mut attn = norm_saved(arch, h, c)
        + projection_inputs(
            model,
            req,
            &[LinearKind::Attention],
            !req.method.is_peft(),
            c,
        )
        + (q + 2 * kv + o) * a
        + arch.num_heads as u128 * FP32_BYTES;
    // RMSNorm on q and k: fp32 input, an inverse RMS per normalized vector, and the
    // normalized input when the norm has a weight that trains.
    let (normalized, weighted) = match arch.qk_norm {
        QkNorm::None => (0, false),
        QkNorm::PerHead => ((arch.num_heads + arch.num_kv_heads) as u128, true),
        QkNorm::AcrossHeads => (2, true),
        QkNorm::Unweighted => ((arch.num_heads + arch.num_kv_heads) as u128, false),
    };
    if normalized > 0 {
        let trained = if c.norms_trained && weighted {
            (q + kv) * a
        } else {
            0
        };
        // Llama 4 normalizes only on its rotary layers: averaged over the layers.
        let share = |x: u128| match arch.qk_norm {
            QkNorm::Unweighted => x * arch.sliding_layers as u128 / arch.num_layers.max(1) as u128,
            _ => x,
        };
        attn += share((q + kv) * FP32_BYTES + normalized * FP32_BYTES + trained);
    }
    if let Some(m) = arch.mla {
        let latent = (m.q_lora_rank.unwrap_or(0) + m.kv_lora_rank + m.qk_rope_head_dim) as u128;
        // The latents, and their copies as inputs of the trained up-projections.
        attn += 2 * latent * a;
    }
    // Norms beyond the usual two (Gemma 2/3's post-attention and post-MLP norms).
    attn + arch.norms_per_layer.saturating_sub(2) as u128 * norm_saved(arch, h, c)
}

/// The feed-forward block's input norm and what its projections save of its output.
fn ffn_norm_saved(model: &Model, req: &TrainingRequest, t: &Trainable, c: &Casting) -> u128 {
    let arch = &model.arch;
    let h = arch.hidden_size as u128;
    let separate_mlp_norm = !arch.parallel_attention;
    let mut saved = 0;
    if separate_mlp_norm {
        saved += norm_saved(arch, h, c);
    }
    if separate_mlp_norm || arch.norms_per_layer >= 2 {
        saved += projection_inputs(model, req, &MLP_KINDS, t.mlp_weights, c);
    }
    saved
}

/// The kinds of linear layers of the feed-forward block.
const MLP_KINDS: [LinearKind; 2] = [LinearKind::Mlp, LinearKind::SharedExpert];

/// An MLP of hidden `width`: gate, up and their product kept for the gated activation
/// (3 widths) or the pre-activation (1), plus the down projection's input when it is
/// trained.
fn mlp_saved(arch: &Architecture, t: &Trainable, width: u128, a: u128) -> u128 {
    let elementwise = if arch.gated_mlp { 3 } else { 1 };
    (elementwise + t.mlp_weights as u128) * width * a
}

/// Gradients of the widest intermediate (`widest`) and of the residual stream.
fn backward_work(arch: &Architecture, widest: u128, a: u128) -> u128 {
    BACKWARD_WORKING_COPIES * (widest + arch.hidden_size as u128) * a
}

/// The attention block of a layer: what [`attention_saved`] lists, with the gradients
/// of the q/k/v projections' output as the widest backward tensor.
fn attention_part(model: &Model, req: &TrainingRequest, c: &Casting) -> LayerBytes {
    let arch = &model.arch;
    LayerBytes {
        saved: attention_saved(model, req, c),
        work: backward_work(arch, (arch.q_dim() + 2 * arch.kv_dim()) as u128, c.a),
    }
}

/// The dense MLP block: its norm and projection inputs, its intermediates.
fn dense_part(model: &Model, req: &TrainingRequest, t: &Trainable, c: &Casting) -> LayerBytes {
    let arch = &model.arch;
    let i = arch.intermediate_size as u128;
    let mlp_width = if arch.gated_mlp { 2 * i } else { i };
    LayerBytes {
        saved: ffn_norm_saved(model, req, t, c) + mlp_saved(arch, t, i, c.a),
        work: backward_work(arch, mlp_width, c.a),
    }
}

/// An MoE block: its norm, the router's fp32 logits, and per routed copy of a token the
/// expert's input (when trained), intermediates and output; shared experts as a dense
/// MLP.
fn moe_part(
    model: &Model,
    req: &TrainingRequest,
    m: &Moe,
    t: &Trainable,
    c: &Casting,
) -> LayerBytes {
    let (arch, a) = (&model.arch, c.a);
    let h = arch.hidden_size as u128;
    let k = m.experts_per_token as u128;
    let (ie, is) = (m.expert_intermediate as u128, m.shared_intermediate as u128);
    let routed = k * (t.mlp_weights as u128 * h * a + mlp_saved(arch, t, ie, a) + h * a);
    let shared = mlp_saved(arch, t, is, a);
    LayerBytes {
        saved: ffn_norm_saved(model, req, t, c)
            + m.num_experts as u128 * FP32_BYTES
            + routed
            + shared,
        work: backward_work(arch, 2 * (k * ie + is), a),
    }
}

/// The blocks a layer can hold, each sized once per micro-batch shape.
struct Parts {
    attention: LayerBytes,
    mixer: LayerBytes,
    dense: LayerBytes,
    moe: LayerBytes,
    /// Bytes per token of every layer: LoRA dropout's masks.
    every_layer: u128,
    /// The block input norm, saved once by a layer whose attention and mixer share it.
    norm: u128,
    /// Eager attention's scores, bytes per attention layer and micro-batch.
    eager: u128,
}

impl Parts {
    fn new(model: &Model, req: &TrainingRequest, t: &Trainable, c: &Casting) -> Parts {
        let none = LayerBytes { saved: 0, work: 0 };
        Parts {
            attention: attention_part(model, req, c),
            mixer: model
                .arch
                .mixer
                .map_or(none, |m| mixer::part(model, req, &m, t, c)),
            dense: dense_part(model, req, t, c),
            moe: model
                .arch
                .moe
                .map_or(none, |m| moe_part(model, req, &m, t, c)),
            every_layer: lora_dropout_masks(model, req),
            norm: norm_saved(&model.arch, model.arch.hidden_size as u128, c),
            eager: eager_scores(&model.arch, req, c.a),
        }
    }

    /// Layer `index`: its blocks' saved tensors added, the widest backward of one block
    /// at a time, and eager attention's scores (per micro-batch) where it attends.
    /// A parallel hybrid layer (Falcon-H1) reads one normalized input for attention
    /// and its mixer: the mixer's copy of that norm is taken off.
    fn layer(&self, arch: &Architecture, index: u64) -> (LayerBytes, u128) {
        let m = arch.layer(index);
        let feed_forward = match m.feed_forward {
            FeedForward::None => None,
            FeedForward::Dense => Some(self.dense),
            FeedForward::Experts => Some(self.moe),
        };
        let blocks = [
            m.attention.then_some(self.attention),
            m.mixer.then_some(self.mixer),
            feed_forward,
        ];
        let shared_norm = if m.attention && m.mixer { self.norm } else { 0 };
        let layer = blocks.iter().flatten().fold(
            LayerBytes {
                saved: self.every_layer,
                work: 0,
            },
            |sum, p| LayerBytes {
                saved: sum.saved + p.saved,
                work: sum.work.max(p.work),
            },
        );
        let saved = layer.saved.saturating_sub(shared_norm);
        let eager = if m.attention { self.eager } else { 0 };
        (LayerBytes { saved, ..layer }, eager)
    }
}

/// Eager attention's fp32 softmax output and the 16-bit probabilities cast back, per
/// layer for the whole micro-batch (the term flash attention removes).
fn eager_scores(arch: &Architecture, req: &TrainingRequest, a: u128) -> u128 {
    if req.use_flash_attention {
        return 0;
    }
    let (b, s) = (req.batch_size as u128, req.sequence_length as u128);
    b * arch.num_heads as u128 * s * s * (FP32_BYTES + a)
}

/// Activation peak of one micro-batch and the loss buffers inside it, in bytes. `a` is
/// the compute dtype's bytes, `resid` the residual stream's.
pub(crate) fn activation_bytes(
    model: &Model,
    req: &TrainingRequest,
    t: &Trainable,
    c: &Casting,
) -> (u128, u128) {
    let arch = &model.arch;
    let tokens = req.batch_size as u128 * req.sequence_length as u128;
    let h = arch.hidden_size as u128;
    let parts = Parts::new(model, req, t, c);
    // Layers that keep activations: the last `grad_layers`.
    let first = arch.num_layers - t.grad_layers.min(arch.num_layers);
    let layers = (first..arch.num_layers).map(|i| parts.layer(arch, i));

    let final_norm = tokens * (norm_saved(arch, h, c) + h * c.a);
    let loss = loss_bytes(req, arch, c);

    let peak = if req.gradient_checkpointing {
        // Each layer keeps only its input; one layer at a time is recomputed, after
        // the loss buffers are freed.
        let checkpoints = t.grad_layers as u128 * tokens * h * c.resid;
        let one_layer = layers
            .map(|(l, eager)| tokens * (l.saved + l.work) + eager)
            .max()
            .unwrap_or(0);
        checkpoints + final_norm + loss.max(one_layer)
    } else {
        let (mut stored, mut widest) = (0, 0);
        for (l, eager) in layers {
            stored += tokens * l.saved + eager;
            widest = widest.max(l.work);
        }
        stored + final_norm + loss.max(tokens * widest)
    };
    (peak, loss)
}

/// Loss buffers of one micro-batch, in bytes (methodology §7.5): the largest set of
/// logit-sized tensors alive at once, which is the start of the loss's backward (the
/// forward moment, the 16-bit logits beside an upcast copy and the saved
/// log-probabilities, holds less), plus the model's returned logits when the training
/// loop holds them through backward (`hold_logits`).
fn loss_bytes(req: &TrainingRequest, arch: &Architecture, c: &Casting) -> u128 {
    let a = c.a;
    let tokens = req.batch_size as u128 * req.sequence_length as u128;
    let (v, h) = (arch.vocab_size as u128, arch.hidden_size as u128);
    // Autocast's float32 op list has `cross_entropy` (and `log_softmax`, `nll_loss`):
    // under autocast the loss is fp32 whether or not the model code upcasts.
    let loss_dtype = |upcast: bool| {
        if upcast || c.autocast {
            FP32_BYTES.max(a)
        } else {
            a
        }
    };
    let buffers = match req.loss {
        Loss::Standard => tokens * v * CE_TENSORS_PER_LOGIT * loss_dtype(true),
        Loss::NoUpcast => tokens * v * CE_TENSORS_PER_LOGIT * loss_dtype(false),
        Loss::Chunked => {
            let chunk =
                tokens.div_ceil(req.loss_chunks.unwrap_or(DEFAULT_LOSS_CHUNKS).max(1) as u128);
            tokens * v * FP32_BYTES + chunk * v * CHUNKED_GRADIENT_TENSORS * FP32_BYTES
        }
        Loss::Fused => {
            // Liger Kernel's fused linear cross-entropy
            // (`fused_linear_cross_entropy_forward`): positions in chunks of
            // next_power_of_two(ceil(tokens / ceil(V / h))), each chunk's logits
            // overwritten in place by their gradient, and the hidden states' gradient.
            // The output weight's gradient it builds (when that weight trains) becomes
            // the weight's `.grad`, counted with the gradients.
            let chunk = tokens
                .div_ceil(v.div_ceil(h.max(1)))
                .next_power_of_two()
                .min(tokens);
            return chunk * v * a + tokens * h * a;
        }
    };
    // The logits the model returns are the output layer's, in the compute dtype
    // (transformers' `ForCausalLMLoss` upcasts a copy inside the loss).
    let held = if req.hold_logits { tokens * v * a } else { 0 };
    buffers + held
}

/// Bytes per token and layer of LoRA dropout's masks (`lora_dropout` > 0): PEFT applies
/// its own `nn.Dropout` before each adapter's `lora_A`, which saves a 1-byte mask (the
/// dropped copy is one of the adapter copies, [`Casting::adapter_copies`]). Averaged
/// over the layers; routed experts see `k` of `E` tokens.
fn lora_dropout_masks(model: &Model, req: &TrainingRequest) -> u128 {
    if !req.method.is_peft() || req.lora_dropout <= 0.0 {
        return 0;
    }
    let moe = model.arch.moe;
    let inputs: u128 = model
        .linears
        .iter()
        .filter(|g| adapts(model, req, g))
        .map(|g| {
            let width = g.shape.rows_in as u128 * g.shape.count;
            match (g.kind, moe) {
                (LinearKind::Expert, Some(m)) => {
                    width * m.experts_per_token as u128 / m.num_experts.max(1) as u128
                }
                _ => width,
            }
        })
        .sum();
    // One byte (a bool mask) per adapted input value.
    inputs.div_ceil(model.arch.num_layers.max(1) as u128)
}

#[cfg(test)]
mod tests;
