//! The prefill's transient peak on toy models, to the byte (methodology §5): dense,
//! MoE, latent attention, eager scores, logits, mixers, and tensor parallelism.

use calculator::{
    estimate_inference, CalcError, InferenceEstimate, InferenceRequest, Logits, Method, Model,
    Optimizer, Precision, Quantization, StepPhase,
};
use serde_json::json;
use testkit::configs::{qwen3_5, qwen3_next};
use testkit::models::{model, one_sequence, registry_model};
use testkit::toys::{
    bf16_training, inference, toy, toy_all_moe, toy_falcon, toy_mla, toy_moe, toy_qwen2_moe,
    training,
};

#[test]
fn prefill_activations_dense() {
    // §5, 16 tokens, a = 2: residual and copy 2·16·64·2 = 4,096;
    // attention 16·(64 + 2·64 + 3·32 + 64)·2 = 11,264; MLP 16·(64 + 3·100)·2 = 11,648;
    // logits of every position 16·V·2 plus the final norm output 16·64·2 = 2,048.
    // V = 128: logits 4,096 + 2,048 = 6,144; the MLP is the largest block.
    assert_eq!(
        inference(&toy(128), |_| {}).activation_memory.0,
        4096 + 11_648
    );
    // V = 4096, scoring (the logits of every position): 131,072 + 2,048 dominate.
    assert_eq!(
        inference(&toy(4096), |r| r.logits = calculator::Logits::All)
            .activation_memory
            .0,
        4096 + 131_072 + 2048
    );
}

#[test]
fn a_generating_server_computes_the_last_positions_logits() {
    // §5, the default: the logits of the last position per sequence in 16-bit, the fp32
    // copy and the fp32 probabilities: 2 · 4096 · (2 + 8) = 81,920, plus 2,048; the
    // same whether or not tokens are generated afterwards.
    for new_tokens in [0, 4] {
        let e = inference(&toy(4096), |r| r.max_new_tokens = new_tokens);
        assert_eq!(e.activation_memory.0, 4096 + 81_920 + 2048);
    }
}

#[test]
fn eager_attention_adds_the_score_matrix() {
    // §5: b · n_h · s² · (2a + 4) = 2 · 4 · 64 · 8 = 4,096 on top of attention's 11,264,
    // making attention (15,360) the largest block.
    let e = inference(&toy(128), |r| r.use_flash_attention = false);
    assert_eq!(e.activation_memory.0, 4096 + 11_264 + 4096);
}

#[test]
fn prefill_activations_moe() {
    // §5, fused MoE: fp32 router logits 16 · 8 · 4 = 512; per routed copy the permuted
    // input, gate/up, activation and output 16 · 2 · (2·64 + 3·100) · 2 = 27,392.
    // No dense layer; the block is 27,904 > attention 11,264 > logits 6,144.
    let e = inference(&toy_moe(128), |_| {});
    assert_eq!(e.activation_memory.0, 4096 + 512 + 27_392);
}

#[test]
fn shared_experts_in_prefill() {
    // Qwen2-MoE toy: 4 experts of 20, top-2, a shared expert of 60. MoE block:
    // router 16·4·4 = 256, routed 16·2·(128 + 60)·2 = 12,032, shared 16·3·60·2 = 5,760.
    let m = toy_qwen2_moe();
    assert_eq!(inference(&m, |_| {}).activation_memory.0, 4096 + 18_048);
    // LoRA rank 8 on every linear: attention 3,584 per layer; shared expert
    // 8·(64 + 60)·3 = 2,976; experts 4·8·(64 + 20)·3 = 8,064.
    let t = training(&m, |r| r.method = Method::Lora);
    assert_eq!(t.details.trainable_parameters, 2 * (3584 + 2976 + 8064));
}

#[test]
fn an_unused_dense_width_costs_nothing() {
    // Prefill (§5): attention 11,264; MoE 16·4·4 + 16·2·(128 + 60)·2 = 12,288; no
    // dense MLP exists, so the 5,000-wide one is never counted.
    let m = toy_all_moe();
    assert_eq!(inference(&m, |_| {}).activation_memory.0, 4096 + 12_288);
    // Training, checkpointed (§7.5): attention 388 + 128 + 384 + 16 + q/k norms
    // (96·4 + 6·4 + 96·2 = 600) = 1,516, MLP norm 516, router 16, routed
    // 2·(128 + 160 + 128) = 832 → 2,880 per token; working set
    // 2·(max(128, 2·2·20) + 64)·2 = 768.
    let e = bf16_training(&m, |r| r.gradient_checkpointing = true);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 8256 + 16 * (2880 + 768)
    );
    // LoRA with Lion: the largest adapter is 8 × 64 (attention), not 8 × 5,000.
    let e = bf16_training(&m, |r| {
        r.method = Method::Lora;
        r.optimizer = Optimizer::Lion;
    });
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 8 * 64 * 4);
}

