//! Training state on toy models, to the byte (methodology §7.1–7.4): what each method
//! trains, the optimizers' states and step workspace, the frameworks' sharding, and
//! the settings each refuses or warns about.

use calculator::{
    estimate_training, Framework, LoraTarget, Method, Model, Optimizer, OptimizerImplementation,
    Precision, StepPhase, TrainingRequest,
};
use serde_json::json;
use testkit::models::{field_of, registry_model};
use testkit::toys::{bf16_training, toy, toy_moe, training};

#[test]
fn training_state_per_parameter() {
    // §7.2 mixed precision, AdamW, Ψ = 587,584. DeepSpeed: 16-bit weights 2Ψ;
    // gradients 2Ψ + 4Ψ; master 4Ψ; moments 8Ψ; a foreach step's workspace 4Ψ (§7.3).
    let psi = 587_584u64;
    let e = training(&toy(4096), |r| {
        r.framework = Some(Framework::Deepspeed);
        r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
    });
    assert_eq!(e.model_weights.0, 2 * psi);
    assert_eq!(e.phase(StepPhase::OptimizerStep).gradients.0, 6 * psi);
    assert_eq!(e.details.master_weights.0, 4 * psi);
    assert_eq!(e.details.optimizer_states.0, 8 * psi);
    assert_eq!(e.details.optimizer_step_workspace.0, 4 * psi);
    // transformers (torch autocast, the default): fp32 weights 4Ψ with 16-bit copies
    // of the linear weights and the output projection, 2 · (2 · 31,488 + 4096 · 64);
    // fp32 gradients 4Ψ; no separate master; the fused step has no workspace.
    let e = training(&toy(4096), |r| r.framework = Some(Framework::Transformers));
    assert_eq!(
        e.details.autocast_weight_copies.0,
        2 * (2 * 31_488 + 262_144)
    );
    assert_eq!(e.model_weights.0, 4 * psi + 2 * (2 * 31_488 + 262_144));
    assert_eq!(e.phase(StepPhase::OptimizerStep).gradients.0, 4 * psi);
    assert_eq!(e.details.master_weights.0, 0);
    assert_eq!(e.details.optimizer_step_workspace.0, 0);
}

#[test]
fn factored_and_quantized_optimizer_states() {
    // Adafactor (§7.3): rows + columns of every matrix in fp32, every vector element.
    // Matrices per layer: q 128, k 96, v 96, o 128, gate 164, up 164, down 164 → 940,
    // two layers 1,880; embedding and lm_head (4096 + 64) each → 8,320; vectors: norms
    // 2·128 + 64 = 320. (1,880 + 8,320 + 320) · 4 = 42,080 bytes.
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 42_080);
    // 8-bit AdamW: two 1-byte moments and an fp32 absmax per 256 values each:
    // 2 · 587,584 + 2 · ceil(587,584 / 256) · 4 = 1,175,168 + 2 · 2,296 · 4.
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::QuantizedAdamW);
    assert_eq!(e.details.optimizer_states.0, 1_175_168 + 18_368);
}

#[test]
fn per_tensor_optimizers_hold_the_largest_tensor() {
    // Full training of the V 4096 toy: the largest tensor is the 4096·64 embedding.
    // Adafactor's step: 3 fp32 copies; Lion's: 2 fp32 copies (§7.3).
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_step_workspace.0, 3 * 262_144 * 4);
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Lion);
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 262_144 * 4);
    assert_eq!(e.details.optimizer_states.0, 4 * 587_584);
    // LoRA's largest adapter matrix: 8 × 100 (gate, up or down).
    let e = training(&toy(4096), |r| {
        r.method = Method::Lora;
        r.optimizer = Optimizer::Lion;
    });
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 800 * 4);
}

#[test]
fn factored_states_count_positions_and_routers() {
    // GPT-2 toy (h 64, 2 layers, V 128, 32 positions, tied): matrices c_attn 64×192,
    // c_proj 64×64, c_fc 64×256, mlp c_proj 256×64 → (256 + 128 + 320 + 320)·2 = 2,048;
    // the tied embedding 128 + 64; positions 32 + 64; vectors (biases, LayerNorms)
    // 110,336 − 98,304 − 10,240 = 1,792. (2,048 + 192 + 96 + 1,792)·4 bytes.
    let gpt2 = Model::from_config(&json!({
        "model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4,
        "vocab_size": 128, "n_positions": 32
    }))
    .unwrap();
    assert_eq!(gpt2.params.total, 110_336);
    let e = training(&gpt2, |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 4128 * 4);
    // Mixtral toy: linear matrices (448 + 8·3·164)·2 = 8,768; embedding and lm_head
    // (128 + 64)·2; routers (64 + 8)·2; norms 320. (8,768 + 384 + 144 + 320)·4.
    let e = training(&toy_moe(128), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 9616 * 4);
}

