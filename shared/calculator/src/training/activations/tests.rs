//! The activation accounting by layer: what each layer kind saves.
use super::*;
use crate::registry::RegistryEntry;

const BF16: Casting = Casting {
    a: 2,
    resid: 2,
    norms_trained: true,
    input_casts: false,
    adapter_copies: false,
    autocast: false,
};

fn parts(model: &Model) -> Parts {
    let t = Trainable {
        mlp_weights: true,
        mixer_weights: true,
        grad_layers: model.arch.num_layers,
        ..Trainable::default()
    };
    Parts::new(model, &TrainingRequest::new(1, 4096), &t, &BF16)
}

/// Each layer saves the blocks its masks give it, and no other.
#[test]
fn layers_save_the_blocks_they_hold() {
    let m = &RegistryEntry::lookup("Qwen3-Next-80B-A3B-Instruct")
        .unwrap()
        .model;
    let p = parts(m);
    // Layers 0-2 of every 4 are Gated DeltaNet, the 4th full attention; all MoE.
    let (mixer, _) = p.layer(&m.arch, 0);
    let (attention, _) = p.layer(&m.arch, 3);
    assert_eq!(mixer.saved, p.mixer.saved + p.moe.saved);
    assert_eq!(attention.saved, p.attention.saved + p.moe.saved);
    assert_eq!(mixer.work, p.mixer.work.max(p.moe.work));

    // Nemotron-H's blocks hold one mixer each: Mamba, MLP or attention.
    let m = &RegistryEntry::lookup("NVIDIA-Nemotron-Nano-9B-v2")
        .unwrap()
        .model;
    let p = parts(m);
    let saved: Vec<u128> = (0..m.arch.num_layers)
        .map(|i| p.layer(&m.arch, i).0.saved)
        .collect();
    let count = |x: u128| saved.iter().filter(|s| **s == x).count() as u64;
    let mixer = m.arch.mixer.unwrap();
    assert_eq!(count(p.mixer.saved), mixer.layers);
    assert_eq!(count(p.attention.saved), m.arch.attention_layers);
    assert_eq!(
        count(p.dense.saved),
        m.arch.num_layers - mixer.layers - m.arch.attention_layers
    );
}

/// Nemotron-H's MLP blocks (25 of 56 layers) each hold an up and a down
/// projection, the up one reading the block's input.
#[test]
fn mlp_projections_are_counted_in_the_layers_that_hold_them() {
    let m = &RegistryEntry::lookup("NVIDIA-Nemotron-Nano-9B-v2")
        .unwrap()
        .model;
    assert_eq!(projections(m, &MLP_KINDS), (1, 0, 2));
}

/// Falcon-H1's attention and Mamba-2 read one normalized input: its norm is
/// saved once.
#[test]
fn a_parallel_hybrid_layer_saves_its_norm_once() {
    let m = Model::from_config(&serde_json::json!({"model_type": "falcon_h1",
        "hidden_size": 3072, "num_hidden_layers": 44, "num_attention_heads": 12,
        "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 12288,
        "vocab_size": 130048, "mamba_d_ssm": 3072, "mamba_n_heads": 24,
        "mamba_d_head": 128, "mamba_d_state": 256, "mamba_n_groups": 1,
        "mamba_chunk_size": 128, "torch_dtype": "bfloat16"}))
    .unwrap();
    let p = parts(&m);
    let (layer, _) = p.layer(&m.arch, 43);
    let norm = norm_saved(&m.arch, 3072, &BF16);
    assert_eq!(norm, 3072 * 6 + 4);
    assert_eq!(
        layer.saved,
        p.attention.saved + p.mixer.saved + p.dense.saved - norm
    );
}