#[test]
fn plain_mlps_and_parallel_blocks() {
    // Falcon toy with a 200-wide plain MLP (§5): the MLP block 16·(64 + 2·200)·2 =
    // 14,848 exceeds attention 16·(64 + 64 + 32 + 64 + 16 + 64)·2 = 9,728.
    let falcon = toy_falcon(200);
    assert_eq!(
        inference(&falcon, |_| {}).activation_memory.0,
        4096 + 14_848
    );
    // Falcon's new architecture: 2 KV heads, parallel attention with two norms; the
    // MLP reads its own norm's output (saved, 128) but no separate residual input.
    // Attention 128 + 128 + (64 + 64 + 64)·2 + 16 = 656; MLP (1 + 1)·100·2 = 400 → 1,184;
    // working set 2·(max(64 + 64, 100) + 64)·2 = 768.
    let new_arch = Model::from_config(&json!({
        "model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_kv_heads": 2, "new_decoder_architecture": true,
        "vocab_size": 128, "ffn_hidden_size": 100
    }))
    .unwrap();
    // Fused q/k/v 64·128, o 64·64, MLP 2·64·100, two LayerNorms 256; tied; final 128.
    assert_eq!(
        new_arch.params.total,
        2 * (8192 + 4096 + 12_800 + 256) + 8192 + 128
    );
    let e = bf16_training(&new_arch, |r| r.gradient_checkpointing = true);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 4096 + 16 * (1184 + 768)
    );
}

#[test]
fn tensor_parallel_prefill_splits_heads_and_widths() {
    // §5 over 2 GPUs: q and o 64/2 = 32 wide, one KV head of 16, MLP 100/2 = 50.
    // Attention 16·(64 + 32 + 2·16 + 32 + 16 + 32)·2 = 6,656; MLP 16·(64 + 150)·2 = 6,848.
    let e = inference(&toy(128), |r| r.num_gpus = 2);
    assert_eq!(e.activation_memory.0, 4096 + 6848);
    // Eager: 2 of the 4 heads per GPU add 2·2·64·8 = 2,048 to attention (8,704).
    let e = inference(&toy(128), |r| {
        r.num_gpus = 2;
        r.use_flash_attention = false;
    });
    assert_eq!(e.activation_memory.0, 4096 + 8704);
    // MoE: experts 50 wide per GPU: 512 + 16·2·(128 + 150)·2 = 18,304.
    let e = inference(&toy_moe(128), |r| r.num_gpus = 2);
    assert_eq!(e.activation_memory.0, 4096 + 18_304);
    // KV: one of the two heads per GPU; weights split.
    assert_eq!(e.kv_cache.0, 4096 / 2);
}

#[test]
fn tensor_parallel_prefill_of_latent_attention_and_shared_experts() {
    // The MLA toy over 2 GPUs (§5): q 24, k/v 24 each, o 16 per GPU; attention
    // 16·(64 + 24 + 48 + 24 + 24 + 16)·2 = 6,400 plus the latents 1,664 = 8,064; dense
    // MLP 16·(64 + 150)·2 = 6,848; MoE 512 + 16·2·(128 + 12)·2 + 16·3·4·2 = 9,856.
    let mla = toy_mla();
    assert_eq!(
        inference(&mla, |r| r.num_gpus = 2).activation_memory.0,
        4096 + 9856
    );
    // Qwen2-MoE toy over 2 GPUs: experts 10 and the shared expert 30 wide per GPU:
    // 256 + 16·2·(128 + 30)·2 + 16·3·30·2 = 13,248 > attention 6,656.
    let qwen = toy_qwen2_moe();
    assert_eq!(
        inference(&qwen, |r| r.num_gpus = 2).activation_memory.0,
        4096 + 13_248
    );
}

#[test]
fn replicated_heads_and_long_contexts_are_warned() {
    let replica = |gpus| {
        inference(&toy(128), |r| r.num_gpus = gpus)
            .warnings
            .iter()
            .any(|w| w.message.contains("replica"))
    };
    // 2 KV heads: 2 GPUs split them, 4 replicate.
    assert!(!replica(2));
    assert!(replica(4));
    let mut config = serde_json::json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128, "max_position_embeddings": 12
    });
    let model = Model::from_config(&config).unwrap();
    let long = |new: u64| {
        inference(&model, |r| r.max_new_tokens = new)
            .warnings
            .iter()
            .any(|w| w.message.contains("max_position_embeddings"))
    };
    // 8 prompt tokens + 4 new = 12, the limit; one more is over.
    assert!(!long(4));
    assert!(long(5));
    config["max_position_embeddings"] = serde_json::json!(8);
    let t = training(&Model::from_config(&config).unwrap(), |_| {});
    assert!(!t
        .warnings
        .iter()
        .any(|w| w.message.contains("max_position_embeddings")));
}

