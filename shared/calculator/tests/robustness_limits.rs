//! Every registry model under any request, and models at every limit: a result or a
//! field error, never a panic, an overflow or a non-finite number; components add up
//! to the total; memory never decreases when the batch or sequence grows; the fit
//! helpers find the exact boundary. The random requests are proptest's, as in
//! `robustness.rs`.

use calculator::{
    estimate_inference, estimate_training, limits, max_batch_size, max_sequence_length, Bytes,
    CalcError, Choice, DeepspeedSettings, Engine, ExplicitModel, Framework, FsdpSharding,
    InferenceRequest, Logits, LoraTarget, Loss, Method, Model, Offload, Optimizer,
    OptimizerImplementation, Precision, Quantization, RegistryEntry, TrainingRequest, Unit,
    VllmSettings, VllmVersion, Workload,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use testkit::models::registry_model;

fn check_error(err: &CalcError) {
    match err {
        CalcError::InvalidField { field, message } => {
            assert!(!field.is_empty() && !message.is_empty())
        }
        CalcError::TooLarge | CalcError::WeightsTooLarge => {}
        CalcError::UnknownModel { .. } => panic!("unexpected unknown model"),
    }
}

/// Values biased to the edges of `1..=max`: 0, 1, the limit, just past it, or anything
/// between.
fn edgy(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        1 => Just(1u64),
        1 => Just(max),
        1 => Just(max.saturating_add(1)),
        2 => 1..=max,
    ]
}

/// A registry model.
fn registry() -> impl Strategy<Value = &'static Model> {
    (0..RegistryEntry::all().len()).prop_map(|i| &RegistryEntry::all()[i].model)
}

fn maybe<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn vllm_settings() -> impl Strategy<Value = VllmSettings> {
    (
        edgy(limits::MAX_GPU_MEMORY + 1),
        maybe(select(vec!["NVIDIA A100 80GB", "H100"])),
        select(vec![0.0, 1e-9, 0.5, 0.9, 1.0, 1.5, f64::NAN]),
        maybe(edgy(limits::MAX_SEQUENCE_LENGTH + 1)),
        maybe(edgy(limits::MAX_BATCH_SIZE + 1)),
        any::<bool>(),
        select(VllmVersion::ALL),
        (
            any::<bool>(),
            select(vec![1, 2, 7, u64::MAX]),
            select(vec![1, 2, 3, 200]),
        ),
    )
        .prop_map(
            |(memory, name, share, tokens, seqs, eager, version, (ep, dp, pp))| VllmSettings {
                gpu_memory: Bytes(memory),
                gpu_name: name.map(str::to_owned),
                gpu_memory_utilization: share,
                max_num_batched_tokens: tokens,
                max_num_seqs: seqs,
                enforce_eager: eager,
                version,
                expert_parallel: ep,
                data_parallel_size: dp,
                pipeline_parallel_size: pp,
            },
        )
}

fn inference_request() -> impl Strategy<Value = InferenceRequest> {
    let formats = (
        maybe(select(Precision::ALL)),
        maybe(select(Quantization::ALL)),
        maybe(edgy(limits::MAX_GROUP_SIZE)),
        maybe(select(Precision::ALL)),
    );
    let workload = (
        edgy(limits::MAX_BATCH_SIZE),
        edgy(limits::MAX_SEQUENCE_LENGTH),
        edgy(limits::MAX_NEW_TOKENS),
        select(Logits::ALL),
        any::<bool>(),
        prop::bool::weighted(0.25),
        edgy(64),
        maybe(vllm_settings()),
    );
    (formats, workload).prop_map(
        |((p, q, g, kv), (b, s, n, logits, flash, mtp, gpus, vllm))| InferenceRequest {
            precision: p,
            quantization: q,
            group_size: g,
            kv_cache_precision: kv,
            batch_size: b,
            sequence_length: s,
            max_new_tokens: n,
            logits,
            use_flash_attention: flash,
            load_mtp: mtp,
            num_gpus: gpus,
            engine: vllm.map_or(Engine::Transformers, Engine::Vllm),
            unit: calculator::Unit::Gib,
        },
    )
}

