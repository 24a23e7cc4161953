//! vLLM's KV pool for models that are not uniform (methodology §10): windowed and
//! chunked layers in groups, latent caches, indexer keys, and the state pages of
//! linear-attention and state-space layers.

use calculator::{
    estimate_inference, Bytes, Engine, ExplicitModel, InferenceRequest, Model, Precision,
    VllmSettings, VllmVersion, MLA_BLOCK_SIZE,
};
use serde_json::json;
use testkit::configs::{nemotron_nano_9b, three_linear_to_one_full};
use testkit::models::{capacity, field_of, model, registry_model, vllm, vllm_settings, GIB};

#[test]
fn hybrid_models_group_their_layers() {
    // gemma-2-9b: 21 sliding (window 4096) and 21 full layers: groups of 21, two groups.
    let m = registry_model("gemma-2-9b-it");
    let len = 8192;
    let c = capacity(&vllm(m, len, vllm_settings(80, None), |_| {})).clone();
    let page = 16 * 8 * 256 * 2 * 2; // one layer's block
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 21);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 2 * 16);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page * 21);
    // Per request: 512 blocks for the full group, min(4095 + 8192, 8192)/16 + 1 for the
    // sliding one.
    assert_eq!(c.max_concurrency, c.num_blocks as f64 / (512.0 + 513.0));
    assert_eq!(c.request_kv_bytes.0, (21 * 512 + 21 * 513) * page);
    // gemma-3-27b: 52 sliding and 10 full layers: groups of 10, seven of them (8
    // padding layers), as vLLM's log warns
    // (llm-d-incubation/llm-d-planner@d3121e059da88662db39a926a3ead964be97359b
    // accuracy/results/v0.19.0/logs/google-gemma-3-27b-it--h100-80gb--tp1pp1dp1--8192.log).
    let m = registry_model("gemma-3-27b-it");
    let c = capacity(&vllm(m, len, vllm_settings(80, None), |_| {})).clone();
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
    let c = capacity(&vllm(&m, 4096, vllm_settings(24, None), |_| {})).clone();
    let page = 16 * 4 * 64 * 2 * 2;
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 13);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 2 * 16);
    // 6 full vs 18 sliding: more than 1.5x apart, groups of 6 (one full, three sliding).
    m.arch.sliding_layers = 18;
    let c = capacity(&vllm(&m, 4096, vllm_settings(24, None), |_| {})).clone();
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 6);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 4 * 16);
    // A sliding layer keeps its window plus one step and one block.
    assert_eq!(
        c.request_kv_bytes.0,
        // min(window - 1 + step, length) = 2175 tokens: 136 blocks, and one more.
        (6 * 256 + 18 * (2175u64.div_ceil(16) + 1)) * page
    );
}

