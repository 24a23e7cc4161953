//! Training Llama-3.1-8B under each framework, to the byte (methodology §7.4): mixed
//! and pure precision, DDP's buckets, ZeRO's stages, offload, and the settings each
//! framework refuses or warns about.

use calculator::{
    estimate_training, CalcError, DeepspeedSettings, Framework, FsdpSharding, Offload, Optimizer,
    OptimizerImplementation, Precision, StepPhase, TrainingRequest,
};
use testkit::training::{llama_8b, train_70b, train_8b, LAYER_70B, PSI, PSI_70B};

/// Llama-3.1-8B's linear weights with the output projection: 32 layers of
/// q, o (4096²), k, v (4096 × 1024) and gate, up, down (4096 × 14336), plus
/// 128,256 × 4096.
const LINEAR: u64 = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336) + 128_256 * 4096;

#[test]
fn precision_settings_keep_what_the_docs_say() {
    // transformers (torch autocast): fp32 weights that are their own master, a
    // 16-bit cached copy of every linear weight, fp32 gradients and states.
    let amp = train_8b(|_| {});
    assert!(amp.mixed_precision);
    assert_eq!(amp.framework, Framework::Transformers);
    assert_eq!(amp.details.autocast_weight_copies.0, 2 * LINEAR);
    assert_eq!(amp.model_weights.0, 4 * PSI + 2 * LINEAR);
    assert_eq!(amp.phase(StepPhase::OptimizerStep).gradients.0, 4 * PSI);
    assert_eq!(amp.details.master_weights.0, 0);
    assert_eq!(amp.details.optimizer_states.0, 8 * PSI);
    // DeepSpeed: 16-bit weights and gradients, fp32 master and gradient, states.
    let ds = train_8b(|r| r.framework = Some(Framework::Deepspeed));
    assert_eq!(ds.model_weights.0, 2 * PSI);
    assert_eq!(ds.phase(StepPhase::OptimizerStep).gradients.0, 6 * PSI);
    assert_eq!(ds.details.master_weights.0, 4 * PSI);
    assert_eq!(ds.details.optimizer_states.0, 8 * PSI);
    let pure = train_8b(|r| r.mixed_precision = false);
    assert_eq!(pure.model_weights.0, 2 * PSI);
    assert_eq!(pure.phase(StepPhase::OptimizerStep).gradients.0, 2 * PSI);
    assert_eq!(pure.details.master_weights.0, 0);
    assert_eq!(pure.details.optimizer_states.0, 4 * PSI);
    let fp32 = train_8b(|r| r.precision = Some(Precision::Float32));
    assert!(!fp32.mixed_precision);
    assert_eq!(fp32.model_weights.0, 4 * PSI);
    assert_eq!(fp32.phase(StepPhase::OptimizerStep).gradients.0, 4 * PSI);
    assert_eq!(fp32.details.optimizer_states.0, 8 * PSI);
}

#[test]
fn ddp_copies_the_gradients_into_its_buckets() {
    let one = train_8b(|_| {});
    let two = train_8b(|r| r.num_gpus = 2);
    assert_eq!(two.details.communication_buffers.0, 4 * PSI);
    assert_eq!(
        two.phase(StepPhase::OptimizerStep).gradients.0,
        one.phase(StepPhase::OptimizerStep).gradients.0 + 4 * PSI
    );
}

#[test]
fn zero_stages_shard_progressively() {
    let stage = |z| {
        train_8b(|r| {
            r.num_gpus = 8;
            r.zero_stage = z;
        })
    };
    let (s0, s1, s2, s3) = (stage(0), stage(1), stage(2), stage(3));
    assert_eq!(s1.framework, Framework::Deepspeed);
    assert_eq!(
        s1.details.optimizer_states.0,
        s0.details.optimizer_states.0.div_ceil(8)
    );
    // Stages 1-2: one 5e8-element 16-bit bucket (overlap_comm off by default), which
    // backward allocates and releases: in the backward phase, not at the step.
    let buckets = 500_000_000 * 2;
    assert_eq!(s1.details.communication_buffers.0, buckets);
    assert_eq!(
        s1.phase(StepPhase::OptimizerStep).gradients.0,
        2 * PSI + (4 * PSI).div_ceil(8)
    );
    assert_eq!(s1.phase(StepPhase::Forward).gradients.0, 0);
    // Backward: the buckets and the output layer's whole 16-bit gradient (stage 1 does
    // not partition gradients).
    let output = calculator::RegistryEntry::lookup("Llama-3.1-8B")
        .unwrap()
        .model
        .params
        .embedding_matrix as u64;
    assert_eq!(
        s1.phase(StepPhase::Backward).gradients.0,
        buckets + 2 * output
    );
    // ZeRO-3 keeps its gradient partitions from step to step, in every phase.
    assert_eq!(
        s3.phase(StepPhase::Forward).gradients.0,
        s3.details.communication_buffers.0 + (2 * PSI).div_ceil(8)
    );
    assert_eq!(
        s2.phase(StepPhase::OptimizerStep).gradients.0,
        (2 * PSI).div_ceil(8) + (4 * PSI).div_ceil(8)
    );
    // The step's flattened 16-bit copy of the gradient partition.
    assert_eq!(s2.details.optimizer_step_workspace.0, (2 * PSI).div_ceil(8));
    assert!(s3.model_weights.0 < s2.model_weights.0 / 4);
    assert!(s1.training_memory > s2.training_memory);
    assert!(s2.training_memory > s3.training_memory);
}

