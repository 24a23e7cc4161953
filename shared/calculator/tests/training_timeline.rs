//! The training step as a timeline (methodology §7.6): what one GPU holds at each
//! moment, the peak among them, and gradient accumulation.

use calculator::{
    estimate_training, Framework, OptimizerImplementation, StepPhase, TrainingEstimate,
    TrainingRequest, CUDA_CONTEXT_BYTES,
};
use testkit::models::registry_model;

/// Llama-3.2-3B, full fine-tune in pure bf16 with foreach AdamW, 4 sequences of 768
/// tokens: PEFT's MetaMathQA full fine-tune settings.
fn peft_full(edit: impl FnOnce(&mut TrainingRequest)) -> TrainingEstimate {
    let mut r = TrainingRequest::new(4, 768);
    r.mixed_precision = false;
    r.framework = Some(Framework::Transformers);
    r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
    edit(&mut r);
    estimate_training(registry_model("Llama-3.2-3B"), &r).unwrap()
}

fn sum(e: &TrainingEstimate, p: StepPhase) -> u64 {
    let p = e.phase(p);
    p.weights.0 + p.gradients.0 + p.optimizer.0 + p.activations.0
}

#[test]
fn each_phase_adds_up_and_the_total_is_the_largest() {
    let e = peft_full(|_| {});
    let order: Vec<StepPhase> = e.phases.iter().map(|p| p.phase).collect();
    assert_eq!(
        order,
        [
            StepPhase::Forward,
            StepPhase::Backward,
            StepPhase::BackwardEnd,
            StepPhase::OptimizerStep
        ]
    );
    for p in &e.phases {
        assert_eq!(sum(&e, p.phase), p.total.0, "{:?}", p.phase);
    }
    let largest = e.phases.iter().map(|p| p.total).max().unwrap();
    assert_eq!(e.training_memory.0, largest.0 + CUDA_CONTEXT_BYTES);
    assert_eq!(e.phase(e.peak_phase).total, largest);
    // The answer's components are the peak phase's, so they add up to the total.
    assert_eq!(
        e.model_weights.0
            + e.gradients_memory.0
            + e.optimizer_memory.0
            + e.activation_memory.0
            + e.runtime_overhead.0,
        e.training_memory.0
    );
}

#[test]
fn gradients_are_freed_between_steps_unless_they_accumulate() {
    let one = peft_full(|_| {});
    let forward = one.phase(StepPhase::Forward);
    let end = one.phase(StepPhase::BackwardEnd);
    // Pure bf16: 2 bytes of gradient per parameter at backward's end, none in forward
    // (a single GPU has no communication buffers).
    let params = registry_model("Llama-3.2-3B").params.total as u64;
    assert_eq!(end.gradients.0, 2 * params);
    assert_eq!(forward.gradients.0, 0);
    assert_eq!(end.activations.0, 0);
    // Backward starts with the output layer's gradients: the (tied) embedding's share.
    let embedding = registry_model("Llama-3.2-3B").params.embedding_matrix as u64;
    assert_eq!(
        one.phase(StepPhase::Backward).gradients.0,
        end.gradients.0 * embedding / params
    );
    // Accumulating over micro-batches keeps them through the forward pass: the total
    // is then weights, gradients and state plus the larger of the activations and the
    // step's temporaries, as the sum of every component was before the timeline.
    let kept = peft_full(|r| r.gradient_accumulation_steps = 4);
    assert_eq!(kept.phase(StepPhase::Forward).gradients, end.gradients);
    let step = kept.phase(StepPhase::OptimizerStep);
    let workspace = step.optimizer.0 - end.optimizer.0;
    let activations = forward.activations.0;
    assert_eq!(
        kept.training_memory.0,
        end.total.0 + activations.max(workspace) + CUDA_CONTEXT_BYTES
    );
    assert!(kept.training_memory > one.training_memory);
    eprintln!(
        "Llama-3.2-3B full, pure bf16, 4 x 768: {:.2} GiB ({:?}) at 1 micro-batch, {:.2} GiB accumulating",
        one.training_memory.0 as f64 / (1u64 << 30) as f64,
        one.peak_phase,
        kept.training_memory.0 as f64 / (1u64 << 30) as f64
    );
}

#[test]
fn the_peak_moves_with_the_activations() {
    // Short sequences: the optimizer step (gradients, moments, foreach temporaries).
    let short = peft_full(|r| r.sequence_length = 64);
    assert_eq!(short.peak_phase, StepPhase::OptimizerStep);
    assert_eq!(short.activation_memory.0, 0);
    // Long ones: the start of backward, every activation still held.
    let long = peft_full(|r| r.sequence_length = 8192);
    assert_eq!(long.peak_phase, StepPhase::Backward);
    assert_eq!(
        long.activation_memory,
        long.phase(StepPhase::Forward).activations
    );
}
