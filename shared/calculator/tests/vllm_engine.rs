//! The `vllm` engine's arithmetic, term by term (methodology §10): budget, defaults,
//! profile peak, allowances, blocks and groups, capacity, refusals, warnings, and the
//! longest context a start-up holds. `vllm_startup.rs` compares the same model with
//! published logs; these tests pin each rule.

use calculator::vllm::{
    serve_batch_defaults, BLOCK_SIZE, DEFAULT_GPU_MEMORY_UTILIZATION, MLA_BLOCK_SIZE,
};
use calculator::{
    estimate_inference, limits, max_sequence_length_vllm, registry, Bytes, CalcError, Engine,
    ExplicitModel, InferenceEstimate, InferenceRequest, Logits, Model, Precision, VllmCapacity,
    VllmSettings, CUDA_CONTEXT_BYTES,
};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn model(name: &str) -> &'static Model {
    &registry::lookup(name).unwrap().model
}

fn settings(gib: u64, name: Option<&str>) -> VllmSettings {
    let mut s = VllmSettings::new(Bytes(gib * GIB));
    s.gpu_name = name.map(str::to_owned);
    s
}

fn vllm(
    model: &Model,
    len: u64,
    s: VllmSettings,
    edit: impl FnOnce(&mut InferenceRequest),
) -> InferenceEstimate {
    let mut r = InferenceRequest::new(1, len);
    r.engine = Engine::Vllm(s);
    edit(&mut r);
    estimate_inference(model, &r).unwrap()
}

fn capacity(e: &InferenceEstimate) -> &VllmCapacity {
    e.vllm.as_ref().unwrap()
}

#[test]
fn names_of_engines_and_logits() {
    assert_eq!(Engine::Transformers.name(), "transformers");
    assert_eq!(Engine::Vllm(settings(80, None)).name(), "vllm");
    assert_eq!(Engine::NAMES, ["transformers", "vllm"]);
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
fn the_budget_and_what_the_profile_takes_out_of_it() {
    let m = model("Llama-3.1-8B");
    let e = vllm(m, 8192, settings(80, None), |_| {});
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
    let tp2 = vllm(m, 8192, settings(80, None), |r| r.num_gpus = 2);
    assert_eq!(capacity(&tp2).non_torch_memory.0, 2200 * MIB);
    // Eager mode captures no graphs.
    let mut eager = settings(80, None);
    eager.enforce_eager = true;
    assert_eq!(
        capacity(&vllm(m, 8192, eager, |_| {})).cuda_graph_memory.0,
        0
    );
}

#[test]
fn blocks_tokens_and_concurrency_of_a_uniform_model() {
    let e = vllm(model("Llama-3.1-8B"), 16_384, settings(80, None), |_| {});
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
    let mut few = settings(80, None);
    few.max_num_seqs = Some(3);
    let c = capacity(&vllm(model("Llama-3.1-8B"), 16_384, few, |_| {})).clone();
    assert_eq!(c.max_sequences, 3);
    assert!(c.max_concurrency > 3.0);
}

#[test]
fn hybrid_models_group_their_layers() {
    // gemma-2-9b: 21 sliding (window 4096) and 21 full layers: groups of 21, two groups.
    let m = model("gemma-2-9b-it");
    let len = 8192;
    let c = capacity(&vllm(m, len, settings(80, None), |_| {})).clone();
    let page = 16 * 8 * 256 * 2 * 2; // one layer's block
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 21);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 2 * 16);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page * 21);
    // Per request: 512 blocks for the full group, min(4095 + 8192, 8192)/16 + 1 for the
    // sliding one.
    assert_eq!(c.max_concurrency, c.num_blocks as f64 / (512.0 + 513.0));
    assert_eq!(c.request_kv_bytes.0, (21 * 512 + 21 * 513) * page);
    // gemma-3-27b: 52 sliding and 10 full layers: groups of 10, seven of them (8
    // padding layers), as vLLM's log warns.
    let m = model("gemma-3-27b-it");
    let c = capacity(&vllm(m, len, settings(80, None), |_| {})).clone();
    let page = 16 * 16 * 128 * 2 * 2;
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 10);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 7 * 16);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page * 10);
    // Window 1024: 1 full group x 512 blocks, 6 sliding groups x (min(1023 + 8192, 8192)
    // / 16 + 1).
    assert_eq!(
        c.max_concurrency,
        c.num_blocks as f64 / (512.0 + 6.0 * 513.0)
    );
}