fn deepspeed() -> impl Strategy<Value = DeepspeedSettings> {
    (
        edgy(limits::MAX_BUCKET_ELEMENTS),
        maybe(any::<bool>()),
        edgy(limits::MAX_BUCKET_ELEMENTS),
    )
        .prop_map(|(reduce, overlap, sub)| DeepspeedSettings {
            reduce_bucket_size: reduce,
            overlap_comm: overlap,
            sub_group_size: sub,
        })
}

fn training_request() -> impl Strategy<Value = TrainingRequest> {
    let method = (
        maybe(select(Precision::ALL)),
        any::<bool>(),
        select(Method::ALL),
        maybe(select(vec![0.0, 0.5, 50.0, 100.0, 101.0, f64::NAN, -1.0])),
        edgy(limits::MAX_LORA_RANK),
        select(LoraTarget::ALL),
        select(Optimizer::ALL),
        any::<bool>(),
    );
    let workload = (
        edgy(limits::MAX_BATCH_SIZE),
        edgy(limits::MAX_SEQUENCE_LENGTH),
        any::<bool>(),
        edgy(1024),
        0u8..5,
        maybe(select(Framework::ALL)),
        maybe(select(FsdpSharding::ALL)),
        maybe(edgy(limits::MAX_NUM_GPUS)),
    );
    let rest = (
        maybe(select(OptimizerImplementation::ALL)),
        select(Offload::ALL),
        select(Offload::ALL),
        select(Loss::ALL),
        maybe(edgy(limits::MAX_SEQUENCE_LENGTH)),
        select(vec![0.0, 0.05, 1.0, 1.5, -0.1, f64::NAN]),
        maybe(deepspeed()),
        select(vec![
            vec![],
            vec!["q_proj".to_owned(), "v_proj".to_owned()],
            vec!["c_attn".to_owned()],
            vec!["in_proj_qkvz".to_owned(), "gate_proj".to_owned()],
            vec!["no_such_module".to_owned()],
            vec!["self_attn.q_proj".to_owned()],
            vec!["q_proj".to_owned(); 65],
        ]),
        edgy(limits::GRADIENT_ACCUMULATION_STEPS.max),
        any::<bool>(),
    );
    (method, workload, rest).prop_map(
        |(
            (precision, mixed, method, percent, rank, target, optimizer, checkpointing),
            (b, s, flash, gpus, zero, framework, sharding, per_node),
            (
                implementation,
                offload_o,
                offload_p,
                loss,
                chunks,
                dropout,
                ds,
                modules,
                accumulation,
                hold_logits,
            ),
        )| TrainingRequest {
            precision,
            mixed_precision: mixed,
            method,
            trainable_percent: percent,
            lora_rank: rank,
            lora_target: target,
            lora_modules: modules,
            optimizer,
            gradient_checkpointing: checkpointing,
            batch_size: b,
            sequence_length: s,
            use_flash_attention: flash,
            num_gpus: gpus,
            zero_stage: zero,
            framework,
            fsdp_sharding: sharding,
            gpus_per_node: per_node,
            optimizer_implementation: implementation,
            offload_optimizer: offload_o,
            offload_parameters: offload_p,
            loss,
            loss_chunks: chunks,
            hold_logits,
            lora_dropout: dropout,
            deepspeed: ds,
            gradient_accumulation_steps: accumulation,
        },
    )
}

