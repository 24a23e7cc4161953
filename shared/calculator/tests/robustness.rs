//! Property tests (proptest) of the calculator at and past every limit: every family's
//! config, MoE with up to 65,536 experts included, for inference (both engines) and
//! training. Run in debug (overflow checks on: any overflow is a panic, which fails
//! the test) and, by `scripts/test.sh`, in release.
//!
//! - never a panic; a result or a field error;
//! - totals at most 2^53 bytes and equal to the sum of their parts;
//! - weights too large for any answer are blamed on the model, never on the workload:
//!   if the smallest workload is refused for its weights, so is every other, and if it
//!   is not, no larger one is;
//! - totals are monotone in batch, sequence, new tokens and bytes per value.

use calculator::{
    estimate_inference, estimate_training, limits, Bytes, CalcError, Choice, Engine, Family,
    Framework, FsdpSharding, InferenceEstimate, InferenceRequest, Loss, Method, Model, Offload,
    Precision, TrainingRequest, VllmSettings, FAMILIES,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A value for a limited integer key: mostly valid (small, typical or at the limit),
/// sometimes just outside (0 or the limit + 1).
fn edgy(limit: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1..=8u64,
        6 => 1..=limit.min(4096),
        4 => Just(limit),
        1 => Just(limit + 1),
        1 => Just(0u64),
    ]
}

/// Keys of the MoE, MLA, sliding-window and older families, with their limits.
fn other_keys() -> Vec<(&'static str, u64)> {
    vec![
        ("max_position_embeddings", limits::MAX_POSITIONS),
        ("num_local_experts", limits::MAX_EXPERTS),
        ("num_experts", limits::MAX_EXPERTS),
        ("n_routed_experts", limits::MAX_EXPERTS),
        ("num_experts_per_tok", limits::MAX_EXPERTS),
        ("moe_intermediate_size", limits::MAX_INTERMEDIATE),
        ("shared_expert_intermediate_size", limits::MAX_INTERMEDIATE),
        ("n_shared_experts", limits::MAX_EXPERTS),
        ("first_k_dense_replace", limits::MAX_LAYERS),
        ("decoder_sparse_step", limits::MAX_LAYERS),
        ("kv_lora_rank", limits::MAX_HEAD_DIM),
        ("q_lora_rank", limits::MAX_HEAD_DIM),
        ("qk_nope_head_dim", limits::MAX_HEAD_DIM),
        ("qk_rope_head_dim", limits::MAX_HEAD_DIM),
        ("v_head_dim", limits::MAX_HEAD_DIM),
        ("sliding_window", limits::MAX_POSITIONS),
        ("ffn_dim", limits::MAX_INTERMEDIATE),
        ("n_inner", limits::MAX_INTERMEDIATE),
        ("intermediate_size_mlp", limits::MAX_INTERMEDIATE),
        ("interleave_moe_layer_step", limits::MAX_LAYERS),
        ("attention_chunk_size", limits::MAX_POSITIONS),
        ("index_n_heads", limits::MAX_HEADS),
        ("index_head_dim", limits::MAX_HEAD_DIM),
        ("full_attention_interval", limits::MAX_LAYERS),
        ("linear_num_key_heads", limits::MAX_HEADS),
        ("linear_num_value_heads", limits::MAX_HEADS),
        ("linear_key_head_dim", limits::MAX_HEAD_DIM),
        ("linear_value_head_dim", limits::MAX_HEAD_DIM),
        ("linear_conv_kernel_dim", limits::MAX_HEAD_DIM),
        ("mamba_n_heads", limits::MAX_HEADS),
        ("mamba_d_head", limits::MAX_HEAD_DIM),
        ("mamba_d_ssm", limits::MAX_INTERMEDIATE),
        ("mamba_d_state", limits::MAX_HEAD_DIM),
        ("mamba_expand", 16),
    ]
}

/// Generated keys that mark linear attention, chunked attention, interleaved experts
/// or an indexer: only given to the families that read them.
const FEATURE_KEYS: &[&str] = &[
    "linear_num_key_heads",
    "linear_num_value_heads",
    "linear_conv_kernel_dim",
    "attention_chunk_size",
    "interleave_moe_layer_step",
    "index_n_heads",
    "mamba_n_heads",
    "mamba_d_state",
    "mamba_expand",
];

