//! Exact parameter counts of an architecture (`docs/methodology.md` §2): every linear
//! matrix, bias, norm, router, sink and embedding, so that the total equals the unique
//! weights of the checkpoint.

use crate::architecture::{Architecture, FeedForward, LinearGroup, QkNorm};
use crate::linear::LinearKind;

/// Parameter counts of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ParameterCounts {
    /// Every unique weight (tied embeddings once).
    pub total: u128,
    /// Token embedding, learned positions and an untied `lm_head`.
    pub embedding: u128,
    /// `total - embedding`.
    pub non_embedding: u128,
    /// Parameters a token passes through: for MoE, the routed experts it is not sent to
    /// are left out.
    pub active: u128,
    /// Weights of the linear matrices inside the decoder layers: the ones quantized
    /// checkpoints store in low precision.
    pub linear: u128,
    /// Parameters of one dense decoder layer (attention, MLP, norms); with a fixed-state
    /// mixer, of one such layer that has attention.
    pub dense_layer: u128,
    /// Parameters of one MoE decoder layer (0 when there is none).
    pub moe_layer: u128,
    /// Weights of the input embedding matrix alone.
    pub embedding_matrix: u128,
}

/// What an MoE layer adds around its attention and norms, in parameters.
struct MoeCounts {
    /// Router, shared experts and every routed expert of one MoE layer.
    layer_extra: u128,
    /// One routed expert (weights and biases).
    expert: u128,
    /// MoE layers in the model.
    layers: u128,
    /// Routed experts a token does not visit.
    unvisited: u128,
}

/// Elements of the linear matrices of `kind`, in all layers.
fn kind_elements(linears: &[LinearGroup], kind: LinearKind) -> u128 {
    linears
        .iter()
        .filter(|g| g.kind == kind)
        .map(|g| g.shape.elements())
        .sum()
}

/// Parameters of each block one decoder layer can hold.
struct Blocks {
    /// The attention block (projections, biases, q/k norms, sinks).
    attention: u128,
    /// The fixed-state mixer (projections, convolution, gates, its norm).
    mixer: u128,
    /// The layer's own norms.
    norms: u128,
    /// The dense MLP (with biases).
    dense_mlp: u128,
}

/// Parameters of each block a layer can hold, averaged over the layers that hold
/// it (identical in every layout read).
fn blocks(arch: &Architecture, linears: &[LinearGroup]) -> Blocks {
    let per_kind = |kind| kind_elements(linears, kind);
    Blocks {
        attention: per_kind(LinearKind::Attention)
            .checked_div(arch.attention_layers as u128)
            .map_or(0, |w| w + attention_extra(arch)),
        mixer: arch.mixer.map_or(0, |m| {
            per_kind(LinearKind::Mixer)
                .checked_div(m.layers as u128)
                .map_or(0, |w| w + m.other_params)
        }),
        norms: arch.norms_per_layer as u128 * arch.norm.params(arch.hidden_size),
        dense_mlp: per_kind(LinearKind::Mlp)
            .saturating_sub(projection_params(arch))
            .checked_div(arch.dense_layers() as u128)
            .map_or(0, |w| w + mlp_bias_params(arch)),
    }
}

/// Parameters of each decoder layer, first to last: its norms and the blocks it
/// holds ([`Architecture::layer`]).
pub(crate) fn layer_parameters(arch: &Architecture, linears: &[LinearGroup]) -> Vec<u128> {
    let b = blocks(arch, linears);
    let experts = moe_counts(arch).layer_extra;
    (0..arch.num_layers)
        .map(|index| {
            let m = arch.layer(index);
            let feed_forward = match m.feed_forward {
                FeedForward::None => 0,
                FeedForward::Dense => b.dense_mlp,
                FeedForward::Experts => experts,
            };
            b.norms
                + if m.attention { b.attention } else { 0 }
                + if m.mixer { b.mixer } else { 0 }
                + feed_forward
        })
        .collect()
}

/// Exact parameter counts, from the linear groups and every bias, norm, router,
/// sink and embedding of the layout.
pub(crate) fn parameter_counts(arch: &Architecture, linears: &[LinearGroup]) -> ParameterCounts {
    let per_kind = |kind| kind_elements(linears, kind);
    let linear: u128 = linears.iter().map(|g| g.shape.elements()).sum();
    let Blocks {
        attention: attention_layer,
        mixer: _,
        norms,
        dense_mlp,
    } = blocks(arch, linears);
    let attention_layers = arch.attention_layers as u128;
    let mixers = arch.mixer.map_or(0, |m| {
        per_kind(LinearKind::Mixer) + m.layers as u128 * m.other_params
    });
    let dense_count = arch.dense_layers() as u128;
    let moe = moe_counts(arch);
    let dense_layer = attention_layer + norms + dense_mlp;
    let moe_layer = if moe.layers > 0 {
        attention_layer + norms + moe.layer_extra
    } else {
        0
    };
    let embedding_matrix = arch.vocab_size as u128 * arch.embedding_dim as u128;
    let positions = arch.learned_positions as u128 * arch.hidden_size as u128;
    let lm_head = if arch.tie_word_embeddings {
        0
    } else {
        embedding_matrix
    };
    let final_norm = if arch.final_norm {
        arch.norm.params(arch.hidden_size)
    } else {
        0
    };
    // Every layer has its norms, attention or a mixer, and a dense MLP or experts.
    let total = attention_layers * attention_layer
        + mixers
        + arch.num_layers as u128 * norms
        + dense_count * dense_mlp
        + moe.layers * moe.layer_extra
        + embedding_matrix
        + positions
        + lm_head
        + final_norm
        + projection_params(arch)
        + arch.mtp_fusion_params;
    let embedding = embedding_matrix + positions + lm_head;
    ParameterCounts {
        total,
        embedding,
        non_embedding: total - embedding,
        active: total - moe.layers * moe.unvisited * moe.expert,
        linear,
        dense_layer,
        moe_layer,
        embedding_matrix,
    }
}

