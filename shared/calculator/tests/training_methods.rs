//! Training Llama-3.1-8B by method, optimizer and loss, to the byte (methodology
//! §7.1–7.3, §7.5): what each method trains, each optimizer's state and step, each
//! loss's buffers, LoRA dropout, checkpointing and flash attention.

use calculator::{
    estimate_training, Bytes, CalcError, Choice, Framework, FsdpSharding, LoraTarget, Loss, Method,
    Offload, Optimizer, OptimizerImplementation, Precision, StepPhase, TrainingRequest,
};
use testkit::training::{llama_8b, train_70b, train_8b, LAYER_70B, PSI, PSI_70B};

#[test]
fn llama_70b_zero3_over_8_gpus_is_the_hand_derivation() {
    let e = train_70b(|r| r.zero_stage = 3);
    // 16-bit weight partition + the gathered embedding.
    assert_eq!(e.model_weights.0, 2 * PSI_70B / 8 + 2 * LAYER_70B);
    // 16-bit gradient partition + one 1e9-element fp32 sub-group + the gathered
    // layer's gradient + one 5e8-element 16-bit reduce bucket.
    assert_eq!(
        e.phase(StepPhase::OptimizerStep).gradients.0,
        2 * PSI_70B / 8 + 4 * 1_000_000_000 + 2 * LAYER_70B + 2 * 500_000_000
    );
    // fp32 master + two fp32 moments, fused AdamW: no step temporaries.
    assert_eq!(e.optimizer_memory.0, 12 * PSI_70B / 8);
    assert_eq!(e.details.optimizer_step_workspace.0, 0);
}

#[test]
fn llama_70b_fsdp_full_shard_over_8_gpus_is_the_hand_derivation() {
    let e = train_70b(|r| r.framework = Some(Framework::Fsdp));
    // fp32 shards + two gathered 16-bit units (the computed and the prefetched).
    assert_eq!(e.model_weights.0, 4 * PSI_70B / 8 + 2 * 2 * LAYER_70B);
    // fp32 gradient shards + the unit's unsharded 16-bit gradient.
    assert_eq!(
        e.phase(StepPhase::OptimizerStep).gradients.0,
        4 * PSI_70B / 8 + 2 * LAYER_70B
    );
    assert_eq!(e.optimizer_memory.0, 8 * PSI_70B / 8);
    // Hybrid sharding over nodes of 4 GPUs holds twice the shards.
    let hybrid = train_70b(|r| {
        r.framework = Some(Framework::Fsdp);
        r.fsdp_sharding = Some(FsdpSharding::HybridShard);
        r.gpus_per_node = Some(4);
    });
    assert_eq!(hybrid.optimizer_memory.0, 8 * PSI_70B / 4);
}

#[test]
fn fp32_under_deepspeed_counts_one_fp32_gradient() {
    let fp32 = |stage| {
        train_8b(|r| {
            r.framework = Some(Framework::Deepspeed);
            r.precision = Some(Precision::Float32);
            r.mixed_precision = false;
            r.zero_stage = stage;
            r.num_gpus = 8;
        })
    };
    // Stage 0: fp32 weights and gradients, no copy.
    let s0 = fp32(0);
    assert_eq!(s0.phase(StepPhase::OptimizerStep).gradients.0, 4 * PSI);
    assert_eq!(s0.details.master_weights.0, 0);
    // Stage 2: the gradient partition, and the optimizer's cloned fp32 partition.
    let s2 = fp32(2);
    assert_eq!(
        s2.phase(StepPhase::OptimizerStep).gradients.0,
        (4 * PSI).div_ceil(8)
    );
    assert_eq!(s2.details.master_weights.0, (4 * PSI).div_ceil(8));
}

