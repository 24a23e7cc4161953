//! Published checkpoints as they are stored: each `quantization_config` read as a
//! format, the modules a checkpoint keeps in 16-bit, and the quantization marks of
//! checkpoint names (methodology §3).

use calculator::{
    estimate_inference, estimate_training, resolve_name, Checkpoint, InferenceEstimate,
    InferenceRequest, Method, Model, Precision, Quantization, TrainingRequest,
};
use serde_json::{json, Value};
use testkit::configs::{nemotron_nano_9b, qwen3_next};
use testkit::models::{llama, model, one_sequence, registry_model};
use testkit::toys::{inference, toy, toy_moe};

// Toy llama (h 64, L 2, 4 heads, 2 KV heads of 16, I 100, V 128): per layer attention
// 12,288, MLP 19,200, norms 128; embedding and lm_head 8,192 each; final norm 64:
// 2 · 31,616 + 16,384 + 64 = 79,680.
const TOY_LLAMA: u128 = 79_680;

/// Inference on `model` with one sequence of one token and `edit` applied.
fn infer(m: &Model, edit: impl FnOnce(&mut InferenceRequest)) -> calculator::InferenceEstimate {
    let mut req = InferenceRequest::new(1, 1);
    edit(&mut req);
    estimate_inference(m, &req).unwrap()
}

/// `config` as an fp8 checkpoint (128 x 128 blocks) that keeps `skip` in 16-bit: the
/// weights for one 16-token sequence, and the exclusions read.
fn fp8_keeping(mut config: Value, skip: Value) -> InferenceEstimate {
    config["quantization_config"] = json!({"quant_method": "fp8",
        "weight_block_size": [128, 128], "modules_to_not_convert": skip});
    one_sequence(&model(config), 16)
}

/// What a `rows x cols` matrix kept in 16-bit adds over its fp8 form: one more byte a
/// weight, less the fp32 scale of each 128 x 128 block.
fn kept_16_bit(rows: u64, cols: u64) -> u64 {
    rows * cols - rows.div_ceil(128) * cols.div_ceil(128) * 4
}

#[test]
fn published_checkpoints_are_sized_as_published() {
    let fp8 = model(llama(json!({"quantization_config":
        {"quant_method": "fp8", "weight_block_size": [128, 128]}})));
    let e = infer(&fp8, |_| {});
    assert_eq!(
        (e.weight_format.precision, e.weight_format.quantization),
        (Precision::Float8, Some(Quantization::Fp8))
    );
    assert!(e.warnings.iter().any(|w| w
        .message
        .contains("sized as the published checkpoint stores it (fp8)")));
    // Asking for the checkpoint's own format says nothing more; asking for another says
    // it departs.
    let same = infer(&fp8, |r| r.quantization = Some(Quantization::Fp8));
    assert!(same.warnings.is_empty(), "{:?}", same.warnings);
    let other = infer(&fp8, |r| r.precision = Some(Precision::Bfloat16));
    assert_eq!(other.model_weights.0, 2 * TOY_LLAMA as u64);
    assert!(other.warnings[0]
        .message
        .contains("stores its weights in fp8"));
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
        .any(|w| w.message.contains("'exl2' has no matching format")));
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
        .any(|w| w.message.contains("'frobnicator' not recognised")));
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

/// A layer-scoped exclusion keeps the matrices that layer holds: Nemotron Nano 2's
/// block 1 is an MLP (up and down), block 0 a Mamba-2 mixer (in and out projections),
/// block 14 attention (q, k, v, o).
#[test]
fn layer_scoped_exclusions_follow_the_block_kinds() {
    let weights = |skip: Value| fp8_keeping(nemotron_nano_9b(), skip).model_weights.0;
    let plain = weights(json!([]));
    let kept = |layer: u64| weights(json!([format!("backbone.layers.{layer}")])) - plain;
    assert_eq!(kept(1), kept_16_bit(4480, 15680) + kept_16_bit(15680, 4480));
    assert_eq!(kept(0), kept_16_bit(4480, 22656) + kept_16_bit(10240, 4480));
    assert_eq!(
        kept(14),
        2 * kept_16_bit(4480, 5120) + 2 * kept_16_bit(4480, 1024)
    );
}