/// Attention parameters beyond its matrices, per layer: biases, MLA's latent norms,
/// q/k norms, sinks.
fn attention_extra(arch: &Architecture) -> u128 {
    let h = arch.hidden_size as u128;
    let mut extra = 0u128;
    match arch.mla {
        Some(m) => {
            // `attention_bias` puts biases on q_a_proj and kv_a_proj_with_mqa (a plain
            // q_proj has none); the two latent norms are always there.
            let q_rank = m.q_lora_rank.map_or(0, |r| r as u128);
            if arch.qkv_bias {
                extra += q_rank + (m.kv_lora_rank + m.qk_rope_head_dim) as u128;
            }
            extra += q_rank + m.kv_lora_rank as u128;
            if let Some(ix) = arch.indexer {
                // `weights_proj` (hidden -> one weight per indexer head, kept in
                // 16-bit by the checkpoints) and the key LayerNorm with its bias.
                extra += h * ix.heads as u128 + 2 * ix.head_dim as u128;
            }
        }
        None => {
            if arch.qkv_bias {
                extra += (arch.q_dim() + 2 * arch.kv_dim()) as u128;
            }
        }
    }
    if arch.o_bias {
        extra += h;
    }
    extra += match arch.qk_norm {
        QkNorm::None | QkNorm::Unweighted => 0,
        QkNorm::PerHead => 2 * arch.head_dim as u128,
        QkNorm::AcrossHeads => (arch.q_dim() + arch.kv_dim()) as u128,
    };
    if arch.attention_sinks {
        extra += arch.num_heads as u128;
    }
    extra
}

/// Biases of one dense MLP: on gate and up (or the one up projection) and down.
fn mlp_bias_params(arch: &Architecture) -> u128 {
    let (h, i) = (arch.hidden_size as u128, arch.intermediate_size as u128);
    match (arch.mlp_bias, arch.gated_mlp) {
        (false, _) => 0,
        (true, true) => 2 * i + h,
        (true, false) => i + h,
    }
}

fn moe_counts(arch: &Architecture) -> MoeCounts {
    let Some(m) = arch.moe else {
        return MoeCounts {
            layer_extra: 0,
            expert: 0,
            layers: 0,
            unvisited: 0,
        };
    };
    let h = arch.hidden_size as u128;
    let e = m.num_experts as u128;
    let ie = m.expert_intermediate as u128;
    let matrices = if m.gated_experts { 3 } else { 2 };
    let weights = matrices * h * ie;
    let bias = if m.expert_bias {
        (matrices - 1) * ie + h
    } else {
        0
    };
    let router = h * e + if m.router_bias { e } else { 0 };
    let shared =
        matrices * h * m.shared_intermediate as u128 + if m.shared_expert_gate { h } else { 0 };
    MoeCounts {
        layer_extra: router + shared + e * (weights + bias),
        expert: weights + bias,
        layers: m.moe_layers as u128,
        unvisited: (m.num_experts - m.experts_per_token) as u128,
    }
}

/// OPT's `project_in`/`project_out` when the embedding is narrower than the model.
pub(crate) fn projection_params(arch: &Architecture) -> u128 {
    if arch.embedding_dim == arch.hidden_size {
        0
    } else {
        2 * arch.embedding_dim as u128 * arch.hidden_size as u128
    }
}

#[cfg(test)]
mod tests {
    use super::{layer_parameters, projection_params};
    use crate::registry::RegistryEntry;

    /// Every layer's parameters by what it holds, with the embeddings, the final norm,
    /// the embedding projections and loaded MTP fusions, make the exact total: the
    /// per-layer split (what freeze trains) loses and invents nothing.
    #[test]
    fn layers_add_up_to_the_total() {
        for entry in RegistryEntry::all() {
            let m = &entry.model;
            let a = &m.arch;
            let layers: u128 = layer_parameters(a, &m.linears).iter().sum();
            let final_norm = if a.final_norm {
                a.norm.params(a.hidden_size)
            } else {
                0
            };
            let rest = m.params.embedding + final_norm + projection_params(a) + a.mtp_fusion_params;
            assert_eq!(layers + rest, m.params.total, "{:?}", m.name);
        }
    }
}