#[test]
fn every_placement_term_of_the_70b_over_8_gpus() {
    // ZeRO-3 with the optimizer on the CPU keeps the gathered layer's gradient and
    // the reduce bucket; parameter offload to the CPU moves the 16-bit partition.
    let z3 = train_70b(|r| {
        r.zero_stage = 3;
        r.offload_optimizer = Offload::Cpu;
        r.offload_parameters = Offload::Cpu;
    });
    assert_eq!(
        z3.phase(StepPhase::OptimizerStep).gradients.0,
        2 * LAYER_70B + 2 * 500_000_000
    );
    assert_eq!(z3.model_weights.0, 2 * LAYER_70B);
    assert_eq!(z3.host_memory_per_node.0, 16 * PSI_70B + 2 * PSI_70B);
    let fsdp = |edit: &dyn Fn(&mut TrainingRequest)| {
        train_70b(|r| {
            r.framework = Some(Framework::Fsdp);
            edit(r);
        })
    };
    // shard_grad_op keeps the whole 16-bit model from forward to backward.
    let grad_op = fsdp(&|r| r.fsdp_sharding = Some(FsdpSharding::ShardGradOp));
    assert_eq!(grad_op.model_weights.0, 4 * PSI_70B / 8 + 2 * PSI_70B);
    // no_shard without a policy holds the weights once.
    let pure = fsdp(&|r| {
        r.fsdp_sharding = Some(FsdpSharding::NoShard);
        r.mixed_precision = false;
    });
    assert_eq!(pure.model_weights.0, 2 * PSI_70B);
    // A foreach step's temporaries are sharded with the states.
    let foreach = fsdp(&|r| r.optimizer_implementation = Some(OptimizerImplementation::Foreach));
    assert_eq!(foreach.details.optimizer_step_workspace.0, 4 * PSI_70B / 8);
    // CPU offload: shards of weights, gradients and moments on the host; the GPU
    // keeps the two gathered units and the unit's gradient.
    let off = fsdp(&|r| r.offload_parameters = Offload::Cpu);
    assert_eq!(off.host_memory_per_node.0, 16 * PSI_70B);
    assert_eq!(off.model_weights.0, 2 * 2 * LAYER_70B);
    assert_eq!(
        off.phase(StepPhase::OptimizerStep).gradients.0,
        2 * LAYER_70B
    );
    assert_eq!(off.optimizer_memory.0, 0);
    // The step's temporaries go with it.
    let off_foreach = fsdp(&|r| {
        r.offload_parameters = Offload::Cpu;
        r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
    });
    assert_eq!(
        off_foreach.host_memory_per_node.0,
        16 * PSI_70B + 4 * PSI_70B
    );
}

#[test]
fn loss_variants_hold_what_was_measured() {
    // 1 x 1024 tokens x 128,256 logits.
    let logits = 1024 * 128_256;
    let with = |loss| {
        train_8b(|r| {
            r.loss = loss;
            r.mixed_precision = false;
        })
        .details
        .loss_buffers
        .0
    };
    assert_eq!(with(Loss::Standard), 12 * logits);
    assert_eq!(with(Loss::NoUpcast), 6 * logits);
    // All fp32 log-probabilities + two fp32 gradients of one of 8 chunks.
    assert_eq!(with(Loss::Chunked), 4 * logits + 2 * 4 * logits / 8);
    // Liger: chunks of next_pow2(1024 / ceil(128256 / 4096) = 32) = 32 positions
    // and the hidden states' gradient (the output weight's gradient is the
    // weight's own, counted with the gradients).
    assert_eq!(with(Loss::Fused), 32 * 128_256 * 2 + 1024 * 4096 * 2);
    let standard = train_8b(|r| r.sequence_length = 8192);
    let fused = train_8b(|r| {
        r.sequence_length = 8192;
        r.loss = Loss::Fused;
    });
    assert!(
        fused.phase(StepPhase::Forward).activations.0 + 8 * 8192 * 128_256
            < standard.phase(StepPhase::Forward).activations.0
    );
}

