//! Reading models: each family's rules on toy configs whose parameter counts are worked
//! out by hand (methodology §1–2), explicit fields with and without `model_size`, and
//! the config errors and warnings.

use calculator::{
    estimate_inference, families, CalcError, ExplicitModel, InferenceRequest, Model, Precision,
};
use serde_json::{json, Value};

fn model(config: Value) -> Model {
    Model::from_config(&config).unwrap()
}

fn error_field(config: Value) -> String {
    match Model::from_config(&config) {
        Err(CalcError::InvalidField { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

/// A small llama config; `extra` overrides or adds keys.
fn llama(extra: Value) -> Value {
    let mut c = json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 100,
        "vocab_size": 128
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

// Toy llama (h 64, L 2, 4 heads, 2 KV heads of 16, I 100, V 128): per layer attention
// 12,288, MLP 19,200, norms 128; embedding and lm_head 8,192 each; final norm 64:
// 2 · 31,616 + 16,384 + 64 = 79,680.
const TOY_LLAMA: u128 = 79_680;

#[test]
fn mlp_biases_gated_and_plain() {
    // Gated MLP with biases: gate and up (2·100) and down (64) per layer.
    let m = model(llama(json!({"mlp_bias": true})));
    assert_eq!(m.params.total, TOY_LLAMA + 2 * 264);
    // Falcon-7B's layout: fused q/k/v for 4 heads + 1 shared KV head 64·(64 + 32),
    // output 64·64, plain MLP 2·64·100, biases 96 + 64 + 100 + 64, one LayerNorm
    // (weight and bias) per layer; tied; final LayerNorm 128.
    let falcon = model(json!({
        "model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 128, "ffn_hidden_size": 100, "bias": true
    }));
    let layer = 6144 + 4096 + 12_800 + 96 + 64 + 100 + 64 + 128;
    assert_eq!(falcon.params.total, 2 * layer + 8192 + 128);
    assert_eq!(falcon.arch.num_kv_heads, 1);
}

#[test]
fn moe_families_count_routers_shared_experts_and_expert_biases() {
    // gpt-oss: attention with biases (128 + 64) and 4 sinks; router 64·4 + 4 biases;
    // 4 experts of 3·64·100 weights and 2·100 + 64 biases; untied.
    let oss = model(json!({
        "model_type": "gpt_oss", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "intermediate_size": 100, "num_local_experts": 4, "experts_per_token": 2,
        "vocab_size": 128
    }));
    let layer = 12_288 + 192 + 4 + 128 + 260 + 4 * (19_200 + 264);
    assert_eq!(oss.params.total, 2 * layer + 16_384 + 64);
    // A token visits 2 of the 4 experts.
    assert_eq!(oss.params.active, oss.params.total - 2 * 2 * 19_464);
    // Qwen2-MoE: q/k/v biases 128; router 64·4; shared expert 3·64·60 and its gate 64;
    // 4 experts of 3·64·20.
    let qwen = model(json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "num_experts_per_tok": 2,
        "vocab_size": 128
    }));
    let layer = 12_288 + 128 + 128 + 256 + 11_520 + 64 + 4 * 3840;
    assert_eq!(qwen.params.total, 2 * layer + 16_384 + 64);
    // Linear weights (the quantizable ones) of 3 such layers: attention, shared expert
    // and experts, 12,288 + 11,520 + 15,360 each.
    let three = model(json!({
        "model_type": "qwen2_moe", "hidden_size": 64, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "shared_expert_intermediate_size": 60, "num_experts": 4, "vocab_size": 128
    }));
    assert_eq!(three.params.linear, 3 * 39_168);
    // A dense model has no MoE layer.
    assert_eq!(model(llama(json!({}))).params.moe_layer, 0);
}

/// A DeepSeek-V3-style toy: MLA (q rank 32, KV rank 16, nope 8, rope 4, v 8), layer 0
/// dense (I 100), layer 1 MoE with 8 routed experts of 8 and one shared, biased.
fn toy_mla() -> Model {
    model(json!({
        "model_type": "deepseek_v3", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
        "intermediate_size": 100, "moe_intermediate_size": 8, "n_routed_experts": 8,
        "n_shared_experts": 1, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
        "vocab_size": 128, "attention_bias": true
    }))
}

#[test]
fn multi_head_latent_attention() {
    // q_a 64·32, q_b 32·4·12, kv_a 64·(16 + 4), kv_b 16·4·(8 + 8), o 4·8·64 = 7,936;
    // biases on q_a, kv_a and o (32 + 20 + 64) and the latent norms (32 + 16) = 164.
    // Dense layer: + norms 128 + MLP 19,200 = 27,428. MoE layer: + router 64·8 and its
    // 8 correction biases, shared 3·64·8, 8 experts of 3·64·8 = 22,572.
    let m = toy_mla();
    assert_eq!(m.params.total, 27_428 + 22_572 + 16_384 + 64);
    assert_eq!(m.params.active, m.params.total - 6 * 1536);
    assert_eq!(m.arch.head_dim, 12);
    // KV cache: the latent and the rope key, (16 + 4) · 2 bytes per token and layer.
    let e = estimate_inference(&m, &InferenceRequest::new(2, 8)).unwrap();
    assert_eq!(e.kv_cache.0, 40 * 2 * 8 * 2);
}

#[test]
fn opt_projections_and_final_norm() {
    // OPT-350m's layout: a 32-wide embedding projected to 64 and back (2·32·64), learned
    // positions (16 + 2)·64, LayerNorms with bias, biased plain MLP; no final norm when
    // do_layer_norm_before is false.
    let config = json!({
        "model_type": "opt", "hidden_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "ffn_dim": 100, "vocab_size": 128,
        "word_embed_proj_dim": 32, "max_position_embeddings": 16,
        "do_layer_norm_before": false
    });
    let m = model(config.clone());
    let layer = 16_384 + 256 + 12_800 + 164 + 256;
    assert_eq!(m.params.total, 2 * layer + 128 * 32 + 18 * 64 + 2 * 32 * 64);
    assert_eq!(m.params.dense_layer, layer);
    let mut with_norm = config;
    with_norm["do_layer_norm_before"] = json!(true);
    assert_eq!(model(with_norm).params.total, m.params.total + 128);
}

#[test]
fn sliding_windows_by_family_and_layer_types() {
    let slide = |config: Value| model(config).arch.sliding_layers;
    // Llama ignores a sliding_window; Mistral applies it to every layer.
    assert_eq!(slide(llama(json!({"sliding_window": 16}))), 0);
    assert_eq!(
        slide(llama(
            json!({"model_type": "mistral", "sliding_window": 16})
        )),
        2
    );
    assert_eq!(
        model(llama(json!({"sliding_window": 16})))
            .arch
            .sliding_window,
        None
    );
    // layer_types decides whatever the family.
    let typed = llama(json!({"sliding_window": 16,
        "layer_types": ["sliding_attention", "full_attention"]}));
    assert_eq!(slide(typed), 1);
    let missing_window = llama(json!({"layer_types": ["sliding_attention", "full_attention"]}));
    assert_eq!(error_field(missing_window), "config.sliding_window");
}

#[test]
fn qwen_moe_defaults_are_their_config_classes() {
    // Without num_experts_per_tok: Qwen2MoeConfig routes to 4, Qwen3MoeConfig to 8.
    let top_k = |t: &str| {
        model(
            json!({"model_type": t, "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "moe_intermediate_size": 20, "num_experts": 16,
            "vocab_size": 128}),
        )
        .arch
        .moe
        .unwrap()
        .experts_per_token
    };
    assert_eq!((top_k("qwen2_moe"), top_k("qwen3_moe")), (4, 8));
}

#[test]
fn qwen_moe_dense_layers() {
    let base = json!({
        "model_type": "qwen3_moe", "hidden_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "moe_intermediate_size": 20,
        "num_experts": 4, "vocab_size": 128, "intermediate_size": 100
    });
    let moe_layers = |extra: Value| {
        let mut c = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        model(c).arch.moe.unwrap().moe_layers
    };
    assert_eq!(moe_layers(json!({})), 4);
    assert_eq!(moe_layers(json!({"mlp_only_layers": [0, 3]})), 2);
    assert_eq!(moe_layers(json!({"decoder_sparse_step": 2})), 2);
    // Every second layer, counted from the second: of 3 layers, only layer 1.
    assert_eq!(
        moe_layers(json!({"decoder_sparse_step": 2, "num_hidden_layers": 3})),
        1
    );
    let mut out_of_range = base.clone();
    out_of_range["mlp_only_layers"] = json!([4]);
    assert_eq!(error_field(out_of_range), "config.mlp_only_layers");
    let mut no_dense_width = base;
    no_dense_width["mlp_only_layers"] = json!([0]);
    no_dense_width
        .as_object_mut()
        .unwrap()
        .remove("intermediate_size");
    assert_eq!(error_field(no_dense_width), "config.intermediate_size");
}

#[test]
fn config_errors_and_warnings() {
    // Heads must divide: 3 KV heads for 4 query heads, or more KV than query heads.
    assert_eq!(
        error_field(llama(json!({"num_key_value_heads": 3}))),
        "config.num_key_value_heads"
    );
    assert_eq!(
        error_field(llama(json!({"num_key_value_heads": 8}))),
        "config.num_key_value_heads"
    );
    assert_eq!(
        model(llama(json!({"num_key_value_heads": 4})))
            .arch
            .num_kv_heads,
        4
    );
    // A hidden size that heads do not divide needs head_dim.
    assert_eq!(
        error_field(llama(json!({"hidden_size": 66}))),
        "config.head_dim"
    );
    // Top-k may equal the expert count, not exceed it.
    let mixtral = |k: u64| {
        Model::from_config(&llama(
            json!({"model_type": "mixtral", "num_local_experts": 4,
            "num_experts_per_tok": k}),
        ))
    };
    assert_eq!(mixtral(4).unwrap().arch.moe.unwrap().experts_per_token, 4);
    assert!(mixtral(5).is_err());
    // A quantized torch_dtype is not a compute dtype: warned, and the default used.
    let m = model(llama(json!({"torch_dtype": "float8_e4m3fn"})));
    assert_eq!(m.arch.torch_dtype, None);
    assert!(m.warnings[0].contains("float8_e4m3fn"), "{:?}", m.warnings);
    assert_eq!(m.default_precision(), Precision::Bfloat16);
}

/// Inference on `model` with one sequence of one token and `edit` applied.
fn infer(m: &Model, edit: impl FnOnce(&mut InferenceRequest)) -> calculator::InferenceEstimate {
    let mut req = InferenceRequest::new(1, 1);
    edit(&mut req);
    estimate_inference(m, &req).unwrap()
}

#[test]
fn published_checkpoints_are_sized_as_published() {
    use calculator::Quantization;
    let fp8 = model(llama(json!({"quantization_config":
        {"quant_method": "fp8", "weight_block_size": [128, 128]}})));
    let e = infer(&fp8, |_| {});
    assert_eq!(
        (e.weight_format.precision, e.weight_format.quantization),
        (Precision::Float8, Some(Quantization::Fp8))
    );
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("sized as the published checkpoint stores it (fp8)")));
    // Asking for the checkpoint's own format says nothing more; asking for another says
    // it departs.
    let same = infer(&fp8, |r| r.quantization = Some(Quantization::Fp8));
    assert!(same.warnings.is_empty(), "{:?}", same.warnings);
    let other = infer(&fp8, |r| r.precision = Some(Precision::Bfloat16));
    assert_eq!(other.model_weights.0, 2 * TOY_LLAMA as u64);
    assert!(other.warnings[0].contains("stores its weights in fp8"));
    // A method with no format here: the model's dtype, and the reason.
    let exl2 = infer(
        &model(llama(
            json!({"quantization_config": {"quant_method": "exl2"}}),
        )),
        |_| {},
    );
    assert_eq!(exl2.weight_format.precision, Precision::Bfloat16);
    assert!(exl2
        .warnings
        .iter()
        .any(|w| w.contains("'exl2' has no matching format")));
}

#[test]
fn modules_a_checkpoint_leaves_unquantized_stay_16_bit() {
    // AWQ, groups of 64, attention left in 16-bit (§3): gate and up (64 → 100, ×4)
    // 4·6,400 + 1·100·20 bits each, down (100 → 64, ×2) 4·6,400 + 2·64·20; the other
    // 79,680 − 38,400 = 41,280 parameters in 16-bit.
    let attention = model(llama(json!({"quantization_config": {"quant_method": "awq",
        "bits": 4, "group_size": 64, "modules_to_not_convert": ["self_attn"]}})));
    let e = infer(&attention, |_| {});
    assert_eq!(
        e.model_weights.0,
        (4 * 27_600 + 2 * 28_160 + 41_280 * 16) / 8
    );
    assert_eq!(e.weight_format.group_size, 64);
    // The first layer left in 16-bit: only layer 1's linears are 4-bit: q and o
    // 4·4,096 + 64·20, k and v 4·2,048 + 32·20, gate, up and down as above.
    let first = model(llama(json!({"quantization_config": {"quant_method": "awq",
        "bits": 4, "group_size": 64, "modules_to_not_convert": ["model.layers.0."]}})));
    let layer_bits = 2 * 17_664 + 2 * 8832 + 2 * 27_600 + 28_160;
    assert_eq!(
        infer(&first, |_| {}).model_weights.0,
        (layer_bits + (79_680 - 31_488) * 16) / 8
    );
    // Routers, norms, embeddings and lm_head are 16-bit anyway; unknown names are said.
    let known = model(llama(json!({"quantization_config": {"quant_method": "awq",
        "modules_to_not_convert": ["lm_head", "model.embed_tokens", "mlp.gate", "frobnicator"]}})));
    let e = infer(&known, |_| {});
    assert!(e.unquantized_modules.is_empty());
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("'frobnicator' not recognised")));
}

