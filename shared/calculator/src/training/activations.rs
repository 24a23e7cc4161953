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

use super::trainable::Trainable;
use super::vocabulary::Loss;
use super::{TrainingRequest, DEFAULT_LOSS_CHUNKS};
use crate::architecture::{Architecture, LinearKind, Moe};
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

/// The attention block's saved tensors: its norm input (in the residual dtype) and
/// output, q, k, v and the attention output for flash attention's backward, its fp32
/// log-sum-exp per head, q/k-norm inputs, MLA's latents, and Gemma's extra norm
/// inputs. Every method trains the attention projections, so their inputs are kept.
fn attention_saved(arch: &Architecture, a: u128, resid: u128) -> u128 {
    let h = arch.hidden_size as u128;
    let (q, kv, o) = (
        arch.q_dim() as u128,
        arch.kv_dim() as u128,
        arch.attn_out_dim() as u128,
    );
    // The norm output is the input of the trained q/k/v projections.
    let mut attn = h * resid + h * a + (q + 2 * kv + o) * a + arch.num_heads as u128 * FP32_BYTES;
    if arch.qk_norm {
        attn += (q + kv) * a;
    }
    if let Some(m) = arch.mla {
        let latent = (m.q_lora_rank.unwrap_or(0) + m.kv_lora_rank + m.qk_rope_head_dim) as u128;
        // The latents, and their copies as inputs of the trained up-projections.
        attn += 2 * latent * a;
    }
    // Norms beyond the usual two (Gemma 2/3's post-attention and post-MLP norms).
    attn + arch.norms_per_layer.saturating_sub(2) as u128 * h * a
}

/// The feed-forward block's input norm: its input, and its output when a trained MLP
/// projection reads it.
fn ffn_norm_saved(arch: &Architecture, t: &Trainable, a: u128, resid: u128) -> u128 {
    let h = arch.hidden_size as u128;
    let separate_mlp_norm = !arch.parallel_attention;
    let mut saved = 0;
    if separate_mlp_norm {
        saved += h * resid;
    }
    if (separate_mlp_norm || arch.norms_per_layer >= 2) && t.mlp_weights {
        saved += h * a;
    }
    saved
}

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

fn dense_layer(arch: &Architecture, t: &Trainable, around: u128, a: u128) -> LayerBytes {
    let (q, kv) = (arch.q_dim() as u128, arch.kv_dim() as u128);
    let i = arch.intermediate_size as u128;
    let mlp_width = if arch.gated_mlp { 2 * i } else { i };
    LayerBytes {
        saved: around + mlp_saved(arch, t, i, a),
        work: backward_work(arch, (q + 2 * kv).max(mlp_width), a),
    }
}