#[test]
fn layer_groups_of_near_equal_counts_use_the_larger() {
    // 13 full and 11 sliding layers are within 1.5x: groups of 13, one of each kind.
    let explicit = ExplicitModel {
        hidden_size: 256,
        num_hidden_layers: 24,
        num_attention_heads: 4,
        vocab_size: Some(1000),
        ..ExplicitModel::default()
    };
    let mut m = Model::from_explicit(&explicit).unwrap();
    m.arch.sliding_window = Some(128);
    m.arch.sliding_layers = 11;
    let c = capacity(&vllm(&m, 4096, settings(24, None), |_| {})).clone();
    let page = 16 * 4 * 64 * 2 * 2;
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 13);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 2 * 16);
    // 6 full vs 18 sliding: more than 1.5x apart, groups of 6 (one full, three sliding).
    m.arch.sliding_layers = 18;
    let c = capacity(&vllm(&m, 4096, settings(24, None), |_| {})).clone();
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 6);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 4 * 16);
    // A sliding layer keeps its window plus one step and one block.
    assert_eq!(
        c.request_kv_bytes.0,
        // min(window - 1 + step, length) = 2175 tokens: 136 blocks, and one more.
        (6 * 256 + 18 * (2175u64.div_ceil(16) + 1)) * page
    );
}

#[test]
fn mla_caches_the_latent_on_every_gpu_in_blocks_of_64() {
    let m = model("DeepSeek-V3");
    let one = capacity(&vllm(m, 4096, settings(141, None), |r| r.num_gpus = 8)).clone();
    assert_eq!(one.block_size, MLA_BLOCK_SIZE);
    // 61 layers x 576 latent values x 2 bytes x 64 tokens, the same on each of 8 GPUs.
    assert_eq!(one.request_kv_bytes.0, 61 * 576 * 2 * 4096);
    assert_eq!(one.kv_cache_bytes.0 % (61 * 576 * 2 * 64), 0);
    // transformers 5 caches the same latent, replicated too.
    let mut r = InferenceRequest::new(1, 4096);
    r.num_gpus = 8;
    let t = estimate_inference(m, &r).unwrap();
    assert_eq!(t.kv_cache.0, 61 * 576 * 2 * 4096);
}

#[test]
fn a_max_model_len_past_the_models_context_is_refused() {
    // Qwen3-0.6B's context is 40,960 tokens.
    let e = vllm(model("Qwen3-0.6B"), 40_961, settings(80, None), |_| {});
    let why = capacity(&e).refusal.clone().unwrap();
    assert!(
        why.starts_with("max_model_len 40961 is longer than the model's context"),
        "{why}"
    );
    assert!(capacity(&vllm(
        model("Qwen3-0.6B"),
        40_960,
        settings(80, None),
        |_| {}
    ))
    .starts());
}

#[test]
fn refusals_say_why() {
    // Llama-3.1-70B on one 80 GiB GPU: the weights alone overfill the budget.
    let e = vllm(model("Llama-3.1-70B"), 8192, settings(80, None), |_| {});
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
        .any(|w| w.starts_with("vLLM would not start: no memory")));
    // Llama-3.1-8B on 24 GiB holds some KV cache, but not one request of 131,072 tokens.
    let e = vllm(model("Llama-3.1-8B"), 131_072, settings(24, None), |_| {});
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
fn warnings_for_ignored_fields_queues_and_thin_headroom() {
    let m = model("Qwen3-0.6B");
    let plain = vllm(m, 4096, settings(24, None), |_| {});
    assert!(plain
        .warnings
        .iter()
        .all(|w| !w.contains("use_flash_attention")));
    let e = vllm(m, 4096, settings(24, None), |r| {
        r.use_flash_attention = false
    });
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("use_flash_attention and logits apply")));
    let e = vllm(m, 4096, settings(24, None), |r| r.logits = Logits::All);
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("use_flash_attention and logits apply")));
    // More sequences than the pool holds wait in the queue.
    let c = capacity(&plain).clone();
    let exact = vllm(m, 4096, settings(24, None), |r| {
        r.batch_size = c.max_sequences
    });
    assert!(exact
        .warnings
        .iter()
        .all(|w| !w.contains("wait in vLLM's queue")));
    let over = vllm(m, 4096, settings(24, None), |r| {
        r.batch_size = c.max_sequences + 1
    });
    assert!(over
        .warnings
        .iter()
        .any(|w| w.contains("the other 1 of batch_size")));
    // At utilization 1.0 nothing is left for the context and the graphs.
    let mut full = settings(24, None);
    full.gpu_memory_utilization = 1.0;
    let e = vllm(m, 4096, full, |_| {});
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("live outside the budget")));
    assert!(plain
        .warnings
        .iter()
        .all(|w| !w.contains("live outside the budget")));
}

