//! Every accounting term, checked to the byte on toy models small enough to derive by
//! hand. Each expected value is worked out in the comment above it from the formulas of
//! `docs/methodology.md` (section numbers given), not from the code, so that changing
//! a constant or dropping a term fails here.
//!
//! The toy decoder (llama family): h = 64, L = 2, n_h = 4, n_kv = 2, d = 16,
//! I = 100, untied, bfloat16 (a = 2 bytes).
//! - per layer: q 64·64 + k, v 2·64·32 + o 64·64 = 12,288; gated MLP 3·64·100 =
//!   19,200; two RMSNorms 128 → 31,616;
//! - embedding and lm_head V·64 each; final norm 64.

use calculator::{
    estimate_inference, estimate_training, Framework, InferenceRequest, Method, Model, Optimizer,
    OptimizerImplementation, Precision, TrainingRequest,
};
use serde_json::json;

/// The toy decoder with vocabulary `vocab`.
fn toy(vocab: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": vocab, "torch_dtype": "bfloat16"
    }))
    .unwrap()
}

/// The toy with its MLP replaced by 8 routed experts of width 100, top-2 (Mixtral).
fn toy_moe(vocab: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "mixtral", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": vocab,
        "torch_dtype": "bfloat16"
    }))
    .unwrap()
}

/// DeepSeek-V3 toy: MLA (q rank 32, KV rank 16, nope 8, rope 4, v 8), layer 0 dense
/// (I 100), layer 1 MoE with 8 routed experts of 8, top-2, and one shared expert.
fn toy_mla() -> Model {
    Model::from_config(&json!({
        "model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "intermediate_size": 100, "moe_intermediate_size": 8, "n_routed_experts": 8,
        "n_shared_experts": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
        "vocab_size": 128
    }))
    .unwrap()
}

/// Falcon-7B's layout (multi-query, parallel attention, one LayerNorm) with a plain
/// MLP of `ffn` and V 128.
fn toy_falcon(ffn: u64) -> Model {
    Model::from_config(&json!({
        "model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 128, "ffn_hidden_size": ffn
    }))
    .unwrap()
}

/// Qwen2-MoE toy: 4 experts of 20, top-2, a shared expert of 60, V 128.
fn toy_qwen2_moe() -> Model {
    Model::from_config(&json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "num_experts_per_tok": 2,
        "vocab_size": 128
    }))
    .unwrap()
}

fn inference(
    model: &Model,
    edit: impl FnOnce(&mut InferenceRequest),
) -> calculator::InferenceEstimate {
    // b = 2 sequences of s = 8 tokens: 16 tokens.
    let mut req = InferenceRequest::new(2, 8);
    edit(&mut req);
    estimate_inference(model, &req).unwrap()
}

fn training(
    model: &Model,
    edit: impl FnOnce(&mut TrainingRequest),
) -> calculator::TrainingEstimate {
    let mut req = TrainingRequest::new(2, 8);
    edit(&mut req);
    estimate_training(model, &req).unwrap()
}

/// A 16-bit model without autocast (DeepSpeed's layout): the layers' own tensors, every
/// projection reading its block's shared normalized input (§7.5).
fn bf16_training(
    model: &Model,
    edit: impl FnOnce(&mut TrainingRequest),
) -> calculator::TrainingEstimate {
    training(model, |r| {
        r.framework = Some(Framework::Deepspeed);
        edit(r);
    })
}

const MIB: u64 = 1024 * 1024;

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
fn training_state_per_parameter() {
    // §7.2 mixed precision, AdamW, Ψ = 587,584. DeepSpeed: 16-bit weights 2Ψ;
    // gradients 2Ψ + 4Ψ; master 4Ψ; moments 8Ψ; a foreach step's workspace 4Ψ (§7.3).
    let psi = 587_584u64;
    let e = training(&toy(4096), |r| {
        r.framework = Some(Framework::Deepspeed);
        r.optimizer_implementation = Some(OptimizerImplementation::Foreach);
    });
    assert_eq!(e.model_weights.0, 2 * psi);
    assert_eq!(e.gradients_memory.0, 6 * psi);
    assert_eq!(e.details.master_weights.0, 4 * psi);
    assert_eq!(e.details.optimizer_states.0, 8 * psi);
    assert_eq!(e.details.optimizer_step_workspace.0, 4 * psi);
    // transformers (torch autocast, the default): fp32 weights 4Ψ with 16-bit copies
    // of the linear weights and the output projection, 2 · (2 · 31,488 + 4096 · 64);
    // fp32 gradients 4Ψ; no separate master; the fused step has no workspace.
    let e = training(&toy(4096), |r| r.framework = Some(Framework::Transformers));
    assert_eq!(
        e.details.autocast_weight_copies.0,
        2 * (2 * 31_488 + 262_144)
    );
    assert_eq!(e.model_weights.0, 4 * psi + 2 * (2 * 31_488 + 262_144));
    assert_eq!(e.gradients_memory.0, 4 * psi);
    assert_eq!(e.details.master_weights.0, 0);
    assert_eq!(e.details.optimizer_step_workspace.0, 0);
}

