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
            Err(CalcError::TooLarge) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn largest_fitting(
    model: &Model,
    workload: Workload,
    knob: Knob,
    budget: Bytes,
    max: u64,
) -> Result<Option<u64>, CalcError> {
    let fits = |v: u64| -> Result<bool, CalcError> {
        Ok(workload
            .total(model, knob, v)?
            .is_some_and(|t| t <= budget.0))
    };
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

/// The largest batch size whose per-GPU memory is within `budget`, or `None` when not
/// even one sequence fits. The rest of the request is kept as given.
pub fn max_batch_size(
    model: &Model,
    workload: Workload,
    budget: Bytes,
) -> Result<Option<u64>, CalcError> {
    largest_fitting(model, workload, Knob::Batch, budget, limits::MAX_BATCH_SIZE)
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