#[test]
fn settings_vllm_cannot_run_are_field_errors() {
    let m = model("Qwen3-0.6B");
    let run = |edit: &dyn Fn(&mut InferenceRequest, &mut VllmSettings)| {
        let mut r = InferenceRequest::new(1, 128);
        let mut s = settings(24, None);
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
    r.engine = Engine::Vllm(settings(24, None));
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
    let m = model("Llama-3.1-8B");
    let mut r = InferenceRequest::new(4, 1);
    r.max_new_tokens = 512;
    r.engine = Engine::Vllm(settings(24, None));
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
    big.engine = Engine::Vllm(settings(1024, None));
    assert_eq!(
        max_sequence_length_vllm(m, &big).unwrap(),
        Some(131_072 - 512)
    );
    big.max_new_tokens = 131_072;
    assert_eq!(max_sequence_length_vllm(m, &big).unwrap(), None);
    // Nothing fits on a GPU smaller than the weights.
    let mut tiny = r.clone();
    tiny.engine = Engine::Vllm(settings(8, None));
    assert_eq!(max_sequence_length_vllm(m, &tiny).unwrap(), None);
}

#[test]
fn which_default_chose_the_batch_is_said_only_when_one_did() {
    let m = model("Qwen3-0.6B");
    let said = |tokens: Option<u64>, seqs: Option<u64>| {
        let mut s = settings(80, None);
        s.max_num_batched_tokens = tokens;
        s.max_num_seqs = seqs;
        capacity(&vllm(m, 4096, s, |_| {})).batch_defaults.is_some()
    };
    assert!(said(None, None) && said(Some(4096), None) && said(None, Some(64)));
    assert!(!said(Some(4096), Some(64)));
    // A defaulted step never exceeds what max_num_seqs requests could fill.
    let mut s = settings(80, None);
    s.max_num_seqs = Some(2);
    let c = capacity(&vllm(m, 100, s, |_| {})).clone();
    assert_eq!((c.max_num_batched_tokens, c.max_num_seqs), (200, 2));
}

#[test]
fn refusal_messages_carry_the_numbers() {
    let e = vllm(model("Llama-3.1-70B"), 8192, settings(80, None), |_| {});
    let c = capacity(&e);
    let gib = |b: u64| b as f64 / GIB as f64;
    assert_eq!(
        c.refusal.as_deref().unwrap(),
        format!(
            "no memory is left for the KV cache: weights, the profile run's peak and non-torch memory need {:.2} GiB of the {:.2} GiB budget (gpu_memory_utilization x total)",
            gib(c.non_kv_memory.0),
            gib(c.requested_memory.0)
        )
    );
    let e = vllm(model("Llama-3.1-8B"), 131_072, settings(24, None), |_| {});
    let c = capacity(&e);
    assert_eq!(
        c.refusal.as_deref().unwrap(),
        format!(
            "one request of max_model_len 131072 tokens needs {:.2} GiB of KV cache, more than the {:.2} GiB available",
            gib(c.request_kv_bytes.0),
            gib(c.available_kv_cache_memory.0)
        )
    );
}

/// Hybrid models (vLLM's `HybridAttentionMambaModelConfig`): one mixer layer's state is
/// a page; the attention block grows in steps of 16 tokens until its page holds it;
/// mixer and attention layers form groups; a request takes one block id per mixer
/// group. Every number of the published logs follows (methodology §10).
#[test]
fn state_mixers_share_the_pool_in_padded_pages() {
    // Qwen3-Next-80B on two H200s (vLLM 0.10.2): a page per layer of 544 tokens x 2 x 1
    // KV head x 256 x 2 bytes, which holds one Gated DeltaNet layer's state (8,192 / 2
    // channels x 3 taps x 2 bytes + 16 heads x 128 x 128 x 2 bytes, padded by 1.49%).
    let m = model("Qwen3-Next-80B-A3B-Instruct");
    let len = 262_144;
    let mut h200 = VllmSettings::new(Bytes((139.81 * GIB as f64) as u64));
    h200.gpu_name = Some("NVIDIA H200".into());
    let c = capacity(&vllm(m, len, h200, |r| r.num_gpus = 2)).clone();
    let page = 544 * 1024;
    assert_eq!(c.block_size, 544);
    // 12 attention and 36 Gated DeltaNet layers: groups of 12, one attention group and
    // three state groups.
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 12);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 4 * 544);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page * 12);
    assert_eq!(c.max_concurrency, c.num_blocks as f64 / 485.0);
    assert_eq!(c.request_kv_bytes.0, (12 * 482 + 36) * page);
    // A GPU whose budget leaves the log's own 44.59 GiB for the pool prints what vLLM
    // printed: 7,162 blocks, 973,760 tokens, 14.77x.
    let mut exact = VllmSettings::new(Bytes(c.non_kv_memory.0 + (44.59 * GIB as f64) as u64));
    exact.gpu_memory_utilization = 1.0;
    exact.gpu_name = Some("NVIDIA H200".into());
    let logged = capacity(&vllm(m, len, exact, |r| r.num_gpus = 2)).clone();
    assert_eq!(logged.num_blocks, 7162);
    assert_eq!(logged.kv_cache_tokens, 973_760);
    assert_eq!((logged.max_concurrency * 100.0).round(), 1477.0);
    // The answer's cache by kind: attention's share of a full request's blocks.
    let e = vllm(m, len, VllmSettings::new(Bytes(141 * GIB)), |r| {
        r.num_gpus = 2
    });
    let kinds = e.cache_by_kind;
    assert_eq!(kinds.total(), e.kv_cache.0 as u128);
    assert_eq!(kinds.attention, kinds.total() * 482 / 485);
    assert_eq!(kinds.state, kinds.total() - kinds.attention);
}

