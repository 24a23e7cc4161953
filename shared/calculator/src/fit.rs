//! Fit helpers: the largest batch size or sequence length that fits a memory budget.
//!
//! The per-GPU total is non-decreasing in batch size and sequence length (KV cache and
//! activations grow; the optimizer-step workspace only enters through
//! `max(activations, workspace)`), so "fits" is monotone and a bisection over the
//! valid range finds the exact boundary in at most ~25 evaluations.

use crate::error::CalcError;
use crate::inference::{estimate_inference, InferenceRequest};
use crate::limits;
use crate::model::Model;
use crate::training::{estimate_training, TrainingRequest};
use crate::units::Bytes;

/// What is being sized.
#[derive(Clone, Copy, Debug)]
pub enum Workload<'a> {
    /// Serving, per GPU (`inference_memory`).
    Inference(&'a InferenceRequest),
    /// Training, per GPU (`training_memory`).
    Training(&'a TrainingRequest),
}

/// Which request field is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Knob {
    Batch,
    Sequence,
}

impl Workload<'_> {
    /// Total bytes per GPU with the knob set to `value`; `None` when the result does
    /// not even fit in 64 bits.
    fn total(&self, model: &Model, knob: Knob, value: u64) -> Result<Option<u64>, CalcError> {
        let result = match self {
            Workload::Inference(r) => {
                let mut r = (*r).clone();
                match knob {
                    Knob::Batch => r.batch_size = value,
                    Knob::Sequence => r.sequence_length = value,
                }
                estimate_inference(model, &r).map(|e| e.inference_memory.0)
            }
            Workload::Training(r) => {
                let mut r = (*r).clone();
                match knob {
                    Knob::Batch => r.batch_size = value,
                    Knob::Sequence => r.sequence_length = value,
                }
                estimate_training(model, &r).map(|e| e.training_memory.0)
            }
        };
        match result {
            Ok(v) => Ok(Some(v)),
            Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The largest `v` in `1..=max` for which `fits(v)`, given that `fits` is monotone
/// (true up to a point, false after); `None` when not even 1 fits.
fn largest(
    max: u64,
    fits: impl Fn(u64) -> Result<bool, CalcError>,
) -> Result<Option<u64>, CalcError> {
    if !fits(1)? {
        return Ok(None);
    }
    if fits(max)? {
        return Ok(Some(max));
    }
    // Invariant: fits(lo) and !fits(hi).
    let (mut lo, mut hi) = (1u64, max);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

fn largest_fitting(
    model: &Model,
    workload: Workload,
    knob: Knob,
    budget: Bytes,
    max: u64,
) -> Result<Option<u64>, CalcError> {
    largest(max, |v| {
        Ok(workload
            .total(model, knob, v)?
            .is_some_and(|t| t <= budget.0))
    })
}

/// The largest batch size whose per-GPU memory is within `budget`, or `None` when not
/// even one sequence fits. The rest of the request is kept as given.
pub fn max_batch_size(
    model: &Model,
    workload: Workload,
    budget: Bytes,
) -> Result<Option<u64>, CalcError> {
    largest_fitting(model, workload, Knob::Batch, budget, limits::MAX_BATCH_SIZE)
}

/// With the `vllm` engine: the longest prompt (`sequence_length`, with the request's
/// `max_new_tokens` after it) for which vLLM starts and its KV pool holds `batch_size`
/// such requests at once; `None` when not even one token does. The engine's own budget
/// (`gpu_memory_utilization` × the GPU's memory) applies. With the `transformers`
/// engine, use [`max_sequence_length`] and a budget. vLLM refuses a `max_model_len`
/// beyond the model's `max_position_embeddings`, so the answer stops there too.
pub fn max_sequence_length_vllm(
    model: &Model,
    req: &InferenceRequest,
) -> Result<Option<u64>, CalcError> {
    let longest = match model.arch.max_position_embeddings {
        Some(max) if max <= req.max_new_tokens => return Ok(None),
        Some(max) => (max - req.max_new_tokens).min(limits::MAX_SEQUENCE_LENGTH),
        None => limits::MAX_SEQUENCE_LENGTH,
    };
    largest(longest, |len| {
        let mut r = req.clone();
        r.sequence_length = len;
        match estimate_inference(model, &r) {
            Ok(e) => Ok(e
                .vllm
                .is_some_and(|c| c.starts() && c.max_sequences >= req.batch_size)),
            Err(CalcError::TooLarge | CalcError::WeightsTooLarge) => Ok(false),
            Err(e) => Err(e),
        }
    })
}

/// The longest sequence (prompt length for inference) whose per-GPU memory is within
/// `budget`, or `None` when not even one token fits.
pub fn max_sequence_length(
    model: &Model,
    workload: Workload,
    budget: Bytes,
) -> Result<Option<u64>, CalcError> {
    largest_fitting(
        model,
        workload,
        Knob::Sequence,
        budget,
        limits::MAX_SEQUENCE_LENGTH,
    )
}