/// Llama 4's chunked layers hold at most a chunk and a step's tokens in vLLM
/// (`ChunkedLocalAttentionSpec`): 36 chunked and 12 global layers, groups of 12.
#[test]
fn chunked_layers_take_a_chunk_and_a_step() {
    let m = registry_model("Llama-4-Scout-17B-16E-Instruct");
    let len = 32_768;
    let e = vllm(m, len, vllm_settings(80, None), |r| r.num_gpus = 8);
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

#[test]
fn mla_caches_the_latent_on_every_gpu_in_blocks_of_64() {
    let m = registry_model("DeepSeek-V3");
    let one = capacity(&vllm(m, 4096, vllm_settings(141, None), |r| r.num_gpus = 8)).clone();
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

/// DeepSeek-V3.2's pages hold 64 tokens of the latent and of the indexer's keys: in
/// bf16 576 x 2 + 132 bytes per token; with an fp8 cache the sparse kernels' 656 + 132.
#[test]
fn deepseek_v32_pages_hold_the_indexer_keys() {
    let m = registry_model("DeepSeek-V3.2");
    let page = |kv: Option<Precision>| {
        let e = vllm(m, 4096, vllm_settings(141, None), |r| {
            r.num_gpus = 8;
            r.kv_cache_precision = kv;
        });
        capacity(&e).request_kv_bytes.0 / (4096 / 64) / 61
    };
    assert_eq!(page(None), 64 * (576 * 2 + 132));
    assert_eq!(page(Some(Precision::Float8)), 64 * (656 + 132));
}

/// Hybrid models (vLLM's `HybridAttentionMambaModelConfig`): one mixer layer's state is
/// a page; the attention block grows in steps of 16 tokens until its page holds it;
/// mixer and attention layers form groups; a request takes one block id per mixer
/// group before v0.21, two under v0.21's prefix caching in "align" mode (methodology
/// §10).
#[test]
fn state_mixers_share_the_pool_in_padded_pages() {
    // Qwen3-Next-80B on two H200s: a page per layer of 544 tokens x 2 x 1 KV head x 256
    // x 2 bytes, which holds one Gated DeltaNet layer's state (8,192 / 2 channels x 3
    // taps x 2 bytes + 16 heads x 128 x 128 x 2 bytes, padded by 1.49%).
    let m = registry_model("Qwen3-Next-80B-A3B-Instruct");
    let len = 262_144;
    let mut h200 =
        VllmSettings::of_version(Bytes((139.81 * GIB as f64) as u64), VllmVersion::Upto020);
    h200.gpu_name = Some("NVIDIA H200".into());
    let c = capacity(&vllm(m, len, h200.clone(), |r| r.num_gpus = 2)).clone();
    let page = 544 * 1024;
    assert_eq!(c.block_size, 544);
    // 12 attention and 36 Gated DeltaNet layers: groups of 12, one attention group and
    // three state groups.
    assert_eq!(c.num_blocks, c.available_kv_cache_memory.0 / page / 12);
    assert_eq!(c.kv_cache_tokens, c.num_blocks / 4 * 544);
    assert_eq!(c.kv_cache_bytes.0, c.num_blocks * page * 12);
    assert_eq!(c.max_concurrency, c.num_blocks as f64 / 485.0);
    assert_eq!(c.request_kv_bytes.0, (12 * 482 + 36) * page);
    // A budget that leaves 44.59 GiB for the pool, by hand: ⌊44.59 GiB / (12 x 557,056
    // B)⌋ = 7,162 blocks; ⌊7,162 / 4⌋ x 544 = 973,760 tokens; 7,162 / 485 = 14.77x.
    let mut exact = VllmSettings::of_version(
        Bytes(c.non_kv_memory.0 + (44.59 * GIB as f64) as u64),
        VllmVersion::Upto020,
    );
    exact.gpu_memory_utilization = 1.0;
    exact.gpu_name = Some("NVIDIA H200".into());
    let by_hand = capacity(&vllm(m, len, exact.clone(), |r| r.num_gpus = 2)).clone();
    assert_eq!(by_hand.num_blocks, 7162);
    assert_eq!(by_hand.kv_cache_tokens, 973_760);
    assert_eq!((by_hand.max_concurrency * 100.0).round(), 1477.0);
    // The answer's cache by kind: attention's share of a full request's blocks.
    let e = vllm(
        m,
        len,
        VllmSettings::of_version(Bytes(141 * GIB), VllmVersion::Upto020),
        |r| r.num_gpus = 2,
    );
    let kinds = e.cache_by_kind;
    assert_eq!(kinds.total(), e.kv_cache.0 as u128);
    assert_eq!(kinds.attention, kinds.total() * 482 / 485);
    assert_eq!(kinds.state, kinds.total() - kinds.attention);
    // From v0.21 prefix caching is on and the three state groups hold two blocks each
    // per request ("align" mode): 482 + 6 block ids, 36 x 2 state pages; the same pool
    // reports the same tokens (the attention block is below max_model_len).
    let mut align = exact.clone();
    align.version = VllmVersion::From021;
    let a = capacity(&vllm(m, len, align, |r| r.num_gpus = 2)).clone();
    assert_eq!(a.block_size, 544);
    assert_eq!(a.request_kv_bytes.0, (12 * 482 + 72) * page);
    assert_eq!(
        a.block_table.blocks_for(len),
        by_hand.block_table.blocks_for(len) + 3
    );
    assert_eq!(a.num_blocks, a.available_kv_cache_memory.0 / page / 12);
    assert_eq!(a.kv_cache_tokens, a.num_blocks / 4 * 544);
    assert_eq!(a.max_concurrency, a.num_blocks as f64 / 488.0);
}

/// The attention block sizes vLLM printed for other hybrids ("Setting attention block
/// size to … tokens"), from their shapes: Qwen3.5 keeps its state in fp32 (its config's
/// `mamba_ssm_dtype`), Nemotron-H in fp32 unless its config says otherwise.
#[test]
fn hybrid_block_sizes_match_the_logs() {
    let block = |config: serde_json::Value, kv: Option<Precision>| {
        let m = Model::from_config(&config).unwrap();
        let e = vllm(&m, 4096, vllm_settings(80, None), |r| {
            r.kv_cache_precision = kv
        });
        capacity(&e).block_size
    };
    let qwen3_5 = |h: u64, l: u64, heads: u64, kv: u64, v_heads: u64| {
        let types = three_linear_to_one_full(l);
        serde_json::json!({"model_type": "qwen3_5_text", "hidden_size": h,
            "num_hidden_layers": l, "intermediate_size": 64, "num_attention_heads": heads,
            "num_key_value_heads": kv, "head_dim": 256, "vocab_size": 248320,
            "linear_num_key_heads": 16, "linear_num_value_heads": v_heads,
            "layer_types": types, "mamba_ssm_dtype": "float32", "torch_dtype": "bfloat16"})
    };
    // Qwen3.5-0.8B: 544 (LMCache/LMCache@73c472c46e74a734d2853d9761b7f9c52a92b72b
    // docs/source/recipes/qwen3_5.rst, no vLLM version given); Qwen3.5-27B (vLLM 0.19.0,
    // https://github.com/vllm-project/vllm/issues/40691, whose 290,864 tokens are 371
    // blocks of 784): 784.
    assert_eq!(block(qwen3_5(1024, 24, 8, 2, 16), None), 544);
    assert_eq!(block(qwen3_5(5120, 64, 24, 4, 48), None), 784);
    // Nemotron-3-Nano-30B-A3B with an fp8 cache: 4176, by hand from its shapes (no public
    // log of it is cited).
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
    let e = vllm(&m, 4096, vllm_settings(80, None), |r| r.num_gpus = 2);
    assert_eq!(capacity(&e).block_size, 16 * 78_016u64.div_ceil(16 * 128));
    assert_eq!(capacity(&e).block_size, 624);
}

/// vLLM's pool for a hybrid without attention layers is not modelled.
#[test]
fn vllm_needs_attention_layers() {
    let mut c = nemotron_nano_9b();
    c["num_hidden_layers"] = json!(3);
    c["hybrid_override_pattern"] = json!("MM-");
    let m = model(c);
    let mut r = InferenceRequest::new(1, 16);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(80 << 30)));
    assert_eq!(field_of(estimate_inference(&m, &r).unwrap_err()), "engine");
}
