//! Any request, however extreme, yields a result or a field error: never a panic, an
//! overflow or a non-finite number; components always add up to the total; memory
//! never decreases when the batch or sequence grows.

use calculator::{
    estimate_inference, estimate_training, limits, max_batch_size, max_sequence_length, registry,
    Bytes, CalcError, Choice, DeepspeedSettings, Engine, ExplicitModel, Framework, FsdpSharding,
    InferenceRequest, Logits, LoraTarget, Loss, Method, Model, Offload, Optimizer,
    OptimizerImplementation, Precision, Quantization, TrainingRequest, VllmSettings, Workload,
};

use testkit::Rng;

fn check_error(err: CalcError) {
    match err {
        CalcError::InvalidField { field, message } => {
            assert!(!field.is_empty() && !message.is_empty())
        }
        CalcError::TooLarge | CalcError::WeightsTooLarge => {}
        CalcError::UnknownModel { .. } => panic!("unexpected unknown model"),
    }
}

#[test]
fn random_inference_requests_never_panic() {
    let mut rng = Rng(7);
    let models: Vec<&Model> = registry::all().iter().map(|e| &e.model).collect();
    for _ in 0..20_000 {
        let model = rng.pick(&models);
        let req = InferenceRequest {
            precision: rng.maybe(|r| r.pick(&Precision::ALL)),
            quantization: rng.maybe(|r| r.pick(&Quantization::ALL)),
            group_size: rng.maybe(|r| r.edgy(limits::MAX_GROUP_SIZE)),
            kv_cache_precision: rng.maybe(|r| r.pick(&Precision::ALL)),
            batch_size: rng.edgy(limits::MAX_BATCH_SIZE),
            sequence_length: rng.edgy(limits::MAX_SEQUENCE_LENGTH),
            max_new_tokens: rng.edgy(limits::MAX_NEW_TOKENS),
            logits: rng.pick(&Logits::ALL),
            use_flash_attention: rng.next_u64().is_multiple_of(2),
            load_mtp: rng.next_u64().is_multiple_of(4),
            num_gpus: rng.edgy(64),
            engine: if rng.next_u64().is_multiple_of(2) {
                Engine::Transformers
            } else {
                Engine::Vllm(VllmSettings {
                    gpu_memory: Bytes(rng.edgy(limits::MAX_GPU_MEMORY + 1)),
                    gpu_name: rng.maybe(|r| r.pick(&["NVIDIA A100 80GB", "H100"]).to_string()),
                    gpu_memory_utilization: rng.pick(&[0.0, 1e-9, 0.5, 0.9, 1.0, 1.5, f64::NAN]),
                    max_num_batched_tokens: rng.maybe(|r| r.edgy(limits::MAX_SEQUENCE_LENGTH + 1)),
                    max_num_seqs: rng.maybe(|r| r.edgy(limits::MAX_BATCH_SIZE + 1)),
                    enforce_eager: rng.next_u64().is_multiple_of(2),
                })
            },
        };
        match estimate_inference(model, &req) {
            Ok(e) => {
                let sum = e.model_weights.0 as u128
                    + e.kv_cache.0 as u128
                    + e.activation_memory.0 as u128
                    + e.runtime_overhead.0 as u128;
                assert_eq!(sum, e.inference_memory.0 as u128);
                assert!(!e
                    .inference_memory
                    .format(calculator::Unit::Gib)
                    .contains("NaN"));
            }
            Err(err) => check_error(err),
        }
    }
}

#[test]
fn random_training_requests_never_panic() {
    let mut rng = Rng(11);
    let models: Vec<&Model> = registry::all().iter().map(|e| &e.model).collect();
    for _ in 0..20_000 {
        let model = rng.pick(&models);
        let req = TrainingRequest {
            precision: rng.maybe(|r| r.pick(&Precision::ALL)),
            mixed_precision: rng.next_u64().is_multiple_of(2),
            method: rng.pick(&Method::ALL),
            trainable_percent: rng
                .maybe(|r| r.pick(&[0.0, 0.5, 50.0, 100.0, 101.0, f64::NAN, -1.0])),
            lora_rank: rng.edgy(limits::MAX_LORA_RANK),
            lora_target: rng.pick(&LoraTarget::ALL),
            optimizer: rng.pick(&Optimizer::ALL),
            gradient_checkpointing: rng.next_u64().is_multiple_of(2),
            batch_size: rng.edgy(limits::MAX_BATCH_SIZE),
            sequence_length: rng.edgy(limits::MAX_SEQUENCE_LENGTH),
            use_flash_attention: rng.next_u64().is_multiple_of(2),
            num_gpus: rng.edgy(1024),
            zero_stage: (rng.next_u64() % 5) as u8,
            framework: rng.maybe(|r| r.pick(Framework::ALL)),
            fsdp_sharding: rng.maybe(|r| r.pick(FsdpSharding::ALL)),
            gpus_per_node: rng.maybe(|r| r.edgy(limits::MAX_GPUS)),
            optimizer_implementation: rng.maybe(|r| r.pick(OptimizerImplementation::ALL)),
            offload_optimizer: rng.pick(Offload::ALL),
            offload_parameters: rng.pick(Offload::ALL),
            loss: rng.pick(Loss::ALL),
            loss_chunks: rng.maybe(|r| r.edgy(limits::MAX_SEQUENCE_LENGTH)),
            lora_dropout: rng.pick(&[0.0, 0.05, 1.0, 1.5, -0.1, f64::NAN]),
            deepspeed: rng.maybe(|r| DeepspeedSettings {
                reduce_bucket_size: r.edgy(limits::MAX_BUCKET_ELEMENTS),
                overlap_comm: r.maybe(|r| r.next_u64().is_multiple_of(2)),
                sub_group_size: r.edgy(limits::MAX_BUCKET_ELEMENTS),
            }),
        };
        match estimate_training(model, &req) {
            Ok(e) => {
                let sum = e.model_weights.0 as u128
                    + e.gradients_memory.0 as u128
                    + e.optimizer_memory.0 as u128
                    + e.activation_memory.0 as u128
                    + e.runtime_overhead.0 as u128;
                assert_eq!(sum, e.training_memory.0 as u128);
            }
            Err(err) => check_error(err),
        }
    }
}