#[test]
fn factored_and_quantized_optimizer_states() {
    // Adafactor (§7.3): rows + columns of every matrix in fp32, every vector element.
    // Matrices per layer: q 128, k 96, v 96, o 128, gate 164, up 164, down 164 → 940,
    // two layers 1,880; embedding and lm_head (4096 + 64) each → 8,320; vectors: norms
    // 2·128 + 64 = 320. (1,880 + 8,320 + 320) · 4 = 42,080 bytes.
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 42_080);
    // 8-bit AdamW: two 1-byte moments and an fp32 absmax per 256 values each:
    // 2 · 587,584 + 2 · ceil(587,584 / 256) · 4 = 1,175,168 + 2 · 2,296 · 4.
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::QuantizedAdamW);
    assert_eq!(e.details.optimizer_states.0, 1_175_168 + 18_368);
}

// Training activations of the toy, full fine-tuning of a bf16 model, 16 tokens, a = 2
// (§7.5), per token and layer:
//   RMSNorm: its fp32 input 64·4 = 256, inverse RMS 4, the normalized bf16 input its
//   trained weight needs 128                                                  = 388
//   attention: norm 388 + q, k, v, o (64 + 2·32 + 64)·2 = 384 + log-sum-exp 4 heads · 4
//   = 16 + the norm output read by the trained projections 128              = 916
//   MLP norm 388 + output 128                                                = 516
//   gated MLP: gate, up, product and the down projection's input (3 + 1)·100·2 = 800
//   saved per token and layer                                                = 2,232
// backward working set: 2 · (max(q + 2kv = 128, 2I = 200) + h) · 2 = 1,056 per token;
// final norm 16 · (388 + 128) = 8,256; loss 16 · V · 12 bytes.

#[test]
fn training_activations_without_checkpointing() {
    // V = 128: loss 24,576 > work 16 · 1,056 = 16,896.
    // 2 layers · 16 · 2,232 + 8,256 + 24,576.
    let e = bf16_training(&toy(128), |_| {});
    assert_eq!(e.details.loss_buffers.0, 16 * 128 * 12);
    assert_eq!(e.activation_memory.0, 71_424 + 8256 + 24_576);
}

#[test]
fn training_activations_with_checkpointing() {
    // Each layer keeps its input 2 · 16 · 128 = 4,096; one layer recomputed with its
    // working set 16 · (2,232 + 1,056) = 52,608 > loss 24,576; final norm 8,256.
    let e = bf16_training(&toy(128), |r| r.gradient_checkpointing = true);
    assert_eq!(e.activation_memory.0, 4096 + 8256 + 52_608);
}

#[test]
fn qlora_keeps_an_fp32_residual_stream() {
    // QLoRA (§7.1): the residual stream is fp32, so every checkpoint is 64 · 4 = 256
    // bytes per token and each (frozen) norm keeps its fp32 input and inverse RMS, 260.
    // Adapters (rank 8) on every linear share their block's input (no autocast, no
    // dropout) and keep their rank-8 lora_A outputs: attention 260 + 128 + 4·8·2 + 400
    // = 852; MLP norm 260 + 128 + 3·8·2 = 436; MLP 800 → 2,088 per token and layer.
    // Checkpointed: inputs 2 · 16 · 256 = 8,192; one layer 16 · (2,088 + 1,056) = 50,304;
    // final norm 16 · (260 + 128) = 6,208.
    let e = bf16_training(&toy(128), |r| {
        r.method = Method::Qlora;
        r.gradient_checkpointing = true;
    });
    assert_eq!(e.activation_memory.0, 8192 + 6208 + 50_304);
}