/// A config of one of the families: heads, key/value heads and widths consistent
/// (powers of two up to their limits), every other key edgy and often left out.
fn config() -> impl Strategy<Value = Value> {
    let types: Vec<&'static str> = FAMILIES.iter().map(|f| f.name).collect();
    let other: Vec<_> = other_keys()
        .into_iter()
        .map(|(k, l)| {
            // Head counts also as the powers of two real configs use, so that tensor
            // parallelism over power-of-two GPUs can divide them.
            let value = if k.contains("heads") {
                let top = 63 - l.leading_zeros();
                prop_oneof![edgy(l), (0..=top).prop_map(|e| 1u64 << e)].boxed()
            } else {
                edgy(l).boxed()
            };
            proptest::option::weighted(0.6, value).prop_map(move |v| (k, v))
        })
        .collect();
    (
        proptest::sample::select(types),
        0..=16u32,
        0..=16u32,
        prop_oneof![1..=256u64, Just(limits::MAX_HEAD_DIM)],
        edgy(limits::MAX_LAYERS),
        (edgy(limits::MAX_VOCAB), edgy(limits::MAX_INTERMEDIATE)),
        other,
        any::<bool>(),
    )
        .prop_map(
            |(model_type, heads_log, kv_log, head_dim, layers, (vocab, mlp), other, tie)| {
                let heads = 1u64 << heads_log;
                let kv = 1u64 << kv_log.min(heads_log);
                let hidden = (heads * head_dim).min(limits::MAX_HIDDEN);
                let mut m = Map::new();
                m.insert("model_type".into(), json!(model_type));
                m.insert("tie_word_embeddings".into(), json!(tie));
                m.insert("hidden_size".into(), json!(hidden));
                m.insert("num_attention_heads".into(), json!(heads));
                m.insert("num_key_value_heads".into(), json!(kv));
                m.insert("head_dim".into(), json!(head_dim));
                m.insert("num_hidden_layers".into(), json!(layers));
                m.insert("vocab_size".into(), json!(vocab));
                m.insert("intermediate_size".into(), json!(mlp));
                // Keys that mark layers only some families read (others refuse them).
                let family = Family::lookup(model_type).unwrap();
                let foreign =
                    |k: &str| FEATURE_KEYS.contains(&k) && !family.feature_keys.contains(&k);
                for (k, v) in other {
                    if let (Some(v), false) = (v, foreign(k)) {
                        m.insert(k.into(), json!(v));
                    }
                }
                Value::Object(m)
            },
        )
}

fn precision() -> impl Strategy<Value = Option<Precision>> {
    proptest::option::of(proptest::sample::select(Precision::ALL.to_vec()))
}

fn inference() -> impl Strategy<Value = InferenceRequest> {
    (
        edgy(limits::MAX_BATCH_SIZE),
        edgy(limits::MAX_SEQUENCE_LENGTH),
        edgy(limits::MAX_NEW_TOKENS),
        // Edges, and the powers of two tensor parallelism is mostly run on.
        prop_oneof![edgy(64), (0..=6u32).prop_map(|k| 1u64 << k)],
        precision(),
        precision(),
        any::<bool>(),
        proptest::option::of((1u64..=1 << 44, 0.05f64..=1.0)),
    )
        .prop_map(|(b, s, n, gpus, p, kv, flash, vllm)| {
            let mut r = InferenceRequest::new(b, s);
            r.max_new_tokens = n;
            r.num_gpus = gpus;
            r.precision = p;
            r.kv_cache_precision = kv;
            r.use_flash_attention = flash;
            if let Some((memory, u)) = vllm {
                let mut settings = VllmSettings::new(Bytes(memory));
                settings.gpu_memory_utilization = u;
                r.engine = Engine::Vllm(settings);
            }
            r
        })
}

