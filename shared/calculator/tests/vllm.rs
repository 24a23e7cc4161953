//! The `vllm` engine's arithmetic, rule by rule (methodology §10): defaults, budget,
//! profile peak, allowances, blocks, capacity, refusals, warnings, the settings it
//! refuses and the longest context a start-up holds. `vllm_pool.rs` has the pools of
//! models that are not uniform; `vllm_startup.rs` compares with published logs.

use calculator::{
    estimate_inference, limits, max_sequence_length_vllm, serve_batch_defaults, Bytes, CalcError,
    Choice, Engine, EngineKind, ExplicitModel, InferenceRequest, Logits, Model, Precision,
    VllmSettings, VllmVersion, BLOCK_SIZE, CUDA_CONTEXT_BYTES, DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_VLLM_VERSION,
};
use testkit::models::{capacity, registry_model, vllm, vllm_on, vllm_settings, GIB, MIB};

#[test]
fn names_of_engines_and_logits() {
    assert_eq!(Engine::Transformers.name(), "transformers");
    assert_eq!(Engine::Vllm(vllm_settings(80, None)).name(), "vllm");
    assert_eq!(EngineKind::names(), ["transformers", "vllm"]);
    assert_eq!((Logits::Last.name(), Logits::All.name()), ("last", "all"));
    assert_eq!(Logits::parse(" ALL "), Some(Logits::All));
    assert_eq!(Logits::parse("first"), None);
}

#[test]
fn serve_defaults_follow_memory_and_exclude_a100s() {
    let big = |gib: u64, name| serve_batch_defaults(Bytes(gib * GIB), name);
    assert_eq!(big(70, None).0, 8192);
    assert_eq!((big(70, None).0, big(70, None).1), (8192, 1024));
    assert_eq!(big(69, None).0, 2048);
    assert_eq!(
        (
            big(80, Some("NVIDIA A100 80GB")).0,
            big(80, Some("nvidia a100")).1
        ),
        (2048, 256)
    );
    assert_eq!(big(80, Some("NVIDIA H100 SXM 80GB")).0, 8192);
    assert_eq!(DEFAULT_GPU_MEMORY_UTILIZATION, 0.9);
}

#[test]
fn versions_by_name_and_release() {
    assert_eq!(VllmVersion::names(), ["0.11-0.20", "0.21+"]);
    assert_eq!(DEFAULT_VLLM_VERSION, VllmVersion::From021);
    for (text, want) in [
        ("0.19.0", Some(VllmVersion::Upto020)),
        ("v0.11", Some(VllmVersion::Upto020)),
        ("0.20.2", Some(VllmVersion::Upto020)),
        ("0.21.0", Some(VllmVersion::From021)),
        ("0.27.1", Some(VllmVersion::From021)),
        ("1.0", Some(VllmVersion::From021)),
        ("0.10.2", None),
        ("0.9/0.10", None),
        ("latest", None),
        ("0.11_0.20", Some(VllmVersion::Upto020)),
    ] {
        assert_eq!(VllmVersion::parse(text), want, "{text}");
    }
    assert_eq!(VllmSettings::new(Bytes(GIB)).gpu_memory_utilization, 0.92);
    assert_eq!(
        VllmSettings::of_version(Bytes(GIB), VllmVersion::Upto020).gpu_memory_utilization,
        0.9
    );
}