#[test]
fn offloading_the_optimizer_moves_its_bytes_to_the_host() {
    let on_gpu = train_70b(|r| r.zero_stage = 3);
    let off = train_70b(|r| {
        r.zero_stage = 3;
        r.offload_optimizer = Offload::Cpu;
    });
    assert_eq!(off.optimizer_memory.0, 0);
    // Master, moments and fp32 gradient of every GPU's partition, on its node.
    assert_eq!(off.host_memory_per_node.0, 16 * PSI_70B);
    assert_eq!(off.nvme_per_node.0, 0);
    assert_eq!(off.model_weights, on_gpu.model_weights);
    let nvme = train_70b(|r| {
        r.zero_stage = 3;
        r.offload_optimizer = Offload::Nvme;
        r.offload_parameters = Offload::Nvme;
    });
    assert_eq!(nvme.nvme_per_node.0, 12 * PSI_70B + 2 * PSI_70B);
    // The fp32 gradient partitions, and per GPU the pinned swap buffers: 4 of one
    // 1e9-element fp32 sub-group, 5 of 1e8 16-bit weights.
    assert_eq!(
        nvme.host_memory_per_node.0,
        4 * PSI_70B + 8 * (4 * 1_000_000_000 * 4 + 5 * 100_000_000 * 2)
    );
    assert_eq!(nvme.model_weights.0, 2 * LAYER_70B);
}

#[test]
fn offload_keeps_what_compute_needs() {
    // ZeRO-1 does not partition gradients: offloading the optimizer leaves them.
    let z1 = train_8b(|r| {
        r.zero_stage = 1;
        r.num_gpus = 8;
        r.offload_optimizer = Offload::Cpu;
    });
    assert_eq!(z1.phase(StepPhase::OptimizerStep).gradients.0, 2 * PSI);
    // FSDP without sharding brings the whole model back for compute.
    let no_shard = |mixed| {
        train_8b(|r| {
            r.framework = Some(Framework::Fsdp);
            r.fsdp_sharding = Some(FsdpSharding::NoShard);
            r.offload_parameters = Offload::Cpu;
            r.mixed_precision = mixed;
        })
        .model_weights
        .0
    };
    assert_eq!(no_shard(true), 2 * PSI);
    assert_eq!(no_shard(false), 2 * PSI);
}