fn training() -> impl Strategy<Value = TrainingRequest> {
    (
        edgy(limits::MAX_BATCH_SIZE),
        edgy(limits::MAX_SEQUENCE_LENGTH),
        edgy(64),
        proptest::sample::select(Method::ALL.to_vec()),
        proptest::sample::select(calculator::Optimizer::ALL.to_vec()),
        0..=3u8,
        any::<bool>(),
        edgy(limits::MAX_LORA_RANK),
        (
            proptest::option::of(proptest::sample::select(Framework::ALL.to_vec())),
            proptest::sample::select(Offload::ALL.to_vec()),
            proptest::sample::select(Offload::ALL.to_vec()),
            proptest::sample::select(Loss::ALL.to_vec()),
            proptest::option::of(proptest::sample::select(FsdpSharding::ALL.to_vec())),
        ),
    )
        .prop_map(
            |(b, s, gpus, method, optimizer, zero, ckpt, rank, (fw, oo, op, loss, fsdp))| {
                let mut r = TrainingRequest::new(b, s);
                r.num_gpus = gpus;
                r.method = method;
                r.optimizer = optimizer;
                r.zero_stage = zero;
                r.gradient_checkpointing = ckpt;
                r.lora_rank = rank;
                r.framework = fw;
                r.offload_optimizer = oo;
                r.offload_parameters = op;
                r.loss = loss;
                r.fsdp_sharding = fsdp;
                r
            },
        )
}

/// A field error names a request field or a config key; anything else is one of the
/// size refusals.
fn check_error(err: &CalcError) {
    match err {
        CalcError::InvalidField { field, message } => {
            assert!(!field.is_empty() && !message.is_empty())
        }
        CalcError::TooLarge | CalcError::WeightsTooLarge => {}
        CalcError::UnknownModel { .. } => panic!("no names here"),
    }
}

fn inference_parts(e: &InferenceEstimate) -> u128 {
    [
        e.model_weights,
        e.kv_cache,
        e.activation_memory,
        e.runtime_overhead,
    ]
    .iter()
    .map(|b| b.0 as u128)
    .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn inference_never_panics_and_adds_up(config in config(), req in inference()) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        match estimate_inference(&model, &req) {
            Ok(e) => {
                prop_assert!(e.inference_memory.0 <= limits::MAX_REPORTED_BYTES);
                prop_assert_eq!(inference_parts(&e), e.inference_memory.0 as u128);
                prop_assert_eq!(e.cache_by_kind.total(), e.kv_cache.0 as u128);
            }
            Err(err) => check_error(&err),
        }
    }

    #[test]
    fn training_never_panics_and_adds_up(config in config(), req in training()) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        match estimate_training(&model, &req) {
            Ok(e) => {
                prop_assert!(e.training_memory.0 <= limits::MAX_REPORTED_BYTES);
                let parts = [e.model_weights, e.gradients_memory, e.optimizer_memory,
                    e.activation_memory, e.runtime_overhead];
                let sum: u128 = parts.iter().map(|b| b.0 as u128).sum();
                prop_assert_eq!(sum, e.training_memory.0 as u128);
            }
            Err(err) => check_error(&err),
        }
    }

    #[test]
    fn weights_too_large_is_the_models_fault_alone(config in config(), req in inference()) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        let mut smallest = req.clone();
        smallest.batch_size = 1;
        smallest.sequence_length = 1;
        smallest.max_new_tokens = 0;
        let small = estimate_inference(&model, &smallest);
        let full = estimate_inference(&model, &req);
        if matches!(small, Err(CalcError::WeightsTooLarge)) {
            prop_assert!(
                matches!(full, Err(CalcError::WeightsTooLarge | CalcError::InvalidField { .. })),
                "the weights alone were too large, yet: {:?}", full.map(|e| e.inference_memory)
            );
        }
        if small.is_ok() {
            prop_assert!(!matches!(full, Err(CalcError::WeightsTooLarge)), "blamed the model for the workload");
        }
    }

    #[test]
    fn inference_is_monotone(config in config(), req in inference(), field in 0..3usize) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        let mut req = req;
        req.engine = Engine::Transformers;
        let Ok(before) = estimate_inference(&model, &req) else { return Ok(()) };
        let mut more = req.clone();
        match field {
            0 => more.batch_size += 1,
            1 => more.sequence_length += 1,
            _ => more.max_new_tokens += 1,
        }
        match estimate_inference(&model, &more) {
            Ok(after) => prop_assert!(after.inference_memory >= before.inference_memory),
            Err(err) => prop_assert!(
                matches!(err, CalcError::TooLarge | CalcError::InvalidField { .. }),
                "{err}"
            ),
        }
    }

    #[test]
    fn training_is_monotone(config in config(), req in training(), longer in any::<bool>()) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        let Ok(before) = estimate_training(&model, &req) else { return Ok(()) };
        let mut more = req.clone();
        if longer { more.sequence_length += 1 } else { more.batch_size += 1 }
        match estimate_training(&model, &more) {
            Ok(after) => prop_assert!(after.training_memory >= before.training_memory),
            Err(err) => prop_assert!(
                matches!(err, CalcError::TooLarge | CalcError::InvalidField { .. }),
                "{err}"
            ),
        }
    }

    #[test]
    fn more_bytes_per_value_never_take_less(config in config(), req in inference()) {
        let Ok(model) = Model::from_config(&config) else { return Ok(()) };
        let mut req = req;
        req.engine = Engine::Transformers;
        req.kv_cache_precision = None;
        // Unquantized weights, widest first: weights and KV cache shrink with them.
        let mut last: Option<u64> = None;
        for p in [Precision::Float32, Precision::Float16] {
            req.precision = Some(p);
            req.quantization = None;
            if let Ok(e) = estimate_inference(&model, &req) {
                let w = e.model_weights.0 + e.kv_cache.0;
                if let Some(prev) = last {
                    prop_assert!(w <= prev);
                }
                last = Some(w);
            }
        }
        // Quantized linears: 8 bits never take less than 4.
        let mut weights = Vec::new();
        for p in [Precision::Int8, Precision::Int4] {
            req.precision = Some(p);
            if let Ok(e) = estimate_inference(&model, &req) {
                weights.push(e.model_weights.0);
            }
        }
        if let [int8, int4] = weights[..] {
            prop_assert!(int8 >= int4);
        }
    }
}