#[test]
fn zero3_gathers_the_largest_layer() {
    // §7.4 over 4 GPUs: weights ceil(2Ψ / 4) = 293,792 plus the gathered largest tensor
    // group in 16-bit, here the 4096·64 embedding: 524,288. Gradients: the 16-bit
    // shard 293,792, the fp32 gradient of the one sub-group (the whole shard here,
    // 4 · 146,896 = 587,584), the gathered group's 16-bit gradients 524,288 and
    // DeepSpeed's reduce bucket, 5e8 16-bit values, allocated whatever the model.
    let e = training(&toy(4096), |r| {
        r.num_gpus = 4;
        r.zero_stage = 3;
    });
    assert_eq!(e.model_weights.0, 293_792 + 524_288);
    assert_eq!(
        e.gradients_memory.0,
        293_792 + 587_584 + 524_288 + 1_000_000_000
    );
}

#[test]
fn qlora_base_in_nf4_with_the_rest_in_fp32() {
    // §3 QLoRA base: 4·n + 8·ceil(n/64) + 32·ceil(ceil(n/64)/256) bits per matrix of n
    // weights. q and o (n = 4,096, ×2 each): 16,928 bits; k and v (2,048, ×4): 8,480;
    // gate, up (6,400, ×4) and down (×2): 26,432 → 260,224 bits for 62,976 weights.
    // The other 79,680 − 62,976 = 16,704 parameters in fp32 (§7.1): 534,528 bits.
    // (260,224 + 534,528) / 8 = 99,344 bytes. Rank-8 adapters on every linear:
    // 8·(128 + 96 + 96 + 128 + 164 + 164 + 164) = 7,520 per layer, 15,040, in fp32
    // (PEFT's adapter dtype under autocast) with their 16-bit autocast copies.
    let e = training(&toy(128), |r| r.method = Method::Qlora);
    assert_eq!(e.details.trainable_parameters, 15_040);
    assert_eq!(e.model_weights.0, 99_344 + (4 + 2) * 15_040);
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
fn replicated_heads_and_long_contexts_are_warned() {
    let replica = |gpus| {
        inference(&toy(128), |r| r.num_gpus = gpus)
            .warnings
            .iter()
            .any(|w| w.contains("replica"))
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
            .any(|w| w.contains("max_position_embeddings"))
    };
    // 8 prompt tokens + 4 new = 12, the limit; one more is over.
    assert!(!long(4));
    assert!(long(5));
    config["max_position_embeddings"] = serde_json::json!(8);
    let t = training(&Model::from_config(&config).unwrap(), |_| {});
    assert!(!t
        .warnings
        .iter()
        .any(|w| w.contains("max_position_embeddings")));
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
fn moe_training_activations() {
    // Full fine-tuning of the Mixtral toy, per token and layer (§7.5): attention 916,
    // MLP norm 516, router softmax 8·4 = 32, per routed copy (2) the expert input 128,
    // its MLP (3 + 1)·100·2 = 800 and output 128 → 2,112: saved 3,576. Working set
    // 2·(max(128, 2·2·100) + 64)·2 = 1,856.
    let m = toy_moe(128);
    let e = bf16_training(&m, |_| {});
    // 2 layers · 16 · 3,576 + 8,256 + max(loss 24,576, work 16·1,856 = 29,696).
    assert_eq!(e.activation_memory.0, 114_432 + 8256 + 29_696);
    let e = bf16_training(&m, |r| r.gradient_checkpointing = true);
    assert_eq!(e.activation_memory.0, 4096 + 8256 + 16 * (3576 + 1856));
    // LoRA: attention 3,584 per layer, experts 8·8·(164·3) = 31,488; no shared group.
    let e = bf16_training(&m, |r| r.method = Method::Lora);
    assert_eq!(e.details.trainable_parameters, 2 * (3584 + 31_488));
}

#[test]
fn lora_on_attention_keeps_no_mlp_inputs() {
    // Adapters on q, k, v, o only: 8·(128 + 96 + 96 + 128) = 3,584 per layer. The MLP is
    // frozen: its norm output and down-projection input are not kept. Frozen norms
    // 260 each; attention 260 + 128 + lora_A outputs 4·8·2 = 64 + 400 = 852, MLP norm
    // 260, MLP (3 + 0)·100·2 = 600 → 1,712 per token and layer; final norm 16·(260 + 128).
    let e = bf16_training(&toy(128), |r| {
        r.method = Method::Lora;
        r.lora_target = calculator::LoraTarget::Attention;
    });
    assert_eq!(e.details.trainable_parameters, 7168);
    assert_eq!(e.activation_memory.0, 2 * 16 * 1712 + 6208 + 24_576);
    // Fused q/k/v (Falcon): one adapter 8·(64 + 96) instead of three, and o 8·128.
    let falcon = toy_falcon(100);
    let e = bf16_training(&falcon, |r| {
        r.method = Method::Lora;
        r.lora_target = calculator::LoraTarget::Attention;
    });
    assert_eq!(e.details.trainable_parameters, 2 * (1280 + 1024));
}

#[test]
fn norms_of_gemma_and_parallel_blocks() {
    // Gemma 3 toy: Gemma's RMSNorm keeps its fp32 input and its fp32 normalized input,
    // 64·4 + 4 + 64·4 = 516 per norm. q/k norms (q 64, kv 32): fp32 inputs 96·4 = 384,
    // inverse RMS per head (4 + 2)·4 = 24, the normalized inputs 96·2 = 192 → 600; two
    // extra norms 2·516. Attention 516 + 128 + (64 + 64 + 64)·2 + 16 + 600 + 1,032 =
    // 2,676; MLP norm 516 + 128; MLP 800 → 4,120 per token and layer.
    let gemma = Model::from_config(&json!({
        "model_type": "gemma3_text", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "intermediate_size": 100, "vocab_size": 128
    }))
    .unwrap();
    let e = bf16_training(&gemma, |_| {});
    assert_eq!(
        e.activation_memory.0,
        2 * 16 * 4120 + 16 * (516 + 128) + 24_576
    );
    // Falcon-7B's parallel block: one norm feeds attention and MLP; q 64, one KV head
    // of 16, output 64: attention 128 + 128 + (64 + 32 + 64)·2 + 16 = 592; no MLP norm;
    // plain MLP (1 + 1)·100·2 = 400 → 992. Working set 2·(max(96, 100) + 64)·2 = 656.
    let falcon = toy_falcon(100);
    let e = bf16_training(&falcon, |r| r.gradient_checkpointing = true);
    // Final LayerNorm input and output 16·256; loss 24,576 < one layer 16·(992 + 656).
    assert_eq!(e.activation_memory.0, 4096 + 4096 + 16 * (992 + 656));
}

#[test]
fn mla_training_activations() {
    // DeepSeek-V3 toy (tests/models.rs): q 48, k/v 48 each, o 32. Attention keeps
    // 388 + 128 + (48 + 96 + 32)·2 + 16 = 884 and the latents (32 + 16 + 4)·2 with
    // their copies, 208: 1,092. Dense layer: + 516 + 800 = 2,408, working set
    // 2·(max(144, 200) + 64)·2 = 1,056. MoE layer: + 516, router 32, per routed copy
    // 128 + (3 + 1)·8·2 + 128 = 320 (×2), shared expert 64: 2,344; working set
    // 2·(max(144, 2·(2·8 + 8)) + 64)·2 = 832.
    let m = toy_mla();
    let e = bf16_training(&m, |_| {});
    assert_eq!(e.activation_memory.0, 16 * 2408 + 16 * 2344 + 8256 + 24_576);
    let e = bf16_training(&m, |r| r.gradient_checkpointing = true);
    assert_eq!(e.activation_memory.0, 4096 + 8256 + 16 * (2408 + 1056));
    // Prefill (§5): attention 16·(64 + 48 + 96 + 48 + 48 + 32)·2 = 10,752 plus the
    // latents 16·52·2 = 1,664 is the largest block (MLP 11,648).
    let e = inference(&m, |_| {});
    assert_eq!(e.activation_memory.0, 4096 + 12_416);
}

#[test]
fn freeze_and_partial_training() {
    // A 4-layer toy (V 128): 4·31,616 + 16,384 + 64 = 142,912 parameters.
    let four = Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128
    }))
    .unwrap();
    // Freeze trains the last 2 layers and keeps only their activations.
    let e = bf16_training(&four, |r| r.method = Method::Freeze);
    assert_eq!(e.details.trainable_parameters, 2 * 31_616);
    assert_eq!(e.trainable_percent, 2.0 * 31_616.0 * 100.0 / 142_912.0);
    assert_eq!(e.details.layers_with_activations, 2);
    assert_eq!(e.activation_memory.0, 2 * 16 * 2232 + 8256 + 24_576);
    // 10 %: round(14,291.2) parameters, within one layer.
    let e = bf16_training(&four, |r| {
        r.method = Method::Freeze;
        r.trainable_percent = Some(10.0);
    });
    assert_eq!(e.details.trainable_parameters, 14_291);
    assert_eq!(e.details.layers_with_activations, 1);
    // Full with 50 %: half the parameters, every layer.
    let e = bf16_training(&four, |r| r.trainable_percent = Some(50.0));
    assert_eq!(e.details.trainable_parameters, 71_456);
    assert_eq!(e.details.layers_with_activations, 4);
    assert_eq!(e.trainable_percent, 50.0);
    // The reported share: all of it for full training, the adapters' for LoRA
    // (15,040 of 587,584 on the V 4096 toy).
    assert_eq!(bf16_training(&toy(4096), |_| {}).trainable_percent, 100.0);
    let lora = bf16_training(&toy(4096), |r| r.method = Method::Lora);
    assert_eq!(lora.trainable_percent, 15_040.0 * 100.0 / 587_584.0);
}