#[test]
fn settings_resolve_and_warn_where_they_do_nothing() {
    let warned = |edit: &dyn Fn(&mut TrainingRequest), text: &str| {
        let mut req = TrainingRequest::new(1, 1024);
        edit(&mut req);
        let e = estimate_training(llama_8b(), &req).unwrap();
        e.warnings.iter().any(|w| w.message.contains(text))
    };
    let ds = Some(DeepspeedSettings::default());
    assert!(warned(&|r| r.deepspeed = ds, "no effect at zero_stage 0"));
    assert!(!warned(
        &|r| {
            r.deepspeed = ds;
            r.zero_stage = 2;
        },
        "no effect"
    ));
    let small_groups = Some(DeepspeedSettings {
        sub_group_size: 1000,
        ..DeepspeedSettings::default()
    });
    for (stage, said) in [(2, true), (3, false)] {
        let edit = |r: &mut TrainingRequest| {
            r.deepspeed = small_groups;
            r.zero_stage = stage;
            r.num_gpus = 8;
        };
        assert_eq!(warned(&edit, "applies to zero_stage 3"), said);
    }
    assert!(!warned(
        &|r| {
            r.deepspeed = ds;
            r.zero_stage = 2;
        },
        "applies to zero_stage 3"
    ));
    let fsdp_on = |gpus: u64| {
        move |r: &mut TrainingRequest| {
            r.framework = Some(Framework::Fsdp);
            r.num_gpus = gpus;
        }
    };
    assert!(warned(&fsdp_on(1), "nothing is sharded"));
    assert!(!warned(&fsdp_on(2), "nothing is sharded"));
    assert!(warned(
        &|r| {
            r.optimizer = Optimizer::Sgd;
            r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
        },
        "applies to Adam and AdamW"
    ));
    assert!(!warned(
        &|r| r.optimizer_implementation = Some(OptimizerImplementation::Foreach),
        "applies to Adam and AdamW"
    ));
    let fsdp_offload = |both: bool| {
        move |r: &mut TrainingRequest| {
            r.framework = Some(Framework::Fsdp);
            r.num_gpus = 2;
            r.offload_optimizer = Offload::Cpu;
            if both {
                r.offload_parameters = Offload::Cpu;
            }
        }
    };
    assert!(warned(&fsdp_offload(false), "together"));
    assert!(!warned(&fsdp_offload(true), "together"));
    // DeepSpeed at stage 0 is plain data parallelism only with more than one GPU.
    let ds0 = |gpus: u64| {
        move |r: &mut TrainingRequest| {
            r.framework = Some(Framework::Deepspeed);
            r.num_gpus = gpus;
        }
    };
    assert!(warned(&ds0(2), "plain data parallelism"));
    assert!(!warned(&ds0(1), "plain data parallelism"));
    // fsdp_sharding alone picks FSDP; no_shard shards nothing.
    let mut req = TrainingRequest::new(1, 1024);
    req.fsdp_sharding = Some(FsdpSharding::NoShard);
    req.num_gpus = 8;
    let e = estimate_training(llama_8b(), &req).unwrap();
    assert_eq!(e.framework, Framework::Fsdp);
    assert_eq!(e.fsdp_sharding, Some(FsdpSharding::NoShard));
    assert_eq!(e.details.optimizer_states.0, 8 * PSI);
    assert_eq!(train_8b(|r| r.zero_stage = 1).fsdp_sharding, None);
    // bitsandbytes' 8-bit step cannot run where FSDP offloads the optimizer.
    let mut req = TrainingRequest::new(1, 1024);
    req.framework = Some(Framework::Fsdp);
    req.optimizer = Optimizer::QuantizedAdamW;
    req.offload_optimizer = Offload::Cpu;
    assert!(matches!(
        estimate_training(llama_8b(), &req),
        Err(CalcError::InvalidField { ref field, .. }) if field == "offload_optimizer"
    ));
}

#[test]
fn refusals_name_the_setting() {
    let field_of = |edit: &dyn Fn(&mut TrainingRequest)| {
        let mut req = TrainingRequest::new(1, 1024);
        req.num_gpus = 8;
        edit(&mut req);
        match estimate_training(llama_8b(), &req) {
            Err(CalcError::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    };
    type Edit = dyn Fn(&mut TrainingRequest);
    let cases: [(&Edit, &str); 11] = [
        (
            &|r| {
                r.framework = Some(Framework::Fsdp);
                r.fsdp_sharding = Some(FsdpSharding::HybridShard);
                r.gpus_per_node = Some(3);
            },
            "gpus_per_node",
        ),
        (
            &|r| {
                r.zero_stage = 2;
                r.optimizer = Optimizer::Adafactor;
                r.offload_optimizer = Offload::Cpu;
            },
            "offload_optimizer",
        ),
        (
            &|r| {
                r.framework = Some(Framework::Fsdp);
                r.optimizer = Optimizer::QuantizedAdamW;
                r.offload_parameters = Offload::Cpu;
            },
            "offload_optimizer",
        ),
        (
            &|r| {
                r.framework = Some(Framework::Transformers);
                r.zero_stage = 2
            },
            "zero_stage",
        ),
        (&|r| r.offload_optimizer = Offload::Cpu, "offload_optimizer"),
        (
            &|r| {
                r.zero_stage = 2;
                r.offload_optimizer = Offload::Nvme
            },
            "offload_optimizer",
        ),
        (
            &|r| {
                r.zero_stage = 2;
                r.offload_parameters = Offload::Cpu
            },
            "offload_parameters",
        ),
        (
            &|r| {
                r.zero_stage = 2;
                r.fsdp_sharding = Some(FsdpSharding::FullShard)
            },
            "fsdp_sharding",
        ),
        (&|r| r.loss_chunks = Some(4), "loss_chunks"),
        (&|r| r.lora_dropout = 0.1, "lora_dropout"),
        (
            &|r| {
                r.zero_stage = 1;
                r.mixed_precision = false
            },
            "mixed_precision",
        ),
    ];
    for (edit, field) in cases {
        assert_eq!(field_of(edit), field);
    }
    // fp32 training is a DeepSpeed mode.
    let mut fp32 = TrainingRequest::new(1, 1024);
    fp32.zero_stage = 1;
    fp32.mixed_precision = false;
    fp32.precision = Some(Precision::Float32);
    assert!(estimate_training(llama_8b(), &fp32).is_ok());
}