/// The reviewer's reproduction: a Mixtral-shaped config at the limits used to overflow
/// (a 500). Its model is now refused when read, naming the config.
#[test]
fn the_overflowing_mixtral_is_refused_by_name() {
    let config = json!({"model_type": "mixtral", "hidden_size": 1048576,
        "num_hidden_layers": 16384, "num_attention_heads": 8, "num_key_value_heads": 8,
        "intermediate_size": 16777216, "vocab_size": 100, "num_local_experts": 65536,
        "num_experts_per_tok": 2});
    match Model::from_config(&config) {
        Err(CalcError::InvalidField { field, message }) => {
            assert_eq!(field, "config");
            assert!(message.contains("parameters"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Weights that fit no answer are the model's fault: about 2^52.8 parameters (within
/// the 2^54 a model may have) in fp32 take 2^54.8 bytes, over the 2^53 an answer
/// reports, whatever the workload.
#[test]
fn weights_beyond_the_limit_blame_the_model() {
    let config = json!({"model_type": "llama", "hidden_size": 1048576,
        "num_hidden_layers": 256, "num_attention_heads": 8, "intermediate_size": 4194304,
        "vocab_size": 100, "torch_dtype": "float32"});
    let model = Model::from_config(&config).unwrap();
    assert!(model.params.total > 1 << 51);
    let e = estimate_inference(&model, &InferenceRequest::new(1, 1));
    assert!(matches!(e, Err(CalcError::WeightsTooLarge)), "{e:?}");
    let mut r = TrainingRequest::new(1, 1);
    r.method = Method::Full;
    assert!(matches!(
        estimate_training(&model, &r),
        Err(CalcError::WeightsTooLarge)
    ));
}

/// The generator reaches the calculation: a good share of its configs are models, and
/// of those a good share of requests are answered (the properties above skip the
/// rest).
#[test]
fn the_generators_reach_the_calculation() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut models, mut answered) = (0, 0);
    for _ in 0..2000 {
        let c = config().new_tree(&mut runner).unwrap().current();
        let r = inference().new_tree(&mut runner).unwrap().current();
        if let Ok(m) = Model::from_config(&c) {
            models += 1;
            answered += usize::from(estimate_inference(&m, &r).is_ok());
        }
    }
    assert!(models >= 400, "{models} of 2000 configs are models");
    assert!(answered >= 100, "{answered} of {models} requests answered");
}
