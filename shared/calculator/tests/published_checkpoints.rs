//! Published quantized checkpoints sized as their publishers lay them out
//! (`data/checkpoints.json`, methodology §3), against the naming convention alone.

use calculator::{estimate_inference, resolve_name, Bytes, InferenceRequest, WarningCode};

const GIB: f64 = (1u64 << 30) as f64;

/// Weights per GPU, GiB, of `name` split over `gpus` by tensor parallelism.
fn weights_per_gpu(name: &str, gpus: u64) -> f64 {
    let model = resolve_name(name).unwrap().model;
    let mut req = InferenceRequest::new(1, 4096);
    req.num_gpus = gpus;
    let Bytes(weights) = estimate_inference(&model, &req).unwrap().model_weights;
    weights as f64 / GIB
}

/// vLLM's start-up line for meta-llama/Llama-3.1-405B-Instruct-FP8 at
/// `--tensor-parallel-size 8` ("Loading model weights took 57.75 GiB"), as quoted
/// by the review behind issue 18. Meta's recipe keeps attention and the first and
/// last layers in bf16; reading every linear weight as FP8 gave 47.75 GiB (−17 %).
const META_405B_FP8_TP8_GIB: f64 = 57.75;

#[test]
fn meta_405b_fp8_keeps_attention_and_the_end_layers_in_bf16() {
    let published = weights_per_gpu("meta-llama/Llama-3.1-405B-Instruct-FP8", 8);
    let error = published / META_405B_FP8_TP8_GIB - 1.0;
    eprintln!(
        "405B FP8 at TP 8: {published:.2} GiB per GPU ({:+.1} %)",
        100.0 * error
    );
    assert!(
        error.abs() < 0.03,
        "{published:.2} GiB per GPU, {:+.1} % from vLLM's {META_405B_FP8_TP8_GIB}",
        100.0 * error
    );
    // Another publisher's checkpoint of the same name is read by the convention: every
    // linear weight in FP8, far less.
    let convention = weights_per_gpu("someone/Llama-3.1-405B-Instruct-FP8", 8);
    assert!(convention < 0.85 * published, "{convention} vs {published}");
}

#[test]
fn nvidia_nvfp4_deepseek_keeps_its_latent_attention_in_bf16() {
    let published = weights_per_gpu("nvidia/DeepSeek-V3.1-NVFP4", 8);
    let convention = weights_per_gpu("someone/DeepSeek-V3.1-NVFP4", 8);
    eprintln!(
        "DeepSeek-V3.1-NVFP4 at TP 8: {published:.2} GiB per GPU, {convention:.2} by the name"
    );
    // MLA's projections are about 11 B of the 671 B parameters: 2 bytes instead of
    // about 0.56 adds some 16 GB over the 8 GPUs.
    assert!(
        published > convention + 1.5,
        "{published:.2} vs {convention:.2} GiB per GPU"
    );
}

#[test]
fn the_answer_names_the_layout_and_its_source() {
    let r = resolve_name("Llama-3.1-405B-Instruct-FP8").unwrap();
    assert_eq!(r.entry.name, "Llama-3.1-405B");
    let note = r.note.unwrap();
    assert_eq!(note.code, WarningCode::NameReadAsCheckpoint);
    assert!(
        note.message.contains("publisher's layout"),
        "{}",
        note.message
    );
    assert!(
        note.message.contains("attention in every layer"),
        "{}",
        note.message
    );
    assert!(
        note.message.contains("meta-llama/llama-models@"),
        "{}",
        note.message
    );
}

#[test]
fn unknown_quantized_names_say_the_layout_is_assumed() {
    let r = resolve_name("someone/Qwen3-32B-AWQ").unwrap();
    let checkpoint = r.model.arch.checkpoint.as_ref().unwrap();
    assert!(checkpoint
        .notes
        .iter()
        .any(|n| n.code == WarningCode::CheckpointLayoutFromName));
}
