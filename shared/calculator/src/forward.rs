//! The transient memory of one forward pass over prompt tokens without autograd: the
//! prefill of a transformers `generate()` call and vLLM's profile run both take their
//! activation peak from here (`docs/methodology.md` §5).

use crate::architecture::{MixerKind, StateMixer};
use crate::kv_cache::kv_heads_per_gpu;
use crate::model::Model;
use crate::runtime::FP32_BYTES;

/// Which rows of the final hidden state go through `lm_head` in a forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogitRows {
    /// One row per sequence, sampled from: the logits in the compute dtype and
    /// `fp32_tensors` fp32 tensors of the same shape that the sampler makes.
    Sampled {
        /// Sequences sampled from.
        rows: u128,
        /// fp32 `[rows, vocab]` tensors alive at the sampler's peak.
        fp32_tensors: u128,
    },
    /// Every position, returned in the compute dtype.
    Every,
}

/// The shape of one forward pass over prompt tokens, per GPU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForwardPass {
    /// Tokens in the pass (all sequences together).
    pub tokens: u128,
    /// Sequences the tokens belong to (chunked scans restart per sequence).
    pub sequences: u128,
    /// `(sequences, tokens per sequence)` when attention materialises its score
    /// matrix (eager attention); `None` for flash/paged attention kernels.
    pub eager_scores: Option<(u128, u128)>,
    /// The rows `lm_head` computes.
    pub logits: LogitRows,
}

/// Peak transient memory of a forward pass over prompt tokens (no autograd: each
/// tensor is freed once its consumer ran, so the peak is the residual stream plus the
/// largest block), in bytes; methodology §5.
pub(crate) fn forward_activation_bytes(
    model: &Model,
    pass: ForwardPass,
    gpus: u64,
    a: u128,
) -> u128 {
    let arch = &model.arch;
    let n = gpus as u128;
    let tokens = pass.tokens;
    let h = arch.hidden_size as u128;
    let kv_g = match arch.mla {
        Some(_) => arch.kv_dim() as u128 / n,
        None => kv_heads_per_gpu(model, gpus) as u128 * arch.head_dim as u128,
    };
    let q_g = arch.q_dim() as u128 / n;
    let o_g = arch.attn_out_dim() as u128 / n;

    // Hidden state and residual copy, replicated on every GPU.
    let residual = tokens * h * a * 2;

    // Norm output, q/k/v, their rotary copies, attention output; the output gate's
    // half of a gated query projection (Qwen3-Next, Qwen3.5).
    let gate_g = (arch.q_proj_width() - arch.q_dim()) as u128 / n;
    let mut attention = tokens * (h + q_g + 2 * kv_g + q_g + kv_g + o_g + gate_g) * a;
    // Attention beside a mixer in every layer (Falcon-H1) runs while the mixer's output
    // waits to be added.
    let side_by_side = arch.mixer.is_some_and(|m| m.layers == arch.num_layers)
        && arch.attention_layers == arch.num_layers;
    if side_by_side {
        attention += tokens * h * a;
    }
    if let Some(m) = arch.mla {
        let latent =
            m.q_lora_rank.unwrap_or(0) as u128 + (m.kv_lora_rank + m.qk_rope_head_dim) as u128;
        attention += tokens * latent * a;
    }
    if let Some((sequences, length)) = pass.eager_scores {
        // Eager attention: scores in the compute dtype, softmax in fp32, probabilities
        // cast back.
        let heads = arch.num_heads as u128 / n;
        attention += sequences * heads * length * length * (a + FP32_BYTES + a);
    }

    let i = arch.intermediate_size as u128 / n;
    let up_width = if arch.gated_mlp { 3 * i } else { 2 * i };
    let dense = if arch.dense_layers() > 0 {
        tokens * (h + up_width) * a
    } else {
        0
    };
    let moe = arch.moe.map_or(0, |m| {
        // Fused MoE (vLLM): router logits in fp32, per routed copy the permuted input,
        // the gate/up output, the activation and the expert output; shared experts as a
        // dense gated MLP.
        let k = m.experts_per_token as u128;
        let ie = m.expert_intermediate as u128 / n;
        let is = m.shared_intermediate as u128 / n;
        tokens * m.num_experts as u128 * FP32_BYTES
            + tokens * k * (2 * h + 3 * ie) * a
            + tokens * 3 * is * a
    });

    // Logits: a generating server computes one row per sequence (16-bit logits, the
    // fp32 copy the sampler takes, fp32 probabilities); scoring a prompt returns the
    // 16-bit logits of every position (transformers upcasts to fp32 only inside the
    // loss). Either way with the final norm's output.
    let v = arch.vocab_size as u128;
    let logits = match pass.logits {
        LogitRows::Sampled { rows, fp32_tensors } => rows * v * (a + fp32_tensors * FP32_BYTES),
        LogitRows::Every => tokens * v * a,
    } + tokens * h * a;

    let mixer = arch
        .mixer
        .map_or(0, |m| mixer_transient(m, tokens, pass.sequences, h, n, a));
    residual + attention.max(dense).max(moe).max(logits).max(mixer)
}

/// The forward pass of one mixer layer over `tokens` tokens of `sequences` sequences on
/// one of `n` GPUs: the norm's output, the input projection's streams, the
/// convolution's output, the scan's output and the gated norm's, in the compute dtype,
/// and the recurrent state the chunked scan materializes at every chunk boundary of
/// each sequence (one per `scan_chunk` tokens): in the compute dtype for the
/// delta-rule kernels (flash-linear-attention's `h = k.new_empty(B, NT, H, K, V)`), in
/// fp32 for Mamba-2's (`_chunk_state_fwd`).
fn mixer_transient(
    m: StateMixer,
    tokens: u128,
    sequences: u128,
    h: u128,
    n: u128,
    a: u128,
) -> u128 {
    let streams = (m.in_proj + m.conv_channels + 2 * m.out_proj) as u128 / n;
    let per_sequence = tokens.div_ceil(sequences.max(1));
    let chunks = m
        .scan_chunk
        .map_or(0, |c| sequences * per_sequence.div_ceil(c.max(1) as u128));
    let state_bytes = match m.kind {
        MixerKind::Mamba2 => FP32_BYTES,
        _ => a,
    };
    tokens * (h + streams) * a + chunks * m.recurrent_state as u128 / n * state_bytes
}
