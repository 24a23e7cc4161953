//! What one micro-batch keeps for backward (methodology §7.5), to the byte on toy
//! models and against the tensors saved in a measured run: checkpointing, QLoRA's
//! fp32 stream, MoE, latent attention, norms, adapters, and the mixers' kernels.

use calculator::{
    estimate_training, Choice, Framework, Method, MixerKind, Model, RegistryEntry, StepPhase,
    TrainingEstimate, TrainingRequest,
};
use serde_json::{json, Value};
use testkit::configs::{llama4_scout_text, minimax_m2};
use testkit::models::model;
use testkit::toys::{bf16_training, inference, toy, toy_falcon, toy_mla, toy_moe, training};

/// Every registry model with a linear-attention or state-space mixer.
fn hybrids() -> Vec<&'static Model> {
    let all: Vec<&Model> = RegistryEntry::all()
        .iter()
        .map(|e| &e.model)
        .filter(|m| m.arch.mixer.is_some())
        .collect();
    assert!(all.len() >= 6, "the registry's hybrids: {}", all.len());
    all
}

fn train(model: &Model, batch: u64, method: Method, checkpointing: bool) -> TrainingEstimate {
    let mut r = TrainingRequest::new(batch, 2048);
    r.method = method;
    r.gradient_checkpointing = checkpointing;
    estimate_training(model, &r).unwrap_or_else(|e| panic!("{:?}: {e}", model.name))
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
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        71_424 + 8256 + 24_576
    );
}

#[test]
fn training_activations_with_checkpointing() {
    // Each layer keeps its input 2 · 16 · 128 = 4,096; one layer recomputed with its
    // working set 16 · (2,232 + 1,056) = 52,608 > loss 24,576; final norm 8,256.
    let e = bf16_training(&toy(128), |r| r.gradient_checkpointing = true);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 8256 + 52_608
    );
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
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        8192 + 6208 + 50_304
    );
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
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        114_432 + 8256 + 29_696
    );
    let e = bf16_training(&m, |r| r.gradient_checkpointing = true);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 8256 + 16 * (3576 + 1856)
    );
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
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        2 * 16 * 1712 + 6208 + 24_576
    );
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
        e.phase(StepPhase::Forward).activations.0,
        2 * 16 * 4120 + 16 * (516 + 128) + 24_576
    );
    // Falcon-7B's parallel block: one norm feeds attention and MLP; q 64, one KV head
    // of 16, output 64: attention 128 + 128 + (64 + 32 + 64)·2 + 16 = 592; no MLP norm;
    // plain MLP (1 + 1)·100·2 = 400 → 992. Working set 2·(max(96, 100) + 64)·2 = 656.
    let falcon = toy_falcon(100);
    let e = bf16_training(&falcon, |r| r.gradient_checkpointing = true);
    // Final LayerNorm input and output 16·256; loss 24,576 < one layer 16·(992 + 656).
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 4096 + 16 * (992 + 656)
    );
}

#[test]
fn mla_training_activations() {
    // DeepSeek-V3 toy (`testkit::toys`): q 48, k/v 48 each, o 32. Attention keeps
    // 388 + 128 + (48 + 96 + 32)·2 + 16 = 884 and the latents (32 + 16 + 4)·2 with
    // their copies, 208: 1,092. Dense layer: + 516 + 800 = 2,408, working set
    // 2·(max(144, 200) + 64)·2 = 1,056. MoE layer: + 516, router 32, per routed copy
    // 128 + (3 + 1)·8·2 + 128 = 320 (×2), shared expert 64: 2,344; working set
    // 2·(max(144, 2·(2·8 + 8)) + 64)·2 = 832.
    let m = toy_mla();
    let e = bf16_training(&m, |_| {});
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        16 * 2408 + 16 * 2344 + 8256 + 24_576
    );
    let e = bf16_training(&m, |r| r.gradient_checkpointing = true);
    assert_eq!(
        e.phase(StepPhase::Forward).activations.0,
        4096 + 8256 + 16 * (2408 + 1056)
    );
    // Prefill (§5): attention 16·(64 + 48 + 96 + 48 + 48 + 32)·2 = 10,752 plus the
    // latents 16·52·2 = 1,664 is the largest block (MLP 11,648).
    let e = inference(&m, |_| {});
    assert_eq!(e.activation_memory.0, 4096 + 12_416);
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
        .phase(StepPhase::Forward)
        .activations
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
        .phase(StepPhase::Forward)
        .activations
        .0
    };
    assert_eq!(dropout(0.1) - dropout(0.0), 2 * 16 * 712);
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
                .phase(StepPhase::Forward)
                .activations
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