/// A small Qwen3-Next whose prefill peak is a Gated DeltaNet layer: the norm's output,
/// the projections' streams, the convolution's output, the scan's and the gated norm's
/// outputs per token, and one fp32 state per 64-token chunk (methodology §5).
#[test]
fn a_mixer_layer_can_set_the_prefill_peak() {
    let mut c = qwen3_next();
    for (k, v) in [
        ("hidden_size", 256),
        ("num_attention_heads", 2),
        ("num_key_value_heads", 1),
        ("head_dim", 64),
        ("linear_num_key_heads", 4),
        ("linear_num_value_heads", 8),
        ("linear_key_head_dim", 64),
        ("linear_value_head_dim", 64),
        ("num_experts", 1),
        ("num_experts_per_tok", 1),
        ("moe_intermediate_size", 1),
        ("shared_expert_intermediate_size", 0),
        ("vocab_size", 64),
    ] {
        c[k] = json!(v);
    }
    let m = model(c);
    let (t, h, a) = (1000u128, 256u128, 2u128);
    let (key, value) = (4 * 64, 8 * 64);
    let in_proj = 2 * key + 2 * value + 2 * 8;
    let conv = 2 * key + value;
    // The chunk states in bf16, as flash-linear-attention's kernels keep them.
    let mixer = t * (h + in_proj + conv + 2 * value) * a + t.div_ceil(64) * 8 * 64 * 64 * a;
    let e = one_sequence(&m, t as u64);
    assert_eq!(e.activation_memory.0 as u128, 2 * t * h * a + mixer);
    // Over 2 GPUs the streams and states split.
    let mut r = InferenceRequest::new(1, t as u64);
    r.num_gpus = 2;
    let split =
        t * (h + (in_proj + conv + 2 * value) / 2) * a + t.div_ceil(64) * 8 * 64 * 64 * a / 2;
    assert_eq!(
        estimate_inference(&m, &r).unwrap().activation_memory.0 as u128,
        2 * t * h * a + split
    );
}

/// The query projection's gate half is a transient of the attention block; attention
/// beside Mamba (Falcon-H1) also holds the mixer's output.
#[test]
fn gated_and_side_by_side_attention_transients() {
    let gated = |gate: bool| {
        let mut c = qwen3_5(
            "qwen3_5",
            json!({"hidden_size": 4096, "num_hidden_layers": 4, "intermediate_size": 16,
                "num_attention_heads": 64, "num_key_value_heads": 4,
                "linear_num_value_heads": 16, "tie_word_embeddings": false}),
        );
        c["text_config"]["attn_output_gate"] = json!(gate);
        c["text_config"]["vocab_size"] = json!(64);
        one_sequence(&model(c), 100).activation_memory.0
    };
    assert_eq!(gated(true) - gated(false), 100 * 64 * 256 * 2);
    // A Falcon-H1 whose peak is attention (q 1,024, k and v 1,024 each): norm output,
    // q, k, v, their rotary copies, the output, and the Mamba branch's output beside.
    let falcon = model(json!({"model_type": "falcon_h1", "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 16, "num_key_value_heads": 16,
        "head_dim": 64, "intermediate_size": 8, "vocab_size": 8, "mamba_d_ssm": 8,
        "mamba_n_heads": 1, "mamba_d_head": 8, "mamba_d_state": 1, "mamba_n_groups": 1}));
    let attention = 64 + 1024 + 2 * 1024 + 1024 + 1024 + 1024 + 64;
    assert_eq!(
        one_sequence(&falcon, 100).activation_memory.0,
        100 * (2 * 64 + attention) * 2
    );
}

fn run(name: &str, edit: impl FnOnce(&mut InferenceRequest)) -> InferenceEstimate {
    let mut req = InferenceRequest::new(1, 4096);
    edit(&mut req);
    estimate_inference(registry_model(name), &req).unwrap()
}

#[test]
fn weights_follow_precision() {
    let p = 8_030_261_248u64;
    assert_eq!(run("Llama-3.1-8B", |_| {}).model_weights.0, 2 * p);
    let f32 = run("Llama-3.1-8B", |r| r.precision = Some(Precision::Float32));
    assert_eq!(f32.model_weights.0, 4 * p);
    assert_eq!(f32.kv_cache_precision, Precision::Float32);
    let int4 = run("Llama-3.1-8B", |r| r.precision = Some(Precision::Int4));
    // Embeddings and lm_head stay 16-bit: more than half a byte per parameter.
    assert!(int4.model_weights.0 > p / 2 && int4.model_weights.0 < p * 3 / 4);
    assert_eq!(int4.kv_cache_precision, Precision::Bfloat16);
}