#[test]
fn from_v0_21_the_graphs_come_out_of_a_larger_budget() {
    let m = registry_model("Llama-3.1-8B");
    let old = vllm(
        m,
        8192,
        VllmSettings::of_version(Bytes(80 * GIB), VllmVersion::Upto020),
        |_| {},
    );
    let new = vllm(m, 8192, vllm_settings(80, None), |_| {});
    let (o, n) = (capacity(&old), capacity(&new));
    // ceil(0.92 x 80 GiB), and the graphs' allowance inside it.
    assert_eq!(
        n.requested_memory.0,
        (80.0 * GIB as f64 * 0.92).ceil() as u64
    );
    assert!(n.cuda_graphs_in_budget && !o.cuda_graphs_in_budget);
    assert_eq!(n.non_kv_memory.0, o.non_kv_memory.0 + n.cuda_graph_memory.0);
    assert_eq!(
        n.available_kv_cache_memory.0,
        n.requested_memory.0 - n.non_kv_memory.0
    );
    // Only the context stays outside; the headroom is 8 % of the GPU.
    assert_eq!(n.outside_budget.0, CUDA_CONTEXT_BYTES);
    assert_eq!(
        o.outside_budget.0,
        CUDA_CONTEXT_BYTES + o.cuda_graph_memory.0
    );
    // 0.02 x 80 GiB more budget, 1 GiB of graphs out of it: a larger pool here.
    assert!(n.available_kv_cache_memory > o.available_kv_cache_memory);
    // Without graphs nothing moves into the budget.
    let mut eager = vllm_settings(80, None);
    eager.enforce_eager = true;
    let e = vllm(m, 8192, eager, |_| {});
    assert!(!capacity(&e).cuda_graphs_in_budget);
    assert_eq!(capacity(&e).non_kv_memory.0, o.non_kv_memory.0);
}

#[test]
fn the_budget_and_what_the_profile_takes_out_of_it() {
    let m = registry_model("Llama-3.1-8B");
    let v019 = || VllmSettings::of_version(Bytes(80 * GIB), VllmVersion::Upto020);
    let e = vllm(m, 8192, v019(), |_| {});
    let c = capacity(&e);
    // ceil(0.9 x 80 GiB).
    assert_eq!(
        c.requested_memory.0,
        (80.0 * GIB as f64 * 0.9).ceil() as u64
    );
    assert_eq!((c.max_num_batched_tokens, c.max_num_seqs), (8192, 1024));
    assert_eq!(c.non_torch_memory.0, 256 * MIB);
    assert_eq!(c.cuda_graph_memory.0, 32 * 32 * MIB);
    assert_eq!(
        c.non_kv_memory.0,
        e.model_weights.0 + c.profile_peak.0 + c.non_torch_memory.0
    );
    assert_eq!(
        c.available_kv_cache_memory.0,
        c.requested_memory.0 - c.non_kv_memory.0
    );
    // The sampler warm-up on 1024 rows dominates the peak: 1024 x 128,256 x (2 + 12)
    // bytes, with the residual stream of 8192 tokens (2 x 8192 x 4096 x 2) and the final
    // norm's output (8192 x 4096 x 2).
    let sampler = 1024 * 128_256 * 14;
    assert_eq!(
        c.profile_peak.0,
        sampler + 2 * 8192 * 4096 * 2 + 8192 * 4096 * 2
    );
    // The answer's components add up to what nvidia-smi shows.
    assert_eq!(e.activation_memory, c.profile_peak);
    assert_eq!(e.kv_cache, c.kv_cache_bytes);
    assert_eq!(
        e.runtime_overhead.0,
        CUDA_CONTEXT_BYTES + c.non_torch_memory.0 + c.cuda_graph_memory.0
    );
    // Under tensor parallelism NCCL's buffers join the non-torch memory.
    let tp2 = vllm(m, 8192, v019(), |r| r.num_gpus = 2);
    assert_eq!(capacity(&tp2).non_torch_memory.0, 2200 * MIB);
    // Eager mode captures no graphs.
    let mut eager = v019();
    eager.enforce_eager = true;
    assert_eq!(
        capacity(&vllm(m, 8192, eager, |_| {})).cuda_graph_memory.0,
        0
    );
}