#[test]
fn explicit_fields_at_and_past_their_limits() {
    let mut rng = Rng(3);
    for _ in 0..5_000 {
        let e = ExplicitModel {
            model_size_billions: rng
                .maybe(|r| r.pick(&[0.0, 1e-9, 7.0, 1e5, 1e6, f64::INFINITY, f64::NAN])),
            hidden_size: rng.edgy(limits::MAX_HIDDEN),
            num_hidden_layers: rng.edgy(limits::MAX_LAYERS),
            num_attention_heads: rng.edgy(limits::MAX_HEADS),
            num_key_value_heads: rng.maybe(|r| r.edgy(limits::MAX_HEADS)),
            head_dim: rng.maybe(|r| r.edgy(limits::MAX_HEAD_DIM)),
            intermediate_size: rng.maybe(|r| r.edgy(limits::MAX_INTERMEDIATE)),
            vocab_size: rng.maybe(|r| r.edgy(limits::MAX_VOCAB)),
        };
        match Model::from_explicit(&e) {
            Ok(model) => {
                let req =
                    InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                if let Err(err) = estimate_inference(&model, &req) {
                    check_error(err);
                }
                let mut t =
                    TrainingRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                t.use_flash_attention = false;
                if let Err(err) = estimate_training(&model, &t) {
                    check_error(err);
                }
            }
            Err(err) => check_error(err),
        }
    }
}

#[test]
fn memory_grows_with_batch_and_sequence() {
    for entry in registry::all() {
        let model = &entry.model;
        let mut last = 0;
        for (b, s) in [(1, 128), (1, 4096), (2, 4096), (8, 4096), (8, 32768)] {
            let mut req = InferenceRequest::new(b, s);
            req.max_new_tokens = 16;
            let total = estimate_inference(model, &req).unwrap().inference_memory.0;
            assert!(total >= last, "{} inference b{b} s{s}", entry.name);
            last = total;
        }
        let mut last = 0;
        for (b, s) in [(1, 128), (1, 4096), (2, 4096), (4, 8192)] {
            let mut req = TrainingRequest::new(b, s);
            req.method = Method::Lora;
            let total = estimate_training(model, &req).unwrap().training_memory.0;
            assert!(total >= last, "{} training b{b} s{s}", entry.name);
            last = total;
        }
    }
}

#[test]
fn fit_helpers_find_the_exact_boundary() {
    let model = &registry::lookup("Llama-3.1-8B").unwrap().model;
    let budget = Bytes(80_000_000_000);
    let mut inf = InferenceRequest::new(1, 4096);
    inf.max_new_tokens = 512;
    let total = |b: u64, s: u64| {
        let mut r = inf.clone();
        r.batch_size = b;
        r.sequence_length = s;
        estimate_inference(model, &r).unwrap().inference_memory.0
    };
    let b = max_batch_size(model, Workload::Inference(&inf), budget)
        .unwrap()
        .unwrap();
    assert!(
        total(b, 4096) <= budget.0 && total(b + 1, 4096) > budget.0,
        "batch {b}"
    );
    let s = max_sequence_length(model, Workload::Inference(&inf), budget)
        .unwrap()
        .unwrap();
    assert!(
        total(1, s) <= budget.0 && total(1, s + 1) > budget.0,
        "sequence {s}"
    );

    let mut train = TrainingRequest::new(1, 2048);
    train.method = Method::Qlora;
    train.gradient_checkpointing = true;
    let t = |b: u64| {
        let mut r = train.clone();
        r.batch_size = b;
        estimate_training(model, &r).unwrap().training_memory.0
    };
    let b = max_batch_size(model, Workload::Training(&train), budget)
        .unwrap()
        .unwrap();
    assert!(
        t(b) <= budget.0 && t(b + 1) > budget.0,
        "training batch {b}"
    );

    // Nothing fits in 1 GB: the weights alone are 16 GB.
    assert_eq!(
        max_batch_size(model, Workload::Inference(&inf), Bytes(1_000_000_000)).unwrap(),
        None
    );
    // Everything fits in an absurd budget: the answer is the field limit.
    assert_eq!(
        max_batch_size(model, Workload::Inference(&inf), Bytes(u64::MAX)).unwrap(),
        Some(limits::MAX_BATCH_SIZE)
    );
}