#[test]
fn kv_cache_counts_gqa_mla_and_windows() {
    // Llama-3.1-8B: 32 layers x 8 KV heads x 128 x 2 x 2 bytes per token.
    assert_eq!(
        run("Llama-3.1-8B", |_| {}).kv_cache.0,
        32 * 8 * 128 * 2 * 2 * 4096
    );
    // DeepSeek-V3: the latent 512 + rope 64 per layer and token (transformers 5 and
    // vLLM alike).
    assert_eq!(run("DeepSeek-V3", |_| {}).kv_cache.0, 61 * 576 * 2 * 4096);
    // gemma-2-9b: half its 42 layers keep at most the 4096-token window.
    let gemma = |tokens| {
        run("gemma-2-9b-it", |r| r.sequence_length = tokens)
            .kv_cache
            .0
    };
    let per_token_layer = 8 * 256 * 2 * 2;
    assert_eq!(gemma(8192), per_token_layer * (21 * 8192 + 21 * 4096));
    // An fp8 cache is half a bf16 one.
    let fp8 = run("Llama-3.1-8B", |r| {
        r.kv_cache_precision = Some(Precision::Float8)
    });
    assert_eq!(fp8.kv_cache.0, 32 * 8 * 128 * 2 * 4096);
}

#[test]
fn tensor_parallelism_splits_weights_and_heads() {
    let one = run("Llama-3.1-70B", |_| {});
    let four = run("Llama-3.1-70B", |r| r.num_gpus = 4);
    assert_eq!(four.model_weights.0, one.model_weights.0.div_ceil(4));
    assert_eq!(four.kv_cache.0, one.kv_cache.0 / 4);
    // 8 KV heads over 16 GPUs: one replicated head each, with a warning.
    let sixteen = run("Llama-3.1-70B", |r| r.num_gpus = 16);
    assert_eq!(sixteen.kv_cache.0, one.kv_cache.0 / 8);
    assert!(sixteen
        .warnings
        .iter()
        .any(|w| w.message.contains("replica")));
    let err = estimate_inference(registry_model("Llama-3.1-70B"), &{
        let mut r = InferenceRequest::new(1, 128);
        r.num_gpus = 3;
        r
    });
    assert!(matches!(err, Err(CalcError::InvalidField { ref field, .. }) if field == "num_gpus"));
}

#[test]
fn eager_attention_and_logits() {
    let flash = run("Llama-3.1-8B", |_| {});
    let eager = run("Llama-3.1-8B", |r| r.use_flash_attention = false);
    assert!(eager.activation_memory.0 >= 32 * 4096 * 4096 * 8);
    assert!(eager.activation_memory > flash.activation_memory);
    // Scoring keeps every position's logits; a generating server the last.
    let scoring = run("Llama-3.1-8B", |r| r.logits = Logits::All);
    assert!(scoring.activation_memory.0 >= 4096 * 128_256 * 2);
    assert!(flash.activation_memory < scoring.activation_memory);
}

#[test]
fn gpt_oss_in_mxfp4_matches_the_published_checkpoints() {
    // OpenAI's model card: checkpoint sizes 12.8 GiB (gpt-oss-20b) and 60.8 GiB
    // (gpt-oss-120b), experts in MXFP4, everything else in bf16.
    let gib = |name| {
        let e = run(name, |r| r.quantization = Some(Quantization::Mxfp4));
        assert_eq!(e.weight_format.precision, Precision::Int4);
        e.model_weights.0 as f64 / (1u64 << 30) as f64
    };
    assert!(
        (gib("gpt-oss-20b") - 12.8).abs() < 0.1,
        "{}",
        gib("gpt-oss-20b")
    );
    assert!(
        (gib("gpt-oss-120b") - 60.8).abs() < 0.2,
        "{}",
        gib("gpt-oss-120b")
    );
}

#[test]
fn quantization_must_match_precision() {
    let mut req = InferenceRequest::new(1, 128);
    req.quantization = Some(Quantization::Awq);
    req.precision = Some(Precision::Int8);
    let err = estimate_inference(registry_model("Qwen3-8B"), &req).unwrap_err();
    assert!(matches!(err, CalcError::InvalidField { ref field, .. } if field == "quantization"));
    req.precision = None;
    let e = estimate_inference(registry_model("Qwen3-8B"), &req).unwrap();
    assert_eq!(e.weight_format.precision, Precision::Int4);
}
