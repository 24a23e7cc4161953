//! The KV cache and what else grows with the context: attention keys and values,
//! windowed and chunked layers, indexer keys, and the fixed state of linear-attention
//! and state-space layers (methodology §4), to the byte.

use calculator::{
    cache_rates, estimate_inference, Bytes, Engine, InferenceRequest, Precision, VllmSettings,
};
use testkit::configs::{kimi_linear, nemotron_nano_9b, qwen3_next};
use testkit::models::{model, one_sequence, registry_model, MIB};
use testkit::toys::{inference, toy, toy_moe, training};

#[test]
fn parameter_count_of_the_toy() {
    // 2·31,616 + 2·(4096·64) + 64 = 587,584 (§2).
    assert_eq!(toy(4096).params.total, 587_584);
    // Mixtral layer: attention 12,288 + norms 128 + router 64·8 + 8 experts·19,200.
    assert_eq!(
        toy_moe(128).params.total,
        2 * (12_288 + 128 + 512 + 8 * 19_200) + 2 * 128 * 64 + 64
    );
}

#[test]
fn runtime_overhead_is_the_cuda_context() {
    // §6: 512 MiB per GPU, in inference and training alike.
    assert_eq!(inference(&toy(128), |_| {}).runtime_overhead.0, 512 * MIB);
    assert_eq!(training(&toy(128), |_| {}).runtime_overhead.0, 512 * MIB);
}

#[test]
fn weights_and_kv_cache() {
    let e = inference(&toy(4096), |_| {});
    // §3: 587,584 parameters × 2 bytes.
    assert_eq!(e.model_weights.0, 1_175_168);
    // §4: 2 (K, V) × 2 heads × 16 × 2 bytes = 128 bytes per token and layer;
    // × 2 layers × 8 tokens × 2 sequences.
    assert_eq!(e.kv_cache.0, 4096);
}

#[test]
fn integer_kv_caches_carry_their_group_scales() {
    // §4: 2,048 cached values (2 seq × 8 tok × 2 layers × 64), in groups of 64 with a
    // 16-bit scale and a 16-bit zero point each: int8 8.5 bits per value, int4 4.5.
    let int8 = inference(&toy(128), |r| r.kv_cache_precision = Some(Precision::Int8));
    assert_eq!(int8.kv_cache.0, 2048 * 17 / 16);
    let int4 = inference(&toy(128), |r| r.kv_cache_precision = Some(Precision::Int4));
    assert_eq!(int4.kv_cache.0, 2048 * 9 / 16);
    let fp8 = inference(&toy(128), |r| {
        r.kv_cache_precision = Some(Precision::Float8)
    });
    assert_eq!(fp8.kv_cache.0, 2048);
}

/// `cache_growth`: per token and per sequence, in the model's dtype on one GPU.
#[test]
fn cache_rates_per_kind() {
    let r = cache_rates(&model(qwen3_next()));
    assert_eq!(
        (
            r.attention_per_token,
            r.indexer_per_token,
            r.state_per_sequence
        ),
        (24_576, 0, 77_856_768)
    );
    let r = cache_rates(registry_model("DeepSeek-V3.2"));
    assert_eq!(
        (
            r.attention_per_token,
            r.indexer_per_token,
            r.state_per_sequence
        ),
        (61 * 1152, 61 * 132, 0)
    );
    let r = cache_rates(&model(kimi_linear()));
    assert_eq!(r.attention_per_token, 143_360);
    assert_eq!(r.state_per_sequence, 43_909_120);
    // The answer's cache is the three kinds together.
    let e = one_sequence(&model(qwen3_next()), 100);
    assert_eq!(e.kv_cache.0 as u128, 24_576 * 100 + 77_856_768);
    let e = one_sequence(registry_model("DeepSeek-V3.2"), 100);
    assert_eq!(e.kv_cache.0 as u128, 100 * 61 * (1152 + 132));
}