#[test]
fn blocks_tokens_and_concurrency_of_a_uniform_model() {
    let e = vllm_on("Llama-3.1-8B", 16_384, 80);
    let c = capacity(&e);
    // 32 layers x 8 heads x 128 x 2 x 2 bytes x 16 tokens per block.
    let page_all_layers = 32 * 8 * 128 * 2 * 2 * BLOCK_SIZE;
    assert_eq!(c.block_size, BLOCK_SIZE);
    assert_eq!(
        c.num_blocks,
        c.available_kv_cache_memory.0 / page_all_layers
    );
    assert_eq!(c.kv_cache_tokens, c.num_blocks * 16);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page_all_layers);
    assert_eq!(c.max_concurrency, c.num_blocks as f64 / 1024.0);
    assert_eq!(c.max_sequences, (c.num_blocks / 1024).min(c.max_num_seqs));
    assert_eq!(c.request_kv_bytes.0, 1024 * page_all_layers);
    assert!(c.starts());
    // A small max_num_seqs caps whole requests, not the printed concurrency.
    let mut few = vllm_settings(80, None);
    few.max_num_seqs = Some(3);
    let c = capacity(&vllm(registry_model("Llama-3.1-8B"), 16_384, few, |_| {})).clone();
    assert_eq!(c.max_sequences, 3);
    assert!(c.max_concurrency > 3.0);
}

#[test]
fn a_max_model_len_past_the_models_context_is_refused() {
    // Qwen3-0.6B's context is 40,960 tokens.
    let e = vllm_on("Qwen3-0.6B", 40_961, 80);
    let why = capacity(&e).refusal.clone().unwrap();
    assert!(
        why.starts_with("max_model_len 40961 is longer than the model's context"),
        "{why}"
    );
    assert!(capacity(&vllm_on("Qwen3-0.6B", 40_960, 80)).starts());
}

#[test]
fn refusals_say_why() {
    // Llama-3.1-70B on one 80 GiB GPU: the weights alone overfill the budget.
    let e = vllm_on("Llama-3.1-70B", 8192, 80);
    let c = capacity(&e);
    assert!(!c.starts());
    assert!(c
        .refusal
        .as_deref()
        .unwrap()
        .starts_with("no memory is left"));
    assert!(c.budget_shortfall.0 > 0 && c.available_kv_cache_memory.0 == 0);
    assert!(e
        .warnings
        .iter()
        .any(|w| w.message.starts_with("vLLM would not start: no memory")));
    // Llama-3.1-8B on 24 GiB holds some KV cache, but not one request of 131,072 tokens.
    let e = vllm_on("Llama-3.1-8B", 131_072, 24);
    let c = capacity(&e);
    assert!(c
        .refusal
        .as_deref()
        .unwrap()
        .starts_with("one request of max_model_len 131072"));
    assert!(c.request_kv_bytes > c.available_kv_cache_memory);
    assert_eq!(c.budget_shortfall.0, 0);
}

#[test]
fn refusal_messages_carry_the_numbers_in_the_answers_unit() {
    let e = vllm_on("Llama-3.1-70B", 8192, 80);
    let c = capacity(&e);
    // The request's unit (GB unless asked), as every size of the answer.
    let gb = |b: calculator::Bytes| b.format(calculator::Unit::Gb);
    assert_eq!(
        c.refusal.as_deref().unwrap(),
        format!(
            "no memory is left for the KV cache: weights, the profile run's peak, non-torch memory and (from vLLM 0.21) the CUDA graphs' estimate need {} of the {} budget (gpu_memory_utilization x total)",
            gb(c.non_kv_memory),
            gb(c.requested_memory)
        )
    );
    let e = vllm_on("Llama-3.1-8B", 131_072, 24);
    let c = capacity(&e);
    assert_eq!(
        c.refusal.as_deref().unwrap(),
        format!(
            "one request of max_model_len 131072 tokens needs {} of KV cache, more than the {} available",
            gb(c.request_kv_bytes),
            gb(c.available_kv_cache_memory)
        )
    );
}