/// An MoE layer: the router's fp32 logits, and per routed copy of a token the expert's
/// input (when trained), intermediates and output; shared experts as a dense MLP.
fn moe_layer(arch: &Architecture, m: &Moe, t: &Trainable, around: u128, a: u128) -> LayerBytes {
    let (h, q, kv) = (
        arch.hidden_size as u128,
        arch.q_dim() as u128,
        arch.kv_dim() as u128,
    );
    let k = m.experts_per_token as u128;
    let (ie, is) = (m.expert_intermediate as u128, m.shared_intermediate as u128);
    let routed = k * (t.mlp_weights as u128 * h * a + mlp_saved(arch, t, ie, a) + h * a);
    let shared = mlp_saved(arch, t, is, a);
    LayerBytes {
        saved: around + m.num_experts as u128 * FP32_BYTES + routed + shared,
        work: backward_work(arch, (q + 2 * kv).max(2 * (k * ie + is)), a),
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
    a: u128,
    resid: u128,
) -> (u128, u128) {
    let arch = &model.arch;
    let tokens = req.batch_size as u128 * req.sequence_length as u128;
    let h = arch.hidden_size as u128;
    let around = attention_saved(arch, a, resid)
        + ffn_norm_saved(arch, t, a, resid)
        + lora_dropout_saved(model, req, a);
    let dense = dense_layer(arch, t, around, a);
    let moe = arch.moe.map(|m| moe_layer(arch, &m, t, around, a));
    let eager = eager_scores(arch, req, a);

    // Layers that keep activations: the last `grad_layers`, MoE layers being the last
    // ones in every supported layout.
    let moe_layers = arch.moe.map_or(0, |m| m.moe_layers).min(t.grad_layers) as u128;
    let dense_layers = t.grad_layers as u128 - moe_layers;
    let moe = moe.unwrap_or(LayerBytes { saved: 0, work: 0 });

    let final_norm = tokens * (h * resid + h * a);
    let loss = loss_bytes(req, arch, a, t.lm_head);

    let peak = if req.gradient_checkpointing {
        // Each layer keeps only its input; one layer at a time is recomputed, after
        // the loss buffers are freed.
        let checkpoints = t.grad_layers as u128 * tokens * h * resid;
        let one = |layer: LayerBytes, count: u128| {
            if count > 0 {
                tokens * (layer.saved + layer.work)
            } else {
                0
            }
        };
        let one_layer = one(dense, dense_layers).max(one(moe, moe_layers)) + eager;
        checkpoints + final_norm + loss.max(one_layer)
    } else {
        let stored = dense_layers * (tokens * dense.saved + eager)
            + moe_layers * (tokens * moe.saved + eager);
        stored + final_norm + loss.max(tokens * dense.work.max(moe.work))
    };
    (peak, loss)
}

/// Loss buffers of one micro-batch, in bytes (methodology §7.5). `lm_head_trained`:
/// whether the output projection's weight receives a gradient (the fused loss then
/// accumulates it in its own buffer).
fn loss_bytes(req: &TrainingRequest, arch: &Architecture, a: u128, lm_head_trained: bool) -> u128 {
    let tokens = req.batch_size as u128 * req.sequence_length as u128;
    let (v, h) = (arch.vocab_size as u128, arch.hidden_size as u128);
    match req.loss {
        Loss::Standard => tokens * v * CE_TENSORS_PER_LOGIT * FP32_BYTES.max(a),
        Loss::NoUpcast => tokens * v * CE_TENSORS_PER_LOGIT * a,
        Loss::Chunked => {
            let chunk =
                tokens.div_ceil(req.loss_chunks.unwrap_or(DEFAULT_LOSS_CHUNKS).max(1) as u128);
            tokens * v * FP32_BYTES + chunk * v * CHUNKED_GRADIENT_TENSORS * FP32_BYTES
        }
        Loss::Fused => {
            // Liger Kernel's fused linear cross-entropy
            // (`fused_linear_cross_entropy_forward`): positions in chunks of
            // next_power_of_two(ceil(tokens / ceil(V / h))), each chunk's logits
            // overwritten in place by their gradient; the hidden states' gradient; and
            // the output weight's gradient when it trains.
            let chunk = tokens
                .div_ceil(v.div_ceil(h.max(1)))
                .next_power_of_two()
                .min(tokens);
            let weight_grad = if lm_head_trained { v * h * a } else { 0 };
            chunk * v * a + tokens * h * a + weight_grad
        }
    }
}

/// Bytes per token and layer that LoRA dropout adds (`lora_dropout` > 0): PEFT applies
/// its own `nn.Dropout` before each adapter's `lora_A`, which saves a 1-byte mask, and
/// `lora_A` saves the dropped copy of its input. Averaged over the layers; routed
/// experts see `k` of `E` tokens.
fn lora_dropout_saved(model: &Model, req: &TrainingRequest, a: u128) -> u128 {
    if !req.method.is_peft() || req.lora_dropout <= 0.0 {
        return 0;
    }
    const MASK_BYTES: u128 = 1;
    let moe = model.arch.moe;
    let inputs: u128 = model
        .linears
        .iter()
        .filter(|g| req.lora_target.adapts(g.kind))
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
    (inputs * (MASK_BYTES + a)).div_ceil(model.arch.num_layers.max(1) as u128)
}