#[test]
fn autocast_runs_the_cross_entropy_in_fp32() {
    // torch autocast (transformers' Trainer over an fp32 model) casts cross_entropy's
    // input to fp32: Qwen(1)'s 16-bit loss holds what the upcast one holds.
    let logits = 1024 * 128_256;
    let e = train_8b(|r| r.loss = Loss::NoUpcast);
    assert_eq!(e.details.loss_buffers.0, 12 * logits);
    assert!(e
        .warnings
        .iter()
        .any(|w| w.code == calculator::WarningCode::LossUpcastByAutocast));
    // DeepSpeed casts the model instead: no autocast, a 16-bit loss.
    let ds = train_8b(|r| {
        r.loss = Loss::NoUpcast;
        r.framework = Some(Framework::Deepspeed);
    });
    assert_eq!(ds.details.loss_buffers.0, 6 * logits);
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
}

#[test]
fn held_logits_add_the_returned_16_bit_logits() {
    let logits = 1024 * 128_256;
    let loss = |loss, hold| {
        train_8b(|r| {
            r.loss = loss;
            r.hold_logits = hold;
        })
    };
    for l in [Loss::Standard, Loss::NoUpcast, Loss::Chunked] {
        let (freed, held) = (loss(l, false), loss(l, true));
        assert_eq!(
            held.details.loss_buffers.0 - freed.details.loss_buffers.0,
            2 * logits,
            "{l:?}"
        );
        let at_backward = |e: &calculator::TrainingEstimate| e.phase(StepPhase::Backward).total.0;
        assert_eq!(
            at_backward(&held) - at_backward(&freed),
            2 * logits,
            "{l:?}"
        );
    }
    // Liger's fused loss returns no logits.
    let fused = estimate_training(
        llama_8b(),
        &TrainingRequest {
            loss: Loss::Fused,
            hold_logits: true,
            ..TrainingRequest::new(1, 1024)
        },
    );
    match fused {
        Err(CalcError::InvalidField { field, .. }) => assert_eq!(field, "hold_logits"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lora_dropout_keeps_a_mask_and_a_copy_per_adapted_input() {
    let lora = |framework, p| {
        train_8b(|r| {
            r.method = Method::Lora;
            r.lora_target = LoraTarget::Attention;
            r.framework = Some(framework);
            r.lora_dropout = p;
        })
        .phase(StepPhase::Forward)
        .activations
        .0
    };
    // q, k, v, o read 4096 values per token each, in 32 layers. Under autocast the
    // fp32 adapters already save a 16-bit copy each: dropout adds the 1-byte masks.
    let t = Framework::Transformers;
    assert_eq!(lora(t, 0.05) - lora(t, 0.0), 1024 * 32 * 4 * 4096);
    // Without autocast the adapters share the layer's input until dropout gives
    // each its own copy (2 bytes) and mask (1 byte).
    let ds = Framework::Deepspeed;
    assert_eq!(
        lora(ds, 0.05) - lora(ds, 0.0),
        1024 * 32 * (4 * 4096 * 3 - 4096 * 2)
    );
}

#[test]
fn optimizer_implementations_differ_in_the_step_only() {
    let with = |i| {
        train_8b(|r| r.optimizer_implementation = Some(i))
            .details
            .optimizer_step_workspace
            .0
    };
    assert_eq!(with(OptimizerImplementation::Fused), 0);
    assert_eq!(with(OptimizerImplementation::Foreach), 4 * PSI);
    // Two fp32 temporaries of the largest tensor, the 128,256 x 4,096 embedding.
    assert_eq!(
        with(OptimizerImplementation::Forloop),
        2 * 4 * 128_256 * 4096
    );
}

#[test]
fn published_rates_match_the_accounting() {
    let per_param = |bytes: Bytes| bytes.0 as f64 / PSI as f64;
    for &o in Optimizer::ALL {
        // Adafactor's factored state and its per-tensor step depend on shapes.
        let shaped = o == Optimizer::Adafactor;
        for &implementation in OptimizerImplementation::ALL {
            let e = train_8b(|r| {
                r.optimizer = o;
                r.optimizer_implementation = Some(implementation);
            });
            let said = format!("{} {}", o.name(), implementation.name());
            match o.state_bytes_per_param(true) {
                Some(rate) => assert!(
                    (per_param(e.details.optimizer_states) - rate).abs() < 1e-6,
                    "{said}"
                ),
                None => assert!(shaped, "{said}"),
            }
            match o.step_workspace_bytes_per_param(implementation, true) {
                Some(rate) => assert!(
                    (per_param(e.details.optimizer_step_workspace) - rate).abs() < 1e-6,
                    "{said}"
                ),
                // One tensor at a time: the largest tensor's temporaries, not a rate.
                None => assert!(
                    shaped
                        || o == Optimizer::Lion
                        || implementation == OptimizerImplementation::Forloop,
                    "{said}"
                ),
            }
        }
    }
    assert_eq!(
        Optimizer::AdamW.step_workspace_bytes_per_param(OptimizerImplementation::Foreach, false),
        Some(2.0)
    );
    assert_eq!(
        Optimizer::AdamW.step_workspace_bytes_per_param(OptimizerImplementation::Fused, true),
        Some(0.0)
    );
}

#[test]
fn optimizers_differ_only_in_state() {
    let adam = train_8b(|_| {});
    let sgd = train_8b(|r| r.optimizer = Optimizer::SgdNoMomentum);
    let bnb = train_8b(|r| r.optimizer = Optimizer::QuantizedAdamW);
    assert_eq!(sgd.details.optimizer_states.0, 0);
    assert_eq!(
        bnb.details.optimizer_states.0,
        2 * PSI + 2 * PSI.div_ceil(256) * 4
    );
    assert_eq!(
        adam.phase(StepPhase::OptimizerStep).gradients,
        sgd.phase(StepPhase::OptimizerStep).gradients
    );
}

#[test]
fn checkpointing_and_flash_attention_change_activations() {
    let plain = train_8b(|r| r.sequence_length = 4096);
    let ckpt = train_8b(|r| {
        r.sequence_length = 4096;
        r.gradient_checkpointing = true;
    });
    let eager = train_8b(|r| {
        r.sequence_length = 4096;
        r.use_flash_attention = false;
    });
    assert!(
        ckpt.phase(StepPhase::Forward).activations.0
            < plain.phase(StepPhase::Forward).activations.0 / 2
    );
    // 32 layers x 32 heads x 4096^2 x (4 + 2) bytes of scores on top.
    assert_eq!(
        eager.phase(StepPhase::Forward).activations.0
            - plain.phase(StepPhase::Forward).activations.0,
        32 * 32 * 4096 * 4096 * 6
    );
}

#[test]
fn methods_train_what_they_say() {
    let freeze = train_8b(|r| r.method = Method::Freeze);
    let layer = llama_8b().params.dense_layer as u64;
    assert_eq!(freeze.details.trainable_parameters, 2 * layer);
    assert_eq!(freeze.details.layers_with_activations, 2);
    let lora = train_8b(|r| {
        r.method = Method::Lora;
        r.lora_target = LoraTarget::Attention;
    });
    // Rank 8 on q, k, v, o of 32 layers: 8 x ((4096+4096) + 2 x (4096+1024) + (4096+4096)).
    assert_eq!(
        lora.details.trainable_parameters,
        32 * 8 * (8192 + 2 * 5120 + 8192)
    );
    let ok = train_8b(|r| {
        r.method = Method::Lora;
        r.trainable_percent = Some(100.0);
    });
    assert!(ok
        .warnings
        .iter()
        .any(|w| w.message.contains("ignored for lora")));
    let mut req = TrainingRequest::new(1, 1024);
    req.method = Method::Qlora;
    req.trainable_percent = Some(50.0);
    assert!(matches!(
        estimate_training(llama_8b(), &req),
        Err(CalcError::InvalidField { ref field, .. }) if field == "trainable_parameters"
    ));
}
