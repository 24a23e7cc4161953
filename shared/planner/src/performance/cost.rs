//! What one engine step costs on one GPU of a replica: the bytes it reads (weights,
//! and the keys and values of every sequence it attends over), the matrix and attention
//! FLOPs it computes, the tensor-parallel all-reduces, and the engine's fixed costs
//! (methodology §12.1).

use super::efficiency::Efficiency;
use super::hardware::{Hardware, Shape};

/// What one step schedules, summed over its sequences.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// Sequences decoding one token.
    pub decodes: f64,
    /// Their context lengths, summed (tokens attended by full-attention layers).
    pub decode_context: f64,
    /// Their contexts capped at the window, summed.
    pub decode_window_context: f64,
    /// Prompt tokens prefilled in this step (chunks of one or more requests).
    pub prefill_tokens: f64,
    /// Requests whose prompt is (partly) prefilled.
    pub prefill_requests: f64,
    /// Σ chunk × (tokens before it + chunk/2): the key positions its queries attend.
    pub prefill_attention: f64,
    /// The same with every position capped at the window.
    pub prefill_window_attention: f64,
    /// Tokens before each chunk, summed: keys and values read from the cache.
    pub prefill_prior: f64,
    /// The same capped at the window.
    pub prefill_window_prior: f64,
    /// Tokens sampled (every decode, and each prompt finished in this step).
    pub sampled: f64,
}

impl Step {
    /// Tokens the step computes.
    pub fn tokens(&self) -> f64 {
        self.decodes + self.prefill_tokens
    }
}

/// A step's time and where it goes, seconds and its counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepCost {
    /// Wall time of the step, seconds.
    pub seconds: f64,
    /// Weight bytes read on one GPU.
    pub weight_bytes: f64,
    /// Key/value bytes read on one GPU.
    pub kv_bytes: f64,
    /// FLOPs on one GPU (linear layers and attention).
    pub flops: f64,
    /// Time of the linear layers, seconds: the longer of reading the weights and
    /// computing them.
    pub linear_seconds: f64,
    /// Of which compute-bound, seconds (0 when reading the weights takes longer).
    pub linear_compute_seconds: f64,
    /// Time of attention, seconds: the longer of reading the cache and computing.
    pub attention_seconds: f64,
    /// Of which compute-bound, seconds.
    pub attention_compute_seconds: f64,
    /// Tensor-parallel all-reduces, seconds.
    pub allreduce_seconds: f64,
    /// The engine's fixed and per-sequence costs, seconds.
    pub overhead_seconds: f64,
}

/// Distinct experts `tokens` tokens reach in one MoE layer when each picks `top_k` of
/// `experts` uniformly: `E·(1 − (1 − k/E)^N)`, the expectation of the number of
/// experts hit (each expert is missed by one token with probability `1 − k/E`).
pub fn distinct_experts(experts: f64, top_k: f64, tokens: f64) -> f64 {
    if experts <= 0.0 {
        return 0.0;
    }
    experts * (1.0 - (1.0 - top_k / experts).powf(tokens.max(1.0)))
}

/// The time of one step on one GPU of a replica.
pub fn step_cost(shape: &Shape, hw: &Hardware, eff: &Efficiency, step: &Step) -> StepCost {
    let tokens = step.tokens();
    let tp = shape.tensor_parallel;
    let bandwidth = hw.bandwidth * eff.bandwidth;
    // Linear layers: every dense weight once, the experts the step's tokens reach, and
    // 2 FLOPs per parameter per token (lm_head only for sampled tokens).
    let weight_bytes = shape.dense_bytes
        + shape.moe_layers
            * distinct_experts(shape.experts, shape.top_k, tokens)
            * shape.expert_bytes;
    let linear_flops =
        (2.0 * shape.linear_params * tokens + 2.0 * shape.lm_head_params * step.sampled) / tp;
    let read = weight_bytes / bandwidth;
    let compute = linear_flops / (hw.linear_flops * eff.compute);
    let linear_seconds = read.max(compute);
    // Attention: the keys and values of every attended position read once; QKᵀ and
    // PV are 2 FLOPs each per query width per (query, key) pair.
    let positions = shape.full_attention_layers * (step.decode_context + step.prefill_attention)
        + shape.window_layers * (step.decode_window_context + step.prefill_window_attention);
    let cached = shape.full_attention_layers * (step.decode_context + step.prefill_prior)
        + shape.window_layers * (step.decode_window_context + step.prefill_window_prior);
    let kv_bytes = cached * shape.kv_bytes_per_token_layer;
    let attention_flops = 4.0 * shape.query_width / tp * positions;
    let kv_read = kv_bytes / bandwidth;
    let attention_compute = attention_flops / (hw.attention_flops * eff.attention);
    let attention_seconds = kv_read.max(attention_compute);
    // Two all-reduces per layer (after attention and after the MLP) of one 16-bit
    // hidden vector per token: a ring moves 2(t−1)/t of the message through each link.
    let allreduce_seconds = if tp > 1.0 {
        let message = tokens * shape.hidden * 2.0;
        2.0 * shape.layers
            * (hw.allreduce_latency + 2.0 * (tp - 1.0) / tp * message / (hw.link * eff.link))
    } else {
        0.0
    };
    let overhead_seconds =
        eff.step_seconds + eff.sequence_seconds * (step.decodes + step.prefill_requests);
    StepCost {
        seconds: linear_seconds + attention_seconds + allreduce_seconds + overhead_seconds,
        weight_bytes,
        kv_bytes,
        flops: linear_flops + attention_flops,
        linear_seconds,
        linear_compute_seconds: if compute > read { compute } else { 0.0 },
        attention_seconds,
        attention_compute_seconds: if attention_compute > kv_read {
            attention_compute
        } else {
            0.0
        },
        allreduce_seconds,
        overhead_seconds,
    }
}