#[test]
fn warnings_for_ignored_fields_queues_and_thin_headroom() {
    let m = registry_model("Qwen3-0.6B");
    let plain = vllm(m, 4096, vllm_settings(24, None), |_| {});
    assert!(plain
        .warnings
        .iter()
        .all(|w| !w.message.contains("use_flash_attention")));
    let e = vllm(m, 4096, vllm_settings(24, None), |r| {
        r.use_flash_attention = false
    });
    assert!(e
        .warnings
        .iter()
        .any(|w| w.message.contains("use_flash_attention and logits apply")));
    let e = vllm(m, 4096, vllm_settings(24, None), |r| r.logits = Logits::All);
    assert!(e
        .warnings
        .iter()
        .any(|w| w.message.contains("use_flash_attention and logits apply")));
    // More sequences than the pool holds wait in the queue.
    let c = capacity(&plain).clone();
    let exact = vllm(m, 4096, vllm_settings(24, None), |r| {
        r.batch_size = c.max_sequences
    });
    assert!(exact
        .warnings
        .iter()
        .all(|w| !w.message.contains("wait in vLLM's queue")));
    let over = vllm(m, 4096, vllm_settings(24, None), |r| {
        r.batch_size = c.max_sequences + 1
    });
    assert!(over
        .warnings
        .iter()
        .any(|w| w.message.contains("the other 1 of batch_size")));
    // At utilization 1.0 nothing is left for the context and the graphs.
    let mut full = vllm_settings(24, None);
    full.gpu_memory_utilization = 1.0;
    let e = vllm(m, 4096, full, |_| {});
    assert!(e
        .warnings
        .iter()
        .any(|w| w.message.contains("live outside the budget")));
    assert!(plain
        .warnings
        .iter()
        .all(|w| !w.message.contains("live outside the budget")));
}

#[test]
fn which_default_chose_the_batch_is_said_only_when_one_did() {
    let m = registry_model("Qwen3-0.6B");
    let said = |tokens: Option<u64>, seqs: Option<u64>| {
        let mut s = vllm_settings(80, None);
        s.max_num_batched_tokens = tokens;
        s.max_num_seqs = seqs;
        capacity(&vllm(m, 4096, s, |_| {})).batch_defaults.is_some()
    };
    assert!(said(None, None) && said(Some(4096), None) && said(None, Some(64)));
    assert!(!said(Some(4096), Some(64)));
    // A defaulted step never exceeds what max_num_seqs requests could fill.
    let mut s = vllm_settings(80, None);
    s.max_num_seqs = Some(2);
    let c = capacity(&vllm(m, 100, s, |_| {})).clone();
    assert_eq!((c.max_num_batched_tokens, c.max_num_seqs), (200, 2));
}

#[test]
fn settings_vllm_cannot_run_are_field_errors() {
    let m = registry_model("Qwen3-0.6B");
    let run = |edit: &dyn Fn(&mut InferenceRequest, &mut VllmSettings)| {
        let mut r = InferenceRequest::new(1, 128);
        let mut s = vllm_settings(24, None);
        edit(&mut r, &mut s);
        r.engine = Engine::Vllm(s);
        estimate_inference(m, &r).err().map(|e| match e {
            CalcError::InvalidField { field, .. } => field,
            other => format!("{other:?}"),
        })
    };
    assert_eq!(
        run(&|_, s| {
            s.max_num_batched_tokens = Some(8);
            s.max_num_seqs = Some(9)
        }),
        Some("max_num_seqs".into())
    );
    // A given max_num_seqs above the defaulted step (2048 on a 24 GiB GPU) is refused too.
    assert_eq!(
        run(&|_, s| s.max_num_seqs = Some(4096)),
        Some("max_num_seqs".into())
    );
    assert_eq!(
        run(&|_, s| {
            s.max_num_batched_tokens = Some(9);
            s.max_num_seqs = Some(9)
        }),
        None
    );
    assert_eq!(
        run(&|r, _| r.kv_cache_precision = Some(Precision::Int8)),
        Some("kv_cache_precision".into())
    );
    assert_eq!(
        run(&|r, _| r.kv_cache_precision = Some(Precision::Float8)),
        None
    );
    assert_eq!(
        run(&|_, s| s.gpu_memory_utilization = 0.0),
        Some("gpu_memory_utilization".into())
    );
    assert_eq!(run(&|_, s| s.gpu_memory_utilization = 1.0), None);
    assert_eq!(
        run(&|_, s| s.gpu_memory = Bytes(0)),
        Some("gpu_memory".into())
    );
    assert_eq!(
        run(&|_, s| s.max_num_seqs = Some(0)),
        Some("max_num_seqs".into())
    );
    assert_eq!(
        run(&|_, s| s.max_num_batched_tokens = Some(limits::MAX_SEQUENCE_LENGTH + 1)),
        Some("max_num_batched_tokens".into())
    );
}