/// What a training step saves of q/k norms: MiniMax-M2's norm over all heads keeps one
/// inverse RMS per token for q and one for k, a per-head norm one per head; Llama 4's
/// weightless norm keeps its fp32 input and inverse RMS on its 3 rotary layers of 4.
#[test]
fn qk_norm_layouts_save_what_they_normalize() {
    let activations = |config: Value| {
        let m = model(config);
        let mut r = TrainingRequest::new(1, 100);
        r.method = calculator::Method::Full;
        estimate_training(&m, &r)
            .unwrap()
            .phase(StepPhase::Forward)
            .activations
            .0 as i128
    };
    let mut small = minimax_m2();
    for (k, v) in [
        ("hidden_size", 64),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 8),
        ("num_key_value_heads", 2),
        ("head_dim", 16),
        ("num_local_experts", 2),
        ("num_experts_per_tok", 1),
        ("intermediate_size", 32),
        ("vocab_size", 128),
    ] {
        small[k] = json!(v);
    }
    let across = activations(small.clone());
    small["qk_norm_type"] = json!("per_head");
    let per_head = activations(small);
    // 100 tokens, 2 layers: (8 + 2) inverse RMS per token instead of 2, fp32.
    assert_eq!(per_head - across, 2 * 100 * (10 - 2) * 4);

    let mut l4 = llama4_scout_text();
    for (k, v) in [
        ("hidden_size", 64),
        ("num_hidden_layers", 4),
        ("num_attention_heads", 8),
        ("num_key_value_heads", 2),
        ("head_dim", 16),
        ("num_local_experts", 2),
        ("intermediate_size", 32),
        ("intermediate_size_mlp", 32),
        ("vocab_size", 128),
    ] {
        l4[k] = json!(v);
    }
    let with = activations(l4.clone());
    l4["use_qk_norm"] = json!(false);
    let without = activations(l4);
    // On 3 of the 4 layers: q and k in fp32 (128 + 32 values) and 10 inverse RMS.
    assert_eq!(with - without, 3 * 100 * ((128 + 32) * 4 + 10 * 4));
}

/// DeepSeek-V3.2's indexer under LoRA on every linear: its `wk` reads the normalized
/// input and its `wq_b` the query latent, so each keeps a 16-bit copy of its input for
/// its fp32 adapter, and each adapter its rank-8 `lora_A` output (methodology §7.5).
#[test]
fn the_indexer_adds_its_adapters_inputs() {
    let toy = |indexer: bool| {
        let mut c = json!({"model_type": "deepseek_v3", "hidden_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "q_lora_rank": 32,
            "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
            "v_head_dim": 8, "intermediate_size": 32, "moe_intermediate_size": 8,
            "n_routed_experts": 2, "num_experts_per_tok": 1, "first_k_dense_replace": 2,
            "vocab_size": 16, "torch_dtype": "bfloat16"});
        if indexer {
            c["model_type"] = json!("deepseek_v32");
            c["index_n_heads"] = json!(2);
            c["index_head_dim"] = json!(8);
        }
        let mut r = TrainingRequest::new(1, 100);
        r.method = calculator::Method::Lora;
        estimate_training(&model(c), &r)
            .unwrap()
            .phase(StepPhase::Forward)
            .activations
            .0
    };
    // Per token and layer: h + q_lora 16-bit input copies, two rank-8 outputs.
    assert_eq!(
        toy(true) - toy(false),
        2 * 100 * ((64 + 32) * 2 + 2 * 8 * 2)
    );
}

#[test]
fn every_hybrid_family_trains_and_says_how_its_activations_are_known() {
    for m in hybrids() {
        for method in [Method::Full, Method::Lora, Method::Freeze] {
            let e = train(m, 1, method, false);
            let kind = m.arch.mixer.unwrap().kind;
            let kernels = match kind {
                MixerKind::GatedDeltaNet | MixerKind::KimiDelta => "flash-linear-attention",
                MixerKind::Mamba2 | MixerKind::Mamba1 => "mamba_ssm",
            };
            assert!(
                e.warnings.iter().any(|w| w.message.contains(kind.name())
                    && w.message.contains(kernels)
                    && w.message.contains("not yet measured")),
                "{:?}: {:?}",
                m.name,
                e.warnings
            );
            assert!(
                e.phase(StepPhase::Forward).activations.0 > 0,
                "{:?}",
                m.name
            );
        }
    }
}

/// Every term is per token (the chunk states too, at 2,048 tokens a sequence), so two
/// sequences keep exactly twice what one does; checkpointing keeps less.
#[test]
fn hybrid_activations_follow_the_batch_exactly() {
    for m in hybrids() {
        let kept = |batch, checkpointing| {
            train(m, batch, Method::Full, checkpointing)
                .phase(StepPhase::Forward)
                .activations
                .0
        };
        for checkpointing in [false, true] {
            let (one, two) = (kept(1, checkpointing), kept(2, checkpointing));
            assert_eq!(two, 2 * one, "{:?} checkpointing {checkpointing}", m.name);
        }
        assert!(kept(1, true) < kept(1, false), "{:?}", m.name);
    }
}

/// Freeze trains the last two blocks as they are: Nemotron Nano 2's pattern ends in a
/// Mamba-2 block and an MLP block (`...M-`). Mamba: in_proj 4,480 x 22,656, out_proj
/// 10,240 x 4,480, conv 12,288 x 4 with bias, dt_bias/A_log/D over 128 heads, the gated
/// norm 10,240 and the block norm 4,480. MLP: up and down 4,480 x 15,680 (squared ReLU,
/// no gate) and the block norm.
#[test]
fn freeze_trains_the_last_blocks_it_names() {
    let m = &RegistryEntry::lookup("NVIDIA-Nemotron-Nano-9B-v2")
        .unwrap()
        .model;
    let mamba = 4480 * 22656 + 10240 * 4480 + 12288 * 5 + 3 * 128 + 10240 + 4480;
    let mlp = 2 * 4480 * 15680 + 4480;
    let e = train(m, 1, Method::Freeze, false);
    assert_eq!(e.details.trainable_parameters, mamba + mlp);
    assert_eq!(e.details.layers_with_activations, 2);
    // A percentage is taken from the last blocks: just over the last block's share
    // needs two.
    let mut r = TrainingRequest::new(1, 2048);
    r.method = Method::Freeze;
    r.trainable_percent = Some((mlp + 1) as f64 * 100.0 / m.params.total as f64);
    let e = estimate_training(m, &r).unwrap();
    assert_eq!(e.details.layers_with_activations, 2);
}
