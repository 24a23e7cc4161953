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
use super::TrainingRequest;
use crate::architecture::{Architecture, Moe};
use crate::model::Model;
use crate::runtime::FP32_BYTES;

/// Bytes per (token × vocabulary entry) at the loss. transformers' `ForCausalLMLoss`
/// upcasts the logits to fp32; at the start of backward three fp32 tensors of that
/// shape coexist: the log-probabilities `log_softmax` saved, the gradient `nll_loss`
/// returns for them, and the gradient `log_softmax`'s backward produces for the
/// logits (3 × 4 bytes).
pub(crate) const CE_BYTES_PER_LOGIT: u128 = 3 * FP32_BYTES;

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
    let around = attention_saved(arch, a, resid) + ffn_norm_saved(arch, t, a, resid);
    let dense = dense_layer(arch, t, around, a);
    let moe = arch.moe.map(|m| moe_layer(arch, &m, t, around, a));
    let eager = eager_scores(arch, req, a);

    // Layers that keep activations: the last `grad_layers`, MoE layers being the last
    // ones in every supported layout.
    let moe_layers = arch.moe.map_or(0, |m| m.moe_layers).min(t.grad_layers) as u128;
    let dense_layers = t.grad_layers as u128 - moe_layers;
    let moe = moe.unwrap_or(LayerBytes { saved: 0, work: 0 });

    let final_norm = tokens * (h * resid + h * a);
    let loss = tokens * arch.vocab_size as u128 * CE_BYTES_PER_LOGIT;
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