#[test]
fn vllm_splits_or_replicates_whole_kv_heads() {
    // 12 query heads, 6 key/value heads: 4 GPUs split the queries but neither divide
    // nor are a multiple of the key/value heads.
    let explicit = ExplicitModel {
        hidden_size: 768,
        num_hidden_layers: 2,
        num_attention_heads: 12,
        num_key_value_heads: Some(6),
        vocab_size: Some(1000),
        ..ExplicitModel::default()
    };
    let m = Model::from_explicit(&explicit).unwrap();
    let mut r = InferenceRequest::new(1, 128);
    r.num_gpus = 4;
    assert!(
        estimate_inference(&m, &r).is_ok(),
        "transformers replicates"
    );
    r.engine = Engine::Vllm(vllm_settings(24, None));
    let err = estimate_inference(&m, &r).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("num_gpus: vLLM splits or replicates"),
        "{err}"
    );
    r.num_gpus = 12;
    assert!(estimate_inference(&m, &r).is_ok(), "12 is a multiple of 6");
    r.num_gpus = 3;
    assert!(estimate_inference(&m, &r).is_ok(), "3 divides 6");
}

#[test]
fn the_longest_context_a_start_up_holds() {
    let m = registry_model("Llama-3.1-8B");
    let mut r = InferenceRequest::new(4, 1);
    r.max_new_tokens = 512;
    r.engine = Engine::Vllm(vllm_settings(24, None));
    let longest = max_sequence_length_vllm(m, &r).unwrap().unwrap();
    let at = |len: u64| {
        let mut q = r.clone();
        q.sequence_length = len;
        capacity(&estimate_inference(m, &q).unwrap()).clone()
    };
    let c = at(longest);
    assert!(c.starts() && c.max_sequences >= 4);
    let c = at(longest + 1);
    assert!(!c.starts() || c.max_sequences < 4);
    // Never past the model's own context, less the tokens generated after the prompt.
    let mut big = r.clone();
    big.engine = Engine::Vllm(vllm_settings(1024, None));
    assert_eq!(
        max_sequence_length_vllm(m, &big).unwrap(),
        Some(131_072 - 512)
    );
    big.max_new_tokens = 131_072;
    assert_eq!(max_sequence_length_vllm(m, &big).unwrap(), None);
    // Nothing fits on a GPU smaller than the weights.
    let mut tiny = r.clone();
    tiny.engine = Engine::Vllm(vllm_settings(8, None));
    assert_eq!(max_sequence_length_vllm(m, &tiny).unwrap(), None);
}

#[test]
fn expert_parallelism_keeps_experts_whole() {
    let qwen = calculator::resolve_name("Qwen/Qwen3-235B-A22B-FP8")
        .unwrap()
        .model;
    let on = |expert_parallel: bool, dp: u64, tp: u64| {
        let mut s = vllm_settings(80, Some("NVIDIA H100 SXM 80GB"));
        s.expert_parallel = expert_parallel;
        s.data_parallel_size = dp;
        let mut r = InferenceRequest::new(1, 4096);
        r.num_gpus = tp;
        r.engine = Engine::Vllm(s);
        estimate_inference(&qwen, &r)
    };
    // TP 8 splits the 1536-wide FP8 experts into 192: refused; whole experts are not.
    let err = on(false, 1, 8).unwrap_err();
    assert!(matches!(&err, CalcError::InvalidField { field, .. } if field == "num_gpus"));
    let ep = on(true, 1, 8).unwrap();
    let tp4 = on(false, 1, 4).unwrap();
    // 128 experts over 8 GPUs, 16 each: the same bytes as an eighth of every expert.
    let ratio = ep.model_weights.0 as f64 * 2.0 / tp4.model_weights.0 as f64;
    assert!((ratio - 1.0).abs() < 0.001, "{ratio}");
    assert!(ep
        .warnings
        .iter()
        .any(|w| w.code == calculator::WarningCode::ExpertParallelUnvalidated));
    // Data-parallel attention: each rank holds all of attention, a share of the experts.
    let dp8 = on(true, 8, 1).unwrap();
    let all = estimate_inference(&qwen, &InferenceRequest::new(1, 4096))
        .unwrap()
        .model_weights
        .0;
    let experts = calculator::routed_expert_bytes(&qwen, &ep.weight_format) as u64;
    assert_eq!(dp8.model_weights.0, all - experts + experts / 8);
}