#[test]
fn lora_adafactor_and_largest_linear() {
    // Adafactor on rank-8 adapters: each adapter pair A (8 × n_in) and B (n_out × 8)
    // keeps (8 + n_in) + (n_out + 8) values: q 144, k 112, v 112, o 144, gate, up and
    // down 180 each → 1,052 per layer, fp32.
    let e = training(&toy(128), |r| {
        r.method = Method::Lora;
        r.optimizer = Optimizer::Adafactor;
    });
    assert_eq!(e.details.optimizer_states.0, 2 * 1052 * 4);
    // Full training with a 16-token vocabulary: the largest tensor is the 64 × 100
    // MLP matrix, not the 16 × 64 embedding; Lion holds 2 fp32 copies of it.
    let e = training(&toy(16), |r| r.optimizer = Optimizer::Lion);
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 6400 * 4);
}

#[test]
fn zero3_gathers_the_largest_layer() {
    // §7.4 over 4 GPUs: weights ceil(2Ψ / 4) = 293,792 plus the gathered largest tensor
    // group in 16-bit, here the 4096·64 embedding: 524,288. Gradients: the 16-bit
    // shard 293,792, the fp32 gradient of the one sub-group (the whole shard here,
    // 4 · 146,896 = 587,584), the gathered group's 16-bit gradients 524,288 and
    // DeepSpeed's reduce bucket, 5e8 16-bit values, allocated whatever the model.
    let e = training(&toy(4096), |r| {
        r.num_gpus = 4;
        r.zero_stage = 3;
    });
    assert_eq!(e.model_weights.0, 293_792 + 524_288);
    assert_eq!(
        e.phase(StepPhase::OptimizerStep).gradients.0,
        293_792 + 587_584 + 524_288 + 1_000_000_000
    );
}

#[test]
fn qlora_base_in_nf4_with_the_rest_in_fp32() {
    // §3 QLoRA base: 4·n + 8·ceil(n/64) + 32·ceil(ceil(n/64)/256) bits per matrix of n
    // weights. q and o (n = 4,096, ×2 each): 16,928 bits; k and v (2,048, ×4): 8,480;
    // gate, up (6,400, ×4) and down (×2): 26,432 → 260,224 bits for 62,976 weights.
    // The other 79,680 − 62,976 = 16,704 parameters in fp32 (§7.1): 534,528 bits.
    // (260,224 + 534,528) / 8 = 99,344 bytes. Rank-8 adapters on every linear:
    // 8·(128 + 96 + 96 + 128 + 164 + 164 + 164) = 7,520 per layer, 15,040, in fp32
    // (PEFT's adapter dtype under autocast) with their 16-bit autocast copies.
    let e = training(&toy(128), |r| r.method = Method::Qlora);
    assert_eq!(e.details.trainable_parameters, 15_040);
    assert_eq!(e.model_weights.0, 99_344 + (4 + 2) * 15_040);
}

#[test]
fn freeze_and_partial_training() {
    // A 4-layer toy (V 128): 4·31,616 + 16,384 + 64 = 142,912 parameters.
    let four = Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128
    }))
    .unwrap();
    // Freeze trains the last 2 layers and keeps only their activations.
    let e = bf16_training(&four, |r| r.method = Method::Freeze);
    assert_eq!(e.details.trainable_parameters, 2 * 31_616);
    assert_eq!(e.trainable_percent, 2.0 * 31_616.0 * 100.0 / 142_912.0);
    assert_eq!(e.details.layers_with_activations, 2);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        2 * 16 * 2232 + 8256 + 24_576
    );
    // 10 %: round(14,291.2) parameters, within one layer.
    let e = bf16_training(&four, |r| {
        r.method = Method::Freeze;
        r.trainable_percent = Some(10.0);
    });
    assert_eq!(e.details.trainable_parameters, 14_291);
    assert_eq!(e.details.layers_with_activations, 1);
    // Full with 50 %: half the parameters, every layer.
    let e = bf16_training(&four, |r| r.trainable_percent = Some(50.0));
    assert_eq!(e.details.trainable_parameters, 71_456);
    assert_eq!(e.details.layers_with_activations, 4);
    assert_eq!(e.trainable_percent, 50.0);
    // The reported share: all of it for full training, the adapters' for LoRA
    // (15,040 of 587,584 on the V 4096 toy).
    assert_eq!(bf16_training(&toy(4096), |_| {}).trainable_percent, 100.0);
    let lora = bf16_training(&toy(4096), |r| r.method = Method::Lora);
    assert_eq!(lora.trainable_percent, 15_040.0 * 100.0 / 587_584.0);
}