/// The attention block sizes vLLM printed for other hybrids ("Setting attention block
/// size to … tokens"), from their shapes: Qwen3.5 keeps its state in fp32 (its config's
/// `mamba_ssm_dtype`), Nemotron-H in fp32 unless its config says otherwise.
#[test]
fn hybrid_block_sizes_match_the_logs() {
    let block = |config: serde_json::Value, kv: Option<Precision>| {
        let m = Model::from_config(&config).unwrap();
        let e = vllm(&m, 4096, settings(80, None), |r| r.kv_cache_precision = kv);
        capacity(&e).block_size
    };
    let qwen3_5 = |h: u64, l: u64, heads: u64, kv: u64, v_heads: u64| {
        let types: Vec<&str> = (0..l)
            .map(|i| {
                if (i + 1) % 4 == 0 {
                    "full_attention"
                } else {
                    "linear_attention"
                }
            })
            .collect();
        serde_json::json!({"model_type": "qwen3_5_text", "hidden_size": h,
            "num_hidden_layers": l, "intermediate_size": 64, "num_attention_heads": heads,
            "num_key_value_heads": kv, "head_dim": 256, "vocab_size": 248320,
            "linear_num_key_heads": 16, "linear_num_value_heads": v_heads,
            "layer_types": types, "mamba_ssm_dtype": "float32", "torch_dtype": "bfloat16"})
    };
    // Qwen3.5-0.8B (vLLM 0.19.0): 544; Qwen3.5-27B (vLLM 0.19.0, issue #40691): 784.
    assert_eq!(block(qwen3_5(1024, 24, 8, 2, 16), None), 544);
    assert_eq!(block(qwen3_5(5120, 64, 24, 4, 48), None), 784);
    // Nemotron-3-Nano-30B-A3B with an fp8 cache (vLLM 0.19.0): 4176.
    let nano3 = serde_json::json!({"model_type": "nemotron_h", "hidden_size": 2688,
        "num_hidden_layers": 4, "hybrid_override_pattern": "M*EM",
        "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8,
        "conv_kernel": 4, "num_attention_heads": 32, "num_key_value_heads": 2,
        "head_dim": 128, "n_routed_experts": 8, "num_experts_per_tok": 2,
        "moe_intermediate_size": 64, "vocab_size": 1024, "mamba_ssm_cache_dtype": "float32",
        "torch_dtype": "bfloat16"});
    assert_eq!(block(nano3.clone(), Some(Precision::Float8)), 4176);
    // A bf16 state (the config asking for it) halves it.
    let mut bf16 = nano3;
    bf16["mamba_ssm_cache_dtype"] = serde_json::json!("bfloat16");
    assert_eq!(block(bf16, Some(Precision::Float8)), 2128);
}