fn explicit_model() -> impl Strategy<Value = ExplicitModel> {
    (
        maybe(select(vec![
            0.0,
            1e-9,
            7.0,
            1e5,
            1e6,
            f64::INFINITY,
            f64::NAN,
        ])),
        edgy(limits::MAX_HIDDEN),
        edgy(limits::MAX_LAYERS),
        edgy(limits::MAX_HEADS),
        maybe(edgy(limits::MAX_HEADS)),
        maybe(edgy(limits::MAX_HEAD_DIM)),
        maybe(edgy(limits::MAX_INTERMEDIATE)),
        maybe(edgy(limits::MAX_VOCAB)),
    )
        .prop_map(
            |(size, hidden, layers, heads, kv, head_dim, inter, vocab)| ExplicitModel {
                model_size_billions: size,
                hidden_size: hidden,
                num_hidden_layers: layers,
                num_attention_heads: heads,
                num_key_value_heads: kv,
                head_dim,
                intermediate_size: inter,
                vocab_size: vocab,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_inference_request_on_a_registry_model(model in registry(), req in inference_request()) {
        match estimate_inference(model, &req) {
            Ok(e) => {
                let sum = e.model_weights.0 as u128
                    + e.kv_cache.0 as u128
                    + e.activation_memory.0 as u128
                    + e.runtime_overhead.0 as u128;
                prop_assert_eq!(sum, e.inference_memory.0 as u128);
                prop_assert!(!e.inference_memory.format(Unit::Gib).contains("NaN"));
            }
            Err(err) => check_error(&err),
        }
    }

    #[test]
    fn any_training_request_on_a_registry_model(model in registry(), req in training_request()) {
        match estimate_training(model, &req) {
            Ok(e) => {
                let sum = e.model_weights.0 as u128
                    + e.gradients_memory.0 as u128
                    + e.optimizer_memory.0 as u128
                    + e.activation_memory.0 as u128
                    + e.runtime_overhead.0 as u128;
                prop_assert_eq!(sum, e.training_memory.0 as u128);
            }
            Err(err) => check_error(&err),
        }
    }

    #[test]
    fn explicit_fields_at_and_past_their_limits(e in explicit_model()) {
        match Model::from_explicit(&e) {
            Ok(model) => {
                let req =
                    InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                if let Err(err) = estimate_inference(&model, &req) {
                    check_error(&err);
                }
                let mut t =
                    TrainingRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                t.use_flash_attention = false;
                if let Err(err) = estimate_training(&model, &t) {
                    check_error(&err);
                }
            }
            Err(err) => check_error(&err),
        }
    }
}

#[test]
fn memory_grows_with_batch_and_sequence() {
    for entry in RegistryEntry::all() {
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
    let model = &RegistryEntry::lookup("Llama-3.1-8B").unwrap().model;
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

#[test]
fn totals_past_2_to_the_53_bytes_are_refused() {
    // 32 layers x 8 KV heads x 128 x 2 x 2 bytes = 128 KiB per token: 2^20 sequences of
    // 2^24 tokens is 2^61 bytes of KV cache; the weights (16 GB) fit.
    let mut r = InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
    r.use_flash_attention = true;
    let err = estimate_inference(registry_model("Llama-3.1-8B"), &r).unwrap_err();
    assert_eq!(err, CalcError::TooLarge);
    // At the limit: the largest batch within 2^53 bytes is answered, one more is not.
    let model = registry_model("Llama-3.1-8B");
    let mut r = InferenceRequest::new(1, limits::MAX_SEQUENCE_LENGTH);
    let w = Workload::Inference(&r);
    let b = max_batch_size(model, w, Bytes(limits::MAX_REPORTED_BYTES))
        .unwrap()
        .unwrap();
    r.batch_size = b;
    let e = estimate_inference(model, &r).unwrap();
    assert!(e.inference_memory.0 <= limits::MAX_REPORTED_BYTES);
    r.batch_size = b + 1;
    assert_eq!(
        estimate_inference(model, &r).unwrap_err(),
        CalcError::TooLarge
    );
}

/// The state-mixer families at every shape limit at once: each answer is a number or a
/// 4xx error, never an overflow.
#[test]
fn state_mixers_at_their_limits_never_overflow() {
    let max = |l: u64| json!(l);
    let layers = 64u64;
    let common = json!({"hidden_size": max(limits::MAX_HIDDEN), "num_hidden_layers": layers,
        "num_attention_heads": max(limits::MAX_HEADS), "num_key_value_heads": 1,
        "head_dim": max(limits::MAX_HEAD_DIM), "vocab_size": max(limits::MAX_VOCAB),
        "intermediate_size": max(limits::MAX_INTERMEDIATE)});
    let family_keys = [
        json!({"model_type": "qwen3_next", "linear_num_key_heads": max(limits::MAX_HEADS),
            "linear_num_value_heads": max(limits::MAX_HEADS),
            "linear_key_head_dim": max(limits::MAX_HEAD_DIM),
            "linear_value_head_dim": max(limits::MAX_HEAD_DIM),
            "linear_conv_kernel_dim": max(limits::MAX_HEAD_DIM),
            "moe_intermediate_size": 1, "num_experts": 1}),
        json!({"model_type": "falcon_h1", "mamba_n_heads": max(limits::MAX_HEADS),
            "mamba_d_head": 256, "mamba_d_ssm": max(limits::MAX_INTERMEDIATE),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_n_groups": max(limits::MAX_HEAD_DIM),
            "mamba_d_conv": max(limits::MAX_HEAD_DIM), "mamba_chunk_size": 1}),
        json!({"model_type": "jamba", "mamba_expand": max(limits::MAX_HEAD_DIM),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_d_conv": max(limits::MAX_HEAD_DIM),
            "mamba_dt_rank": max(limits::MAX_INTERMEDIATE), "num_experts": 1}),
        json!({"model_type": "jamba", "hidden_size": 16, "mamba_expand": max(limits::MAX_HEAD_DIM),
            "mamba_d_state": max(limits::MAX_HEAD_DIM), "mamba_d_conv": max(limits::MAX_HEAD_DIM),
            "mamba_dt_rank": max(limits::MAX_INTERMEDIATE), "num_experts": 1}),
        json!({"model_type": "kimi_linear", "kv_lora_rank": max(limits::MAX_HEAD_DIM),
            "qk_nope_head_dim": max(limits::MAX_HEAD_DIM), "qk_rope_head_dim": max(limits::MAX_HEAD_DIM),
            "v_head_dim": max(limits::MAX_HEAD_DIM), "moe_intermediate_size": 1, "num_experts": 1,
            "linear_attn_config": {"num_heads": max(limits::MAX_HEADS),
                "head_dim": max(limits::MAX_HEAD_DIM), "short_conv_kernel_size": max(limits::MAX_HEAD_DIM),
                "kda_layers": (1..=layers).collect::<Vec<u64>>()}}),
    ];
    // The same with small attention and vocabulary, so that more reach an estimate.
    let small = json!({"hidden_size": 16, "num_hidden_layers": layers,
        "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 1, "vocab_size": 1,
        "intermediate_size": 1});
    let mut answered = 0;
    for (common, keys) in family_keys
        .iter()
        .flat_map(|k| [(common.clone(), k), (small.clone(), k)])
    {
        let mut config = common;
        config
            .as_object_mut()
            .unwrap()
            .extend(keys.as_object().unwrap().clone());
        match Model::from_config(&config) {
            Ok(m) => {
                answered += 1;
                let mut r =
                    InferenceRequest::new(limits::MAX_BATCH_SIZE, limits::MAX_SEQUENCE_LENGTH);
                r.max_new_tokens = limits::MAX_NEW_TOKENS;
                match estimate_inference(&m, &r) {
                    Ok(e) => assert!(e.inference_memory.0 <= limits::MAX_REPORTED_BYTES),
                    Err(
                        CalcError::InvalidField { .. }
                        | CalcError::TooLarge
                        | CalcError::WeightsTooLarge,
                    ) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            Err(CalcError::InvalidField { .. }) => {}
            Err(other) => panic!("{config}: {other:?}"),
        }
    }
    assert!(answered >= 3, "only {answered} configs were models");
}