#[test]
fn quantization_configs_read_as_formats() {
    use calculator::checkpoint::Checkpoint;
    use calculator::Quantization::*;
    let read = |c: Value| Checkpoint::parse(&c).unwrap().format.unwrap();
    let gptq = read(json!({"quant_method": "gptq", "bits": 8, "group_size": -1}));
    assert_eq!(
        (gptq.precision, gptq.quantization),
        (Precision::Int8, Some(Gptq))
    );
    assert_eq!(gptq.group_size, calculator::limits::MAX_GROUP_SIZE);
    let nf4 = read(json!({"quant_method": "bitsandbytes", "load_in_4bit": true,
        "bnb_4bit_use_double_quant": true}));
    assert_eq!((nf4.precision, nf4.double_quant), (Precision::Int4, true));
    let int8 = read(json!({"quant_method": "bitsandbytes", "load_in_8bit": true}));
    assert_eq!(int8.precision, Precision::Int8);
    let ct = read(
        json!({"quant_method": "compressed-tensors", "config_groups": {"group_0":
        {"weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}}}}),
    );
    assert_eq!(
        (ct.precision, ct.quantization, ct.group_size),
        (Precision::Int4, None, 128)
    );
    let per_tensor = read(json!({"quant_method": "fp8"}));
    assert_eq!(
        (per_tensor.precision, per_tensor.quantization),
        (Precision::Float8, None)
    );
    assert_eq!(
        read(json!({"quant_method": "mxfp4"})).quantization,
        Some(Mxfp4)
    );
}

#[test]
fn quantization_config_edge_cases() {
    use calculator::checkpoint::Checkpoint;
    let parse = |c: Value| Checkpoint::parse(&c).unwrap();
    // AWQ has no 8-bit format (GPTQ has): said, not sized.
    let awq8 = parse(json!({"quant_method": "awq", "bits": 8}));
    assert!(awq8.format.is_none());
    assert!(awq8.notes[0].starts_with("8-bit awq checkpoints have no matching format"));
    assert_eq!(
        parse(json!({"quant_method": "gptq", "bits": 8}))
            .format
            .unwrap()
            .precision,
        Precision::Int8
    );
    // group_size 0 or -1: one group per input channel; a positive one as given.
    for g in [0, -1] {
        let f = parse(json!({"quant_method": "gptq", "bits": 4, "group_size": g}))
            .format
            .unwrap();
        assert_eq!(f.group_size, calculator::limits::MAX_GROUP_SIZE, "{g}");
    }
    assert_eq!(
        parse(json!({"quant_method": "awq", "q_group_size": 32}))
            .format
            .unwrap()
            .group_size,
        32
    );
    // compressed-tensors: float 8 is FP8, int 8 int8 (per channel unless grouped),
    // other widths are said; FP8 with channel scales is noted.
    let ct = |weights: Value| {
        parse(json!({"quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"weights": weights}}}))
    };
    let fp8 = ct(json!({"num_bits": 8, "type": "float", "strategy": "channel"}));
    assert_eq!(fp8.format.unwrap().precision, Precision::Float8);
    assert!(fp8.notes[0].contains("channel scales"));
    let tensor = ct(json!({"num_bits": 8, "type": "float", "strategy": "tensor"}));
    assert!(tensor.notes.is_empty());
    let int8 = ct(json!({"num_bits": 8, "type": "int", "strategy": "channel", "group_size": 64}));
    let int8 = int8.format.unwrap();
    assert_eq!(
        (int8.precision, int8.group_size),
        (Precision::Int8, calculator::limits::MAX_GROUP_SIZE)
    );
    let grouped0 = ct(json!({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 0}));
    assert_eq!(
        grouped0.format.unwrap().group_size,
        calculator::limits::MAX_GROUP_SIZE
    );
    let odd = ct(json!({"num_bits": 2, "type": "int"}));
    assert!(odd.format.is_none() && odd.notes[0].contains("int 2-bit"));
    let float4 = ct(json!({"num_bits": 4, "type": "float"}));
    assert!(float4.format.is_none());
}

#[test]
fn families_compare_by_name() {
    assert_eq!(families::lookup("llama"), Some(&families::LLAMA));
    assert_ne!(families::LLAMA, families::MISTRAL);
    assert_eq!(format!("{:?}", families::QWEN3), "qwen3");
}

fn explicit(hidden: u64, layers: u64, heads: u64) -> ExplicitModel {
    ExplicitModel {
        hidden_size: hidden,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        ..ExplicitModel::default()
    }
}

#[test]
fn explicit_fields_with_their_defaults() {
    // h 64, 2 layers, 4 heads of 16, all heads KV; vocabulary 32,000 and MLP 4h = 256
    // assumed (warned). Per layer 4·64·64 + 3·64·256 + 128 = 65,664.
    let m = Model::from_explicit(&explicit(64, 2, 4)).unwrap();
    assert_eq!(
        (
            m.arch.head_dim,
            m.arch.num_kv_heads,
            m.arch.intermediate_size
        ),
        (16, 4, 256)
    );
    assert_eq!(m.params.total, 2 * 65_664 + 2 * 32_000 * 64 + 64);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    // A hidden size the heads do not divide needs head_dim; KV heads must divide.
    let field = |e: ExplicitModel| match Model::from_explicit(&e) {
        Err(CalcError::InvalidField { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(explicit(66, 2, 4)), "head_dim");
    let mut odd = explicit(64, 2, 4);
    odd.num_key_value_heads = Some(3);
    assert_eq!(field(odd), "num_key_value_heads");
    odd.num_key_value_heads = Some(8);
    assert_eq!(field(odd), "num_key_value_heads");
    odd.num_key_value_heads = Some(4);
    assert!(Model::from_explicit(&odd).is_ok());
    odd.num_key_value_heads = Some(2);
    assert_eq!(Model::from_explicit(&odd).unwrap().arch.num_kv_heads, 2);
    let mut with_dim = explicit(66, 2, 4);
    with_dim.head_dim = Some(16);
    assert_eq!(Model::from_explicit(&with_dim).unwrap().arch.q_dim(), 64);
}

#[test]
fn model_size_sets_the_total_and_solves_the_mlp_width() {
    // The old service's 7B example: h 4096, 32 layers, 32 heads, V 32,000 (assumed).
    // Solving P = 2Vh + L(4h² + 2h + 3hI) + h for P = 7·10⁹ gives I = 11,673.
    let mut e = explicit(4096, 32, 32);
    e.model_size_billions = Some(7.0);
    let m = Model::from_explicit(&e).unwrap();
    assert_eq!(m.arch.intermediate_size, 11_673);
    let p = m.params;
    assert_eq!(p.total, 7_000_000_000);
    assert_eq!(p.embedding, 2 * 32_000 * 4096);
    assert_eq!(p.non_embedding, 7_000_000_000 - 262_144_000);
    // The layout's non-linear parameters (embeddings, norms) stay; the rest is linear.
    assert_eq!(p.linear, 7_000_000_000 - (262_144_000 + 32 * 8192 + 4096));
    assert_eq!(p.dense_layer, (7_000_000_000 - 262_144_000) / 32);
    assert_eq!(p.embedding_matrix, 32_000 * 4096);
    // Generic int4 on it: the architecture's 28,004,818,944 bits over 6,737,494,016
    // linear weights, scaled to 6,737,589,760 weights, plus the rest in 16-bit.
    let mut req = InferenceRequest::new(1, 1);
    req.precision = Some(Precision::Int4);
    let w = estimate_inference(&m, &req).unwrap().model_weights.0;
    assert_eq!(w, 4_025_472_594);
    // The solution is exact at both ends of a width: the total of I = 11,008 exactly
    // (2,409,893,888 fixed + 393,216 · 11,008), and one parameter short of 11,009.
    for billions in [6.738_415_616, 6.738_808_831] {
        e.model_size_billions = Some(billions);
        assert_eq!(
            Model::from_explicit(&e).unwrap().arch.intermediate_size,
            11_008,
            "{billions}"
        );
    }
    // A model_size below the embeddings (2 · 32,000 · 4,096) is warned, equal is not;
    // one out of range is an error.
    let below = |billions: f64| {
        let mut e = explicit(4096, 32, 32);
        e.model_size_billions = Some(billions);
        Model::from_explicit(&e)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("smaller than the embeddings"))
    };
    assert!(below(0.1));
    assert!(!below(0.262_144));
    for bad in [0.0, -1.0, 100_001.0, f64::NAN] {
        e.model_size_billions = Some(bad);
        assert!(Model::from_explicit(&e).is_err(), "{bad}");
    }
    e.model_size_billions = Some(1e-12);
    assert_eq!(Model::from_explicit(&e).unwrap().params.total, 1);
}

#[test]
fn every_quantization_mark_of_a_checkpoint_name() {
    use calculator::names::resolve;
    let fmt = |name: &str| {
        let r = resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let f = r.model.arch.checkpoint.as_ref().unwrap().format.unwrap();
        (f.precision, f.quantization)
    };
    use calculator::Quantization::*;
    for name in [
        "unsloth/Llama-3.1-8B-bnb-4bit",
        "someone/Llama-3.1-8B-nf4",
        "someone/Llama-3.1-8B-4bit",
    ] {
        assert_eq!(fmt(name), (Precision::Int4, Some(Bitsandbytes)), "{name}");
    }
    assert_eq!(
        fmt("someone/Llama-3.1-8B-8bit"),
        (Precision::Int8, Some(Bitsandbytes))
    );
    for name in [
        "RedHatAI/Llama-3.1-8B-Instruct-quantized.w4a16",
        "someone/Llama-3.1-8B-int4",
    ] {
        assert_eq!(fmt(name), (Precision::Int4, None), "{name}");
    }
    for name in [
        "RedHatAI/Llama-3.1-8B-Instruct-quantized.w8a8",
        "someone/Llama-3.1-8B-w8a16",
        "someone/Llama-3.1-8B-int8",
    ] {
        assert_eq!(fmt(name), (Precision::Int8, None), "{name}");
    }
    assert_eq!(
        fmt("someone/Llama-3.1-8B-GPTQ-Int8"),
        (Precision::Int8, Some(Gptq))
    );
    assert_eq!(
        fmt("someone/Llama-3.1-8B-GPTQ"),
        (Precision::Int4, Some(Gptq))
    );
    assert_eq!(
        fmt("someone/Llama-3.1-8B-AWQ"),
        (Precision::Int4, Some(Awq))
    );
}

#[test]
fn two_layers_left_unquantized_count_twice() {
    // As in modules_a_checkpoint_leaves_unquantized_stay_16_bit, both layers of the toy
    // listed: nothing is quantized, every linear 16-bit.
    let both = model(llama(json!({"quantization_config": {"quant_method": "awq",
        "bits": 4, "group_size": 64,
        "modules_to_not_convert": ["model.layers.0.", "model.layers.1."]}})));
    assert_eq!(infer(&both, |_| {}).model_weights.0, 79_680 * 16 / 8);
}

#[test]
fn training_a_quantized_checkpoint_says_how_it_is_loaded() {
    use calculator::{estimate_training, Method, TrainingRequest};
    let awq = calculator::names::resolve("Qwen/Qwen3-8B-AWQ")
        .unwrap()
        .model;
    let says = |method: Method| {
        let mut r = TrainingRequest::new(1, 512);
        r.method = method;
        estimate_training(&awq, &r)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.starts_with("the published checkpoint stores its weights in awq"))
    };
    assert!(says(Method::Lora) && says(Method::Full));
    // QLoRA quantizes the base itself: nothing to say.
    assert!(!says(Method::Qlora));
}