#[test]
fn per_tensor_optimizers_hold_the_largest_tensor() {
    // Full training of the V 4096 toy: the largest tensor is the 4096·64 embedding.
    // Adafactor's step: 3 fp32 copies; Lion's: 2 fp32 copies (§7.3).
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_step_workspace.0, 3 * 262_144 * 4);
    let e = training(&toy(4096), |r| r.optimizer = Optimizer::Lion);
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 262_144 * 4);
    assert_eq!(e.details.optimizer_states.0, 4 * 587_584);
    // LoRA's largest adapter matrix: 8 × 100 (gate, up or down).
    let e = training(&toy(4096), |r| {
        r.method = Method::Lora;
        r.optimizer = Optimizer::Lion;
    });
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 800 * 4);
}

#[test]
fn factored_states_count_positions_and_routers() {
    // GPT-2 toy (h 64, 2 layers, V 128, 32 positions, tied): matrices c_attn 64×192,
    // c_proj 64×64, c_fc 64×256, mlp c_proj 256×64 → (256 + 128 + 320 + 320)·2 = 2,048;
    // the tied embedding 128 + 64; positions 32 + 64; vectors (biases, LayerNorms)
    // 110,336 − 98,304 − 10,240 = 1,792. (2,048 + 192 + 96 + 1,792)·4 bytes.
    let gpt2 = Model::from_config(&json!({
        "model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4,
        "vocab_size": 128, "n_positions": 32
    }))
    .unwrap();
    assert_eq!(gpt2.params.total, 110_336);
    let e = training(&gpt2, |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 4128 * 4);
    // Mixtral toy: linear matrices (448 + 8·3·164)·2 = 8,768; embedding and lm_head
    // (128 + 64)·2; routers (64 + 8)·2; norms 320. (8,768 + 384 + 144 + 320)·4.
    let e = training(&toy_moe(128), |r| r.optimizer = Optimizer::Adafactor);
    assert_eq!(e.details.optimizer_states.0, 9616 * 4);
}