/// Llama 4's chunked layers hold at most a chunk and a step's tokens in vLLM
/// (`ChunkedLocalAttentionSpec`): 36 chunked and 12 global layers, groups of 12.
#[test]
fn chunked_layers_take_a_chunk_and_a_step() {
    let m = model("Llama-4-Scout-17B-16E-Instruct");
    let len = 32_768;
    let e = vllm(m, len, settings(80, None), |r| r.num_gpus = 8);
    let c = capacity(&e);
    // One KV head per GPU: 16 tokens x 2 x 128 x 2 bytes per layer's block.
    let page = 16 * 2 * 128 * 2;
    let (full, chunked) = (len / 16, (8192 + 8192u64).min(len) / 16);
    assert_eq!(c.request_kv_bytes.0, (12 * full + 36 * chunked) * page);
    assert_eq!(
        c.max_concurrency,
        c.num_blocks as f64 / (full + 3 * chunked) as f64
    );
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 4 * 16);
}

/// DeepSeek-V3.2's pages hold 64 tokens of the latent and of the indexer's keys: in
/// bf16 576 x 2 + 132 bytes per token; with an fp8 cache the sparse kernels' 656 + 132.
#[test]
fn deepseek_v32_pages_hold_the_indexer_keys() {
    let m = model("DeepSeek-V3.2");
    let page = |kv: Option<Precision>| {
        let e = vllm(m, 4096, settings(141, None), |r| {
            r.num_gpus = 8;
            r.kv_cache_precision = kv;
        });
        capacity(&e).request_kv_bytes.0 / (4096 / 64) / 61
    };
    assert_eq!(page(None), 64 * (576 * 2 + 132));
    assert_eq!(page(Some(Precision::Float8)), 64 * (656 + 132));
}

/// vLLM shards Mamba-2's B/C groups over the GPUs, replicating a group that does not
/// divide among them (`extra_groups_for_head_shards`): a one-group model over 2 GPUs
/// keeps both groups' convolution channels, which raises its block.
#[test]
fn mamba_groups_are_replicated_over_more_gpus() {
    let m = Model::from_config(&serde_json::json!({"model_type": "granitemoehybrid",
        "hidden_size": 64, "num_hidden_layers": 2, "layer_types": ["mamba", "attention"],
        "mamba_n_heads": 2, "mamba_d_head": 32, "mamba_expand": 1, "mamba_d_state": 1024,
        "mamba_n_groups": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
        "num_local_experts": 0, "shared_intermediate_size": 64, "vocab_size": 64}))
    .unwrap();
    // Per GPU: (64 + 2 groups x 2 x 1024) / 2 channels x 3 taps x 2 bytes, and one head
    // of 32 x 1024 in bf16: 78,016 bytes; an attention token of one 32-wide KV head is
    // 128. Without the replicated group the state would be 71,872 and the block 576.
    let e = vllm(&m, 4096, settings(80, None), |r| r.num_gpus = 2);
    assert_eq!(capacity(&e).block_size, 16 * 78_016u64.div_ceil(16 * 128));
    assert_eq!(capacity(&e).block_size, 624);
}