#[test]
fn expert_parallelism_needs_experts_and_bounded_ranks() {
    let m = registry_model("Llama-3.1-8B");
    let mut s = vllm_settings(80, None);
    s.expert_parallel = true;
    let mut r = InferenceRequest::new(1, 4096);
    r.engine = Engine::Vllm(s.clone());
    let err = estimate_inference(m, &r).unwrap_err();
    assert!(matches!(&err, CalcError::InvalidField { field, .. } if field == "expert_parallel"));
    s.expert_parallel = false;
    s.data_parallel_size = 0;
    r.engine = Engine::Vllm(s.clone());
    let err = estimate_inference(m, &r).unwrap_err();
    assert!(matches!(&err, CalcError::InvalidField { field, .. } if field == "data_parallel_size"));
    s.data_parallel_size = 1 << 16;
    r.num_gpus = 2;
    r.engine = Engine::Vllm(s);
    let err = estimate_inference(m, &r).unwrap_err();
    assert!(matches!(&err, CalcError::InvalidField { field, .. } if field == "data_parallel_size"));
}

#[test]
fn pipeline_stages_split_the_layers_and_the_pool() {
    // Llama-3.1-405B in bf16 over two nodes of eight H100s: TP 8 within a node, two
    // stages of 63 layers, each with one of the two 128,256 x 16,384 vocabulary
    // matrices.
    let m = registry_model("Llama-3.1-405B");
    let run = |pp: u64| {
        let mut s = vllm_settings(80, Some("NVIDIA H100 SXM 80GB"));
        s.pipeline_parallel_size = pp;
        let mut r = InferenceRequest::new(1, 8192);
        r.num_gpus = 8;
        r.engine = Engine::Vllm(s);
        estimate_inference(m, &r)
    };
    let e = run(2).unwrap();
    let c = capacity(&e);
    assert!(c.starts(), "{:?}", c.refusal);
    let layer_bytes = (m.params.total - 2 * m.params.embedding_matrix) * 2;
    let stage = layer_bytes / 2 + m.params.embedding_matrix * 2;
    // The final norm's 16,384 weights are the only other difference.
    let got = e.model_weights.0 as u128;
    assert!(
        got.abs_diff(stage.div_ceil(8)) <= 16_384 * 2,
        "{got} vs {}",
        stage.div_ceil(8)
    );
    // One stage: the whole model on each GPU group of eight does not leave a pool.
    let one = run(1).unwrap();
    assert!(!capacity(&one).starts());
    // Too many stages, and stages of models the pool is not modelled for, are refused.
    let err = run(127).unwrap_err();
    assert!(
        matches!(&err, CalcError::InvalidField { field, .. } if field == "pipeline_parallel_size")
    );
    let gemma = registry_model("gemma-2-9b-it");
    let mut s = vllm_settings(80, None);
    s.pipeline_parallel_size = 2;
    let mut r = InferenceRequest::new(1, 4096);
    r.engine = Engine::Vllm(s);
    let err = estimate_inference(gemma, &r).unwrap_err();
    assert!(
        matches!(&err, CalcError::InvalidField { field, .. } if field == "pipeline_parallel_size")
    );
}