#[test]
fn freeze_counts_the_last_layers_of_each_kind() {
    // Mixtral toy: both of its (MoE) layers, 12,288 + 128 + 512 + 8·19,200 each.
    let e = training(&toy_moe(128), |r| r.method = Method::Freeze);
    assert_eq!(e.details.trainable_parameters, 2 * 166_528);
}

#[test]
fn trainable_percent_is_a_percentage() {
    for bad in [-1.0, 100.5, f64::NAN] {
        let mut req = TrainingRequest::new(2, 8);
        req.trainable_percent = Some(bad);
        match estimate_training(&toy(128), &req) {
            Err(calculator::CalcError::InvalidField { field, .. }) => {
                assert_eq!(field, "trainable_parameters", "{bad}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn trainable_parameters_of_zero_is_refused() {
    let mut r = TrainingRequest::new(1, 128);
    r.trainable_percent = Some(0.0);
    let err = estimate_training(registry_model("Qwen3-0.6B"), &r).unwrap_err();
    assert_eq!(field_of(err), "trainable_parameters");
    r.trainable_percent = Some(1e-9);
    assert!(estimate_training(registry_model("Qwen3-0.6B"), &r).is_ok());
}

#[test]
fn a_lora_rank_above_the_adapted_matrices_is_refused() {
    // Qwen3-0.6B: the smallest adapted dimension is its 1024-wide hidden state (and
    // the 8 x 128 = 1024 key/value projections).
    let model = registry_model("Qwen3-0.6B");
    let mut r = TrainingRequest::new(1, 128);
    r.method = Method::Lora;
    r.lora_rank = 65_536;
    let err = estimate_training(model, &r).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("lora_rank: must be at most 1024"),
        "{err}"
    );
    r.lora_rank = 1024;
    r.lora_target = LoraTarget::Attention;
    assert!(estimate_training(model, &r).is_ok());
}

#[test]
fn sharding_warnings() {
    let warned = |gpus: u64, stage: u8, text: &str| {
        training(&toy(128), |r| {
            r.num_gpus = gpus;
            r.zero_stage = stage;
        })
        .warnings
        .iter()
        .any(|w| w.message.contains(text))
    };
    assert!(warned(
        1,
        2,
        "zero_stage 2 shards across GPUs; with num_gpus 1 nothing is sharded"
    ));
    assert!(!warned(1, 0, "shards across GPUs"));
    assert!(!warned(2, 2, "shards across GPUs"));
    // DDP under transformers is the plain data parallelism the user asked for;
    // DeepSpeed at stage 0 is said.
    assert!(!warned(4, 0, "plain data parallelism"));
    assert!(training(&toy(128), |r| {
        r.num_gpus = 4;
        r.framework = Some(Framework::Deepspeed);
    })
    .warnings
    .iter()
    .any(|w| w
        .message
        .contains("num_gpus 4 with zero_stage 0: plain data parallelism")));
    assert!(!warned(4, 1, "plain data parallelism"));
    assert!(!warned(1, 0, "plain data parallelism"));
}

#[test]
fn warnings_only_where_they_apply() {
    // trainable_parameters 100 with full training is the default, not a conflict.
    let e = training(&toy(128), |r| r.trainable_percent = Some(100.0));
    assert!(
        !e.warnings.iter().any(|w| w.message.contains("ignored")),
        "{:?}",
        e.warnings
    );
    // A training sequence shorter than max_position_embeddings is not warned.
    let m = Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128, "max_position_embeddings": 12
    }))
    .unwrap();
    assert!(training(&m, |_| {}).warnings.is_empty());
    // Mixed precision is reported as applied, except for fp32 compute.
    assert!(training(&toy(128), |_| {}).mixed_precision);
    assert!(!training(&toy(128), |r| r.precision = Some(Precision::Float32)).mixed_precision);
    assert!(!training(&toy(128), |r| r.mixed_precision = false).mixed_precision);
}
