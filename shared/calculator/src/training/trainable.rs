//! The trainable set of a fine-tuning method: how many parameters receive gradients,
//! their shapes as the optimizer sees them, and which layers must keep activations
//! (`docs/methodology.md` §7.1).

use super::request::TrainingRequest;
use super::targets::{adapts, adapts_any};
use super::vocabulary::Method;
use crate::linear::LinearKind;
use crate::model::Model;
use crate::warning::{Warning, WarningCode};

/// Decoder layers freeze tuning trains when no `trainable_parameters` is given:
/// LLaMA-Factory's `freeze_trainable_layers` default (2, counted from the last layer).
const DEFAULT_FREEZE_LAYERS: u64 = 2;

/// The feed-forward projections: dense MLP, routed and shared experts.
const FEED_FORWARD: [LinearKind; 3] = [
    LinearKind::Mlp,
    LinearKind::Expert,
    LinearKind::SharedExpert,
];

/// Shape statistics of the trainable tensors.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Trainable {
    /// Trainable scalars.
    pub elements: u128,
    /// State elements of Adafactor's factored second moment (rows + columns per matrix,
    /// every element of a vector).
    pub factored: u128,
    /// Elements of the largest trainable tensor.
    pub largest: u128,
    /// Decoder layers through which gradients flow and whose activations are kept.
    pub grad_layers: u64,
    /// Whether the feed-forward projections (dense MLP, experts) have trainable
    /// weights or adapters, so that their inputs must be saved: true for full and
    /// freeze, and for LoRA on any of them.
    pub mlp_weights: bool,
    /// The same for the fixed-state mixers' projections.
    pub mixer_weights: bool,
    /// Trainable elements in linear layers and the output projection: what torch
    /// autocast casts to 16 bits and caches.
    pub linear_elements: u128,
}

/// `percent` of `total`, rounded to a whole parameter.
fn fraction(total: u128, percent: f64) -> u128 {
    // percent is validated to [0, 100]; the product is at most `total`.
    ((total as f64) * percent / 100.0).round() as u128
}

/// Which parameters are trained, with the shape statistics the optimizer needs.
pub(crate) fn trainable_set(
    model: &Model,
    req: &TrainingRequest,
    warnings: &mut Vec<Warning>,
) -> Trainable {
    match req.method {
        Method::Lora | Method::Qlora => adapters(model, req),
        Method::Full | Method::Freeze => model_weights(model, req, warnings),
    }
}

/// The smallest dimension of the matrices LoRA adapts: a rank above it gives adapters
/// larger than the matrices themselves. `None` when nothing is adapted.
pub(crate) fn smallest_adapted_dimension(model: &Model, req: &TrainingRequest) -> Option<u64> {
    model
        .linears
        .iter()
        .filter(|g| adapts(model, req, g))
        .filter(|g| g.shape.count > 0)
        .map(|g| g.shape.rows_in.min(g.shape.cols_out))
        .min()
}

/// LoRA adapters: `r·(n_in + n_out)` per adapted matrix (methodology §7.1).
fn adapters(model: &Model, req: &TrainingRequest) -> Trainable {
    let layers = model.arch.num_layers;
    let r = req.lora_rank as u128;
    let mut t = Trainable {
        grad_layers: layers,
        mlp_weights: adapts_any(model, req, &FEED_FORWARD),
        mixer_weights: adapts_any(model, req, &[LinearKind::Mixer]),
        ..Trainable::default()
    };
    for g in &model.linears {
        if !adapts(model, req, g) {
            continue;
        }
        let (i, o) = (g.shape.rows_in as u128, g.shape.cols_out as u128);
        t.elements += r * (i + o) * g.shape.count;
        t.factored += (2 * r + i + o) * g.shape.count;
        t.largest = t.largest.max(r * i.max(o));
    }
    t.linear_elements = t.elements;
    t
}

/// The model's own weights: all of them, a percentage, or the last layers (freeze).
fn model_weights(model: &Model, req: &TrainingRequest, warnings: &mut Vec<Warning>) -> Trainable {
    let arch = &model.arch;
    let p = &model.params;
    let layers = arch.num_layers;
    let largest_matrix = model
        .linears
        .iter()
        .map(|g| g.shape.rows_in as u128 * g.shape.cols_out as u128)
        .max()
        .unwrap_or(0)
        .max(p.embedding_matrix);
    let full_factored = factored_state_elements(model);
    let per_layer = model.layer_parameters();
    let (elements, grad_layers) = match (req.method, req.trainable_percent) {
        (Method::Full, None) => (p.total, layers),
        (Method::Full, Some(pct)) => {
            warnings.push(Warning::new(WarningCode::PartialFullTraining,
                "trainable_parameters with method full: gradients are assumed to flow through every layer; method freeze trains only the last layers and keeps fewer activations")
            );
            (fraction(p.total, pct), layers)
        }
        (_, Some(pct)) => {
            // As many of the last layers as hold that many parameters.
            let e = fraction(p.total, pct);
            let mut held = 0;
            let reached = per_layer
                .iter()
                .rev()
                .position(|n| {
                    held += n;
                    held >= e
                })
                .map_or(layers, |i| i as u64 + 1);
            (e, reached.clamp(1, layers))
        }
        (_, None) => {
            let k = DEFAULT_FREEZE_LAYERS.min(layers);
            let e: u128 = per_layer.iter().rev().take(k as usize).sum();
            (e.min(p.total), k)
        }
    };
    // Linear weights, with the output projection, as a share of the trained count:
    // full training trains them all; the last layers of freeze are almost all linear.
    let linear_total = p.linear + p.embedding_matrix;
    Trainable {
        elements,
        factored: (full_factored * elements).checked_div(p.total).unwrap_or(0),
        largest: largest_matrix.min(elements),
        grad_layers,
        mlp_weights: true,
        mixer_weights: true,
        linear_elements: elements.min(linear_total),
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