/// A quantized checkpoint that keeps its linear-attention projections in 16-bit
/// (`modules_to_not_convert: ["linear_attn"]`) is sized so.
#[test]
fn unquantized_mixer_projections_stay_16_bit() {
    let weights = |skip: Value| {
        let e = fp8_keeping(qwen3_next(), skip);
        (e.model_weights.0, e.unquantized_modules)
    };
    let (plain, none) = weights(json!([]));
    // One layer's shared expert: gate, up and down, 2,048 x 512 each way.
    let (shared, _) = weights(json!(["model.layers.3.mlp.shared_expert"]));
    assert_eq!(shared - plain, 3 * kept_16_bit(2048, 512));
    let (kept, scopes) = weights(json!(["linear_attn"]));
    assert!(none.is_empty());
    assert!(scopes
        .iter()
        .all(|s| s.kind == calculator::LinearKind::Mixer));
    // The 36 layers' input and output projections.
    assert_eq!(
        kept - plain,
        36 * (kept_16_bit(2048, 12_352) + kept_16_bit(4096, 2048))
    );
}

#[test]
fn quantization_configs_read_as_formats() {
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
    // TensorRT Model Optimizer, in config.json or as hf_quant_config.json nests it.
    let nvfp4 = read(json!({"quant_method": "modelopt", "quant_algo": "NVFP4",
        "group_size": 16, "exclude_modules": ["lm_head"]}));
    assert_eq!(
        (nvfp4.precision, nvfp4.quantization),
        (Precision::Int4, Some(Nvfp4))
    );
    let nested = read(json!({"quant_method": "modelopt",
        "quantization": {"quant_algo": "FP8"}}));
    assert_eq!(
        (nested.precision, nested.quantization),
        (Precision::Float8, None)
    );
    let unknown =
        Checkpoint::parse(&json!({"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"})).unwrap();
    assert!(unknown.format.is_none());
    assert!(unknown.notes[0].message.contains("W4A8_AWQ"));
}

#[test]
fn quantization_config_edge_cases() {
    let parse = |c: Value| Checkpoint::parse(&c).unwrap();
    // AWQ has no 8-bit format (GPTQ has): said, not sized.
    let awq8 = parse(json!({"quant_method": "awq", "bits": 8}));
    assert!(awq8.format.is_none());
    assert!(awq8.notes[0]
        .message
        .starts_with("8-bit awq checkpoints have no matching format"));
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
    assert!(fp8.notes[0].message.contains("channel scales"));
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
    assert!(odd.format.is_none() && odd.notes[0].message.contains("int 2-bit"));
    let float4 = ct(json!({"num_bits": 4, "type": "float"}));
    assert!(float4.format.is_none());
}

#[test]
fn every_quantization_mark_of_a_checkpoint_name() {
    let fmt = |name: &str| {
        let r = resolve_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
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
    // NVIDIA's Model Optimizer checkpoints: `-FP4` from nvidia, `-NVFP4` from anyone.
    for name in [
        "nvidia/Llama-3.3-70B-Instruct-FP4",
        "someone/Llama-3.1-8B-NVFP4",
    ] {
        assert_eq!(fmt(name), (Precision::Int4, Some(Nvfp4)), "{name}");
    }
}

#[test]
fn nvfp4_is_four_and_a_half_bits_a_linear_weight() {
    // Llama-3.3-70B: 80 layers of q, o (8,192²), k, v (8,192 x 1,024) and gate, up,
    // down (8,192 x 28,672), 68,451,041,280 linear weights, at 4.5 bits plus 64 bits
    // for each of the 560 matrices; the embedding and lm_head (2 x 128,256 x 8,192)
    // and the norms in bfloat16.
    let m = registry_model("Llama-3.3-70B-Instruct");
    let e = infer(m, |r| {
        r.quantization = Some(calculator::Quantization::Nvfp4)
    });
    let linear: u128 = m.params.linear;
    let rest = m.params.total - linear;
    assert_eq!(
        linear,
        80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28_672)
    );
    assert_eq!(
        e.model_weights.0 as u128,
        (linear * 9 / 2 + 560 * 64 + rest * 16) / 8
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
fn training_a_quantized_checkpoint_says_how_it_is_loaded() {
    let awq = resolve_name("Qwen/Qwen3-8B-AWQ").unwrap().model;
    let says = |method: Method| {
        let mut r = TrainingRequest::new(1, 512);
        r.method = method;
        estimate_training(&awq, &r)
            .unwrap()
            .warnings
            .iter()
            .any(|w| {
                w.message
                    .starts_with("the published checkpoint stores its weights in awq")
            })
    };
    assert!(says(Method::Lora) && says(Method::Full));
    // QLoRA quantizes the base itself: nothing to say.
    assert!(!says(Method::Qlora));
}
