//! Training the models with fixed-state mixers (issue 11, item 3): every family is
//! answered, with the warning that says how its activations are known, and the
//! activations follow the micro-batch exactly.

use calculator::architecture::MixerKind;
use calculator::training::Method;
use calculator::training::{estimate_training, TrainingEstimate, TrainingRequest};
use calculator::{registry, Model};

/// Every registry model with a linear-attention or state-space mixer.
fn hybrids() -> Vec<&'static Model> {
    let all: Vec<&Model> = registry::all()
        .iter()
        .map(|e| &e.model)
        .filter(|m| m.arch.mixer.is_some())
        .collect();
    assert!(all.len() >= 6, "the registry's hybrids: {}", all.len());
    all
}

fn train(model: &Model, batch: u64, method: Method, checkpointing: bool) -> TrainingEstimate {
    let mut r = TrainingRequest::new(batch, 2048);
    r.method = method;
    r.gradient_checkpointing = checkpointing;
    estimate_training(model, &r).unwrap_or_else(|e| panic!("{:?}: {e}", model.name))
}

#[test]
fn every_hybrid_family_trains_and_says_how_its_activations_are_known() {
    for m in hybrids() {
        for method in [Method::Full, Method::Lora, Method::Freeze] {
            let e = train(m, 1, method, false);
            let kind = m.arch.mixer.unwrap().kind;
            let kernels = match kind {
                MixerKind::GatedDeltaNet | MixerKind::KimiDelta => "flash-linear-attention",
                MixerKind::Mamba2 | MixerKind::Mamba1 => "mamba_ssm",
            };
            assert!(
                e.warnings.iter().any(|w| w.contains(kind.name())
                    && w.contains(kernels)
                    && w.contains("not yet measured")),
                "{:?}: {:?}",
                m.name,
                e.warnings
            );
            assert!(e.activation_memory.0 > 0, "{:?}", m.name);
        }
    }
}

/// Every term is per token (the chunk states too, at 2,048 tokens a sequence), so two
/// sequences keep exactly twice what one does; checkpointing keeps less.
#[test]
fn hybrid_activations_follow_the_batch_exactly() {
    for m in hybrids() {
        for checkpointing in [false, true] {
            let one = train(m, 1, Method::Full, checkpointing).activation_memory.0;
            let two = train(m, 2, Method::Full, checkpointing).activation_memory.0;
            assert_eq!(two, 2 * one, "{:?} checkpointing {checkpointing}", m.name);
        }
        let stored = train(m, 1, Method::Full, false).activation_memory.0;
        let recomputed = train(m, 1, Method::Full, true).activation_memory.0;
        assert!(recomputed < stored, "{:?}", m.name);
    }
}

/// Freeze trains the last two blocks as they are: Nemotron Nano 2's pattern ends in a
/// Mamba-2 block and an MLP block (`...M-`). Mamba: in_proj 4,480 x 22,656, out_proj
/// 10,240 x 4,480, conv 12,288 x 4 with bias, dt_bias/A_log/D over 128 heads, the gated
/// norm 10,240 and the block norm 4,480. MLP: up and down 4,480 x 15,680 (squared ReLU,
/// no gate) and the block norm.
#[test]
fn freeze_trains_the_last_blocks_it_names() {
    let m = &registry::lookup("NVIDIA-Nemotron-Nano-9B-v2")
        .unwrap()
        .model;
    let mamba = 4480 * 22656 + 10240 * 4480 + 12288 * 5 + 3 * 128 + 10240 + 4480;
    let mlp = 2 * 4480 * 15680 + 4480;
    let e = train(m, 1, Method::Freeze, false);
    assert_eq!(e.details.trainable_parameters, mamba + mlp);
    assert_eq!(e.details.layers_with_activations, 2);
    // A percentage is taken from the last blocks: just over the last block's share
    // needs two.
    let mut r = TrainingRequest::new(1, 2048);
    r.method = Method::Freeze;
    r.trainable_percent = Some((mlp + 1) as f64 * 100.0 / m.params.total as f64);
    let e = estimate_training(m, &r).unwrap();
    assert_eq!(e.details.layers_with_activations, 2);
}