/// Only the 12 gated-attention layers of Qwen3-Next grow with the context; the 36
/// Gated DeltaNet layers keep a fixed state per sequence: the convolution's last 4
/// inputs over q, k and v (8,192 channels) in bf16 and a 128 x 128 fp32 matrix per
/// value head (32), as transformers keeps them.
#[test]
fn qwen3_next_cache_grows_only_in_attention_layers() {
    let m = model(qwen3_next());
    let per_token = 12 * 2 * 2 * 256 * 2;
    let state = 36 * (8192 * 4 * 2 + 32 * 128 * 128 * 4);
    for tokens in [1, 4096, 65536] {
        let c = one_sequence(&m, tokens).cache_by_kind;
        assert_eq!(c.attention, per_token * tokens as u128);
        assert_eq!(c.state, state);
        assert_eq!(c.indexer, 0);
    }
    let two = estimate_inference(&m, &InferenceRequest::new(2, 4096)).unwrap();
    assert_eq!(two.cache_by_kind.state, 2 * state);
    assert_eq!(two.kv_cache.0 as u128, two.cache_by_kind.total());
    // Over 2 GPUs each keeps half the heads' state.
    let mut r = InferenceRequest::new(1, 4096);
    r.num_gpus = 2;
    assert_eq!(
        estimate_inference(&m, &r).unwrap().cache_by_kind.state,
        state / 2
    );
}

/// Llama 4's 36 chunked layers never cache more than one chunk (8,192 tokens); its 12
/// global layers cache everything: 4,096 bytes per token and layer in bf16.
#[test]
fn llama4_chunked_layers_stop_at_the_chunk() {
    let m = registry_model("Llama-4-Scout-17B-16E-Instruct");
    let per_layer_token = 2 * 8 * 128 * 2;
    for tokens in [4096u128, 8192, 32768, 131072] {
        let c = one_sequence(m, tokens as u64).cache_by_kind;
        let expected = (12 * tokens + 36 * tokens.min(8192)) * per_layer_token;
        assert_eq!(c.attention, expected, "{tokens}");
    }
}

/// DeepSeek-V3.2 caches, besides MLA's latent and rope key, one indexer key per token
/// and layer: 128 fp8 values and an fp32 scale.
#[test]
fn deepseek_v32_caches_indexer_keys() {
    let m = registry_model("DeepSeek-V3.2");
    let c = one_sequence(m, 4096).cache_by_kind;
    assert_eq!(c.indexer, 61 * 132 * 4096);
    assert_eq!(c.attention, 61 * 576 * 2 * 4096);
    // V3 has no indexer; V3.2's adds 13,959,424 parameters per layer.
    let v3 = registry_model("DeepSeek-V3.1");
    assert_eq!(one_sequence(v3, 4096).cache_by_kind.indexer, 0);
    assert_eq!(m.params.total - v3.params.total, 61 * 13_959_424);
    // vLLM: a page holds the latent block and the indexer keys; an fp8 cache is the
    // sparse kernels' 656-byte layout.
    let mut r = InferenceRequest::new(1, 4096);
    r.num_gpus = 8;
    r.kv_cache_precision = Some(Precision::Float8);
    r.engine = Engine::Vllm(VllmSettings::new(Bytes(141 << 30)));
    let e = estimate_inference(m, &r).unwrap();
    let c = e.vllm.unwrap();
    let pages = c.num_blocks as u128 * 61;
    assert_eq!(e.cache_by_kind.attention, pages * 64 * 656);
    assert_eq!(e.cache_by_kind.indexer, pages * 64 * 132);
}

/// A Mamba layer's state is fixed: Nemotron Nano 2's 27 Mamba-2 layers keep the
/// convolution's last 4 inputs over 12,288 channels and 128 heads x 80 x 128 values,
/// in bf16 under transformers, however long the sequence; its 4 attention layers grow.
#[test]
fn mamba_state_is_fixed_per_sequence() {
    let m = model(nemotron_nano_9b());
    let state = 27 * (12_288 * 4 + 128 * 80 * 128) * 2;
    for tokens in [16u128, 4096, 131072] {
        let c = one_sequence(&m, tokens as u64).cache_by_kind;
        assert_eq!(c.state, state);
        assert_eq!(c.attention, 4 * 2 * 8 * 128 * 2 * tokens);
    }
}