#[test]
fn sharding_warnings() {
    let warned = |gpus: u64, stage: u8, text: &str| {
        training(&toy(128), |r| {
            r.num_gpus = gpus;
            r.zero_stage = stage;
        })
        .warnings
        .iter()
        .any(|w| w.contains(text))
    };
    assert!(warned(
        1,
        2,
        "zero_stage 2 shards across GPUs; with num_gpus 1 nothing is sharded"
    ));
    assert!(!warned(1, 0, "shards across GPUs"));
    assert!(!warned(2, 2, "shards across GPUs"));
    // DDP under transformers is the plain data parallelism the user asked for;
    // DeepSpeed at stage 0 is said.
    assert!(!warned(4, 0, "plain data parallelism"));
    assert!(training(&toy(128), |r| {
        r.num_gpus = 4;
        r.framework = Some(Framework::Deepspeed);
    })
    .warnings
    .iter()
    .any(|w| w.contains("num_gpus 4 with zero_stage 0: plain data parallelism")));
    assert!(!warned(4, 1, "plain data parallelism"));
    assert!(!warned(1, 0, "plain data parallelism"));
}

/// Qwen3-MoE toy with every layer MoE (4 experts of 20, top-2) and an
/// `intermediate_size` (5,000) that no layer uses.
fn toy_all_moe() -> Model {
    Model::from_config(&json!({
        "model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "num_experts": 4, "num_experts_per_tok": 2, "intermediate_size": 5000,
        "vocab_size": 128
    }))
    .unwrap()
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
    assert_eq!(e.activation_memory.0, 4096 + 8256 + 16 * (2880 + 768));
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
    assert_eq!(e.activation_memory.0, 4096 + 4096 + 16 * (1184 + 768));
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
fn mxfp4_quantizes_every_linear_of_a_dense_model() {
    // §3 MXFP4: 4 bits per weight and an 8-bit scale per 32 inputs per output. q and o
    // (64 → 64, ×2 each) 16,384 + 1,024; k, v (64 → 32, ×4) 8,192 + 512; gate and up
    // (64 → 100, ×4) 25,600 + 1,600; down (100 → 64, ×2) 25,600 + 2,048: 268,544 bits.
    // The other 16,704 parameters in 16-bit: 267,264 bits.
    let e = inference(&toy(128), |r| {
        r.quantization = Some(calculator::Quantization::Mxfp4)
    });
    assert_eq!(e.model_weights.0, (268_544 + 267_264) / 8);
    // Generic int4 on the Mixtral toy quantizes experts and attention alike: per layer
    // q, o 4·4,096 + 20·64 and k, v 4·2,048 + 20·32 (one group of 128 inputs per
    // output); 16 experts' gate, up 4·6,400 + 20·100 and 8 downs 4·6,400 + 20·64.
    let e = inference(&toy_moe(128), |r| r.precision = Some(Precision::Int4));
    let attention = 2 * (2 * (16_384 + 1280) + 2 * (8192 + 640));
    let experts = 32 * (25_600 + 2000) + 16 * (25_600 + 1280);
    let rest = toy_moe(128).params.total - 2 * 12_288 - 16 * 19_200;
    assert_eq!(
        e.model_weights.0 as u128,
        (attention + experts + rest * 16) / 8
    );
}

#[test]
fn freeze_counts_the_last_layers_of_each_kind() {
    // Mixtral toy: both of its (MoE) layers, 12,288 + 128 + 512 + 8·19,200 each.
    let e = training(&toy_moe(128), |r| r.method = Method::Freeze);
    assert_eq!(e.details.trainable_parameters, 2 * 166_528);
}

#[test]
fn lora_adafactor_and_largest_linear() {
    // Adafactor on rank-8 adapters: each adapter pair A (8 × n_in) and B (n_out × 8)
    // keeps (8 + n_in) + (n_out + 8) values: q 144, k 112, v 112, o 144, gate, up and
    // down 180 each → 1,052 per layer, fp32.
    let e = training(&toy(128), |r| {
        r.method = Method::Lora;
        r.optimizer = Optimizer::Adafactor;
    });
    assert_eq!(e.details.optimizer_states.0, 2 * 1052 * 4);
    // Full training with a 16-token vocabulary: the largest tensor is the 64 × 100
    // MLP matrix, not the 16 × 64 embedding; Lion holds 2 fp32 copies of it.
    let e = training(&toy(16), |r| r.optimizer = Optimizer::Lion);
    assert_eq!(e.details.optimizer_step_workspace.0, 2 * 6400 * 4);
}

#[test]
fn trainable_percent_is_a_percentage() {
    for bad in [-1.0, 100.5, f64::NAN] {
        let mut req = TrainingRequest::new(2, 8);
        req.trainable_percent = Some(bad);
        match estimate_training(&toy(128), &req) {
            Err(calculator::CalcError::InvalidField { field, .. }) => {
                assert_eq!(field, "trainable_parameters", "{bad}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn warnings_only_where_they_apply() {
    // trainable_parameters 100 with full training is the default, not a conflict.
    let e = training(&toy(128), |r| r.trainable_percent = Some(100.0));
    assert!(
        !e.warnings.iter().any(|w| w.contains("ignored")),
        "{:?}",
        e.warnings
    );
    // A training sequence shorter than max_position_embeddings is not warned.
    let m = Model::from_config(&json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128, "max_position_embeddings": 12
    }))
    .unwrap();
    assert!(training(&m, |_| {}).warnings.is_empty());
    // Mixed precision is reported as applied, except for fp32 compute.
    assert!(training(&toy(128), |_| {}).mixed_precision);
    assert!(!training(&toy(128), |r| r.precision = Some(Precision::Float32)).mixed_precision);
    assert!(!training(&toy(128), |r| r.mixed_precision = false).mixed_precision);
}

/// Saved tensors per token of one decoder layer, as measured with saved-tensor hooks
/// on an H100 (transformers 5.17.0, torch 2.11, `scripts/device/saved_tensors.py`) for
/// a Llama layer of hidden 512, MLP 1,408, 8 query and 2 KV heads. The measurement also
/// saw the rotary cos/sin (2 · 64 values per token, shared by every layer of a model,
/// not counted here) and, misfiled by the script as activations, autocast's copies of
/// the k/v weights (256 bytes per token at 1,024 tokens) and the LoRA B weights (4).
#[test]
fn saved_tensors_per_layer_match_the_h100_measurement() {
    let model = |layers: u64| {
        Model::from_config(&json!({
            "model_type": "llama", "hidden_size": 512, "intermediate_size": 1408,
            "num_attention_heads": 8, "num_key_value_heads": 2, "num_hidden_layers": layers,
            "vocab_size": 1000, "torch_dtype": "bfloat16"
        }))
        .unwrap()
    };
    // One layer more adds exactly one layer's saved tensors (the working set of the
    // backward, 2·(2,816 + 512)·2 per token, exceeds the loss's 12,000 in both).
    let per_layer = |edit: &dyn Fn(&mut TrainingRequest)| {
        let run = |layers| {
            let mut req = TrainingRequest::new(1, 1024);
            edit(&mut req);
            estimate_training(&model(layers), &req)
                .unwrap()
                .activation_memory
                .0
        };
        (run(3) - run(2)) / 1024
    };
    // bf16 model, no autocast (measured 22,312 − cos/sin 256).
    assert_eq!(
        per_layer(&|r| r.framework = Some(Framework::Deepspeed)),
        22_056
    );
    // fp32 model under bf16 autocast (measured 27,944 − cos/sin 512 − k/v weight
    // copies 256): fp32 residual, each projection's own bf16 copy of its input.
    assert_eq!(
        per_layer(&|r| r.framework = Some(Framework::Transformers)),
        27_176
    );
    // bf16 base, fp32 rank-8 LoRA on every linear under autocast, dropout 0 and 0.05
    // (measured 24,476 and 28,956, each − cos/sin 256 − LoRA B weights 4).
    let lora = |p: f64| {
        per_layer(&move |r| {
            r.framework = Some(Framework::Transformers);
            r.method = Method::Lora;
            r.lora_dropout = p;
        })
    };
    assert_eq!(lora(0.0), 24_216);
    assert_eq!(lora(0.05), 28_696);
}

#[test]
fn adapter_copies_of_latent_attention_and_routed_dropout_masks() {
    // DeepSeek-V3 toy, rank-8 LoRA on every linear: under autocast (transformers) each
    // adapter saves its own input. Attention per layer: q_a and kv_a read the 64-wide
    // norm output, q_b, kv_b and o read the q latent 32, the KV latent 16 and the
    // attention output 32: (2·64 + 80)·2 = 416 instead of the shared norm output
    // 64·2 = 128 (the latents and the attention output are saved anyway). The MLP norm
    // output feeds the dense gate/up and the shared expert's gate/up (counted together,
    // §7.5): 4·64·2 = 512 instead of 128. Per token and layer +288 + 384 = 672 over 2
    // layers and 16 tokens.
    let m = toy_mla();
    let lora = |framework| {
        training(&m, |r| {
            r.method = Method::Lora;
            r.framework = Some(framework);
        })
        .activation_memory
        .0
    };
    assert_eq!(
        lora(Framework::Transformers) - lora(Framework::Deepspeed),
        2 * 16 * 672
    );
    // Mixtral toy: dropout masks, 1 byte per adapted input value. Per layer q, k, v, o
    // read 4·64 = 256; the experts' gate/up (8·2·64) and down (8·100) inputs are seen
    // by 2 of 8 experts' tokens: (1,024 + 800)·2/8 = 456 → 712 per token and layer.
    let moe = toy_moe(128);
    let dropout = |p: f64| {
        training(&moe, |r| {
            r.method = Method::Lora;
            r.framework = Some(Framework::Transformers);
            r.lora_dropout = p;
        })
        .activation_memory
        .0
    };
    assert_eq!(dropout(0.1) - dropout(0.0), 2 * 16 * 712);
}
