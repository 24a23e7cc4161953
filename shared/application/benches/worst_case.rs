//! The worst request bodies a caller can send (each near the 256 KiB body limit, or
//! the most simulation a traffic can ask for), from the raw bytes to the answer: the
//! work a request can cause is bounded. Budget: each under 5 ms in release, a serving
//! simulation under 50 ms (README, "Performance"). Run: `cargo bench -p application`.

use std::hint::black_box;
use std::time::Duration;

use application::endpoint::memory_inference::evaluate;
use application::endpoint::performance::perform;
use application::endpoint::plan::plan;
use application::Calculation;
use calculator::limits::MAX_BODY_BYTES;
use calculator::Unit;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};

/// A Qwen3-MoE config of `layers` layers; `extra` adds keys.
fn moe_config(layers: u64, extra: Value) -> Value {
    let mut c = json!({"model_type": "qwen3_moe", "hidden_size": 2048, "num_hidden_layers": layers,
        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
        "intermediate_size": 6144, "moe_intermediate_size": 768, "num_experts": 128,
        "num_experts_per_tok": 8, "vocab_size": 151936});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn workload(model: Value) -> Value {
    let mut body = json!({"batch_size": 4, "sequence_length": 4096});
    for (k, v) in model.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The worst bodies, each with its endpoint; every one fits the body limit.
fn bodies() -> Vec<(&'static str, &'static str, String)> {
    let near_limit = MAX_BODY_BYTES - 1024;
    let name = "x".repeat(near_limit - 256);
    let long_key = format!(
        "{{\"{}\": 1, \"model_name\": \"Qwen3-8B\", \"batch_size\": 1, \"sequence_length\": 8}}",
        "k".repeat(near_limit)
    );
    let layers = 16_384u64;
    let all_layers: Vec<u64> = (0..layers).collect();
    let types: Vec<&str> = (0..12_000)
        .map(|i| {
            if i % 2 == 0 {
                "sliding_attention"
            } else {
                "full_attention"
            }
        })
        .collect();
    // 500 keys, each one character off a key the readers look for: every one is
    // compared in full and warned about.
    let read = [
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "moe_intermediate_size",
        "num_experts_per_tok",
        "max_position_embeddings",
    ];
    let typo_config = {
        let mut c = moe_config(48, json!({}));
        let typos = read.iter().flat_map(|k| {
            (0..k.len()).flat_map(move |i| {
                ('a'..='e').map(move |x| format!("{}{x}{}", &k[..i], &k[i + 1..]))
            })
        });
        for key in typos.filter(|t| !read.contains(&t.as_str())).take(500) {
            c[key] = json!(1);
        }
        c
    };
    let config_50: Vec<Value> = (0..50)
        .map(|i| workload(json!({"config": moe_config(48 + i, json!({"architectures": ["Qwen3MoeForCausalLM"], "pad": "p".repeat(4000)}))})))
        .collect();
    let custom: Vec<Value> = (0..64)
        .map(|i| json!({"name": format!("gpu-{i}"), "memory_gib": 8 + i, "usd_per_hour": 1.0}))
        .collect();
    vec![
        ("inference", "a 255 KiB model_name", workload(json!({"model_name": name.clone()})).to_string()),
        ("inference", "a 255 KiB unknown key", long_key),
        ("inference", "mlp_only_layers over 16,384 layers", workload(json!({"config": moe_config(layers, json!({"mlp_only_layers": all_layers}))})).to_string()),
        ("inference", "layer_types of 12,000 layers", workload(json!({"config": {"model_type": "gemma2", "hidden_size": 256, "num_hidden_layers": 12_000, "num_attention_heads": 4, "intermediate_size": 512, "vocab_size": 1000, "sliding_window": 4096, "layer_types": types}})).to_string()),
        ("inference", "500 config keys one typo away", workload(json!({"config": typo_config})).to_string()),
        ("compare", "50 pasted configs", json!({"calculation_type": "inference", "configurations": config_50}).to_string()),
        ("plan", "64 custom GPUs over every instance", json!({"mode": "inference", "model_name": "Llama-3.1-70B", "batch_size": 8, "sequence_length": 8192, "custom_gpus": custom}).to_string()),
        ("plan", "a 250 KB model_type over every instance", json!({"mode": "inference", "config": {"model_type": "m".repeat(near_limit - 1024), "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096, "vocab_size": 32000}, "batch_size": 8, "sequence_length": 4096}).to_string()),
        ("plan", "16,000 unknown unquantized modules", json!({"mode": "inference", "config": {"model_type": "llama", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096, "vocab_size": 32000, "quantization_config": {"quant_method": "awq", "modules_to_not_convert": (0..16_000).map(|i| format!("m{i:08}")).collect::<Vec<_>>()}}, "batch_size": 8, "sequence_length": 4096}).to_string()),
        ("plan", "a 255 KiB GPU name", json!({"mode": "inference", "model_name": "Qwen3-8B", "batch_size": 1, "sequence_length": 4096, "gpus": [name.clone()]}).to_string()),
        ("plan", "a 255 KiB price key", json!({"mode": "inference", "model_name": "Qwen3-8B", "batch_size": 1, "sequence_length": 4096, "prices": {name.clone(): 1.0}}).to_string()),
        ("plan", "every instance, transformers engine", json!({"mode": "inference", "engine": "transformers", "model_name": "Qwen3-235B-A22B", "batch_size": 64, "sequence_length": 32768}).to_string()),
        ("plan", "every instance, vLLM at the plan's own load", json!({"mode": "inference", "model_name": "Qwen3-8B", "batch_size": 256, "sequence_length": 4096, "max_new_tokens": 1024}).to_string()),
        ("plan", "a traffic with targets over every instance", json!({"mode": "inference", "model_name": "Llama-3.1-70B", "precision": "bfloat16", "input_tokens": 8192, "output_tokens": 1024, "concurrency": 20, "ttft_ms": 3000, "tpot_ms": 60}).to_string()),
        ("plan", "a million requests a second of a small model over every instance", json!({"mode": "inference", "model_name": "Qwen3-0.6B", "input_tokens": 64, "output_tokens": 64, "requests_per_second": 1e6, "ttft_ms": 3_600_000, "tpot_ms": 3_600_000}).to_string()),
        ("plan", "a small model's most clients within a tight target over every instance", json!({"mode": "inference", "model_name": "Qwen3-0.6B", "input_tokens": 256, "output_tokens": 256, "concurrency": 1 << 20, "tpot_ms": 12}).to_string()),
        ("performance", "a million clients of a small model, 65,536 at once", json!({"model_name": "Qwen3-0.6B", "gpu": "NVIDIA B200", "input_tokens": 16, "output_tokens": 16, "concurrency": 1 << 20, "max_num_seqs": 1 << 16, "max_num_batched_tokens": 1 << 16}).to_string()),
        ("performance", "long outputs at full batch", json!({"model_name": "Qwen3-0.6B", "gpu": "NVIDIA B200", "input_tokens": 16, "output_tokens": 16_000, "concurrency": 4096, "max_num_seqs": 4096}).to_string()),
        ("performance", "million-token outputs of a 10M-context model", json!({"model_name": "Llama-4-Scout-17B-16E-Instruct", "precision": "float8", "kv_cache_precision": "float8", "instance": "p5en.48xlarge", "num_gpus": 8, "input_tokens": 16, "output_tokens": 1_000_000, "concurrency": 1 << 20, "max_num_seqs": 8192}).to_string()),
        ("performance", "million-token outputs of a dense 1M-context model", json!({"model_name": "Mistral-Nemo-Base-2407", "precision": "float8", "kv_cache_precision": "float8", "gpu": "NVIDIA B200", "input_tokens": 16, "output_tokens": 900_000, "concurrency": 4096}).to_string()),
        ("performance", "a million requests a second", json!({"model_name": "Llama-3.3-70B-Instruct", "precision": "float8", "instance": "p5.48xlarge", "num_gpus": 8, "input_tokens": 8192, "output_tokens": 1024, "requests_per_second": 1e6}).to_string()),
        ("performance", "a MoE over eight GPUs, long prompts", json!({"model_name": "Qwen3-235B-A22B", "precision": "float8", "instance": "p5.48xlarge", "num_gpus": 8, "expert_parallel": true, "input_tokens": 30_000, "output_tokens": 2000, "concurrency": 256}).to_string()),
    ]
}

/// A typed answer as the JSON the handler sends.
fn to_value(answer: &impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}

/// From the body's text to the answer, as the handler does after reading the event.
fn answer(endpoint: &str, text: &str) -> Value {
    let map: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => return Value::Null,
    };
    let result = match endpoint {
        "plan" => plan(&map, "", planner::Catalog::embedded()).map(|a| to_value(&a)),
        "performance" => perform(&map, "").map(|a| to_value(&a)),
        "compare" => map["configurations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                evaluate(Calculation::Inference, c.as_object().unwrap(), "", Unit::Gb)
                    .map(|a| to_value(&a))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => evaluate(Calculation::Inference, &map, "", Unit::Gb).map(|a| to_value(&a)),
    };
    result.unwrap_or_else(|e| serde_json::to_value(&e.body).unwrap_or_default())
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("worst-case bodies");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for (endpoint, name, body) in bodies() {
        assert!(body.len() <= MAX_BODY_BYTES, "{name}: {} bytes", body.len());
        // The performance bodies time a simulation: an answer, or a load refused after
        // the simulation ran to its bound, never an early refusal.
        if endpoint == "performance" {
            let a = answer(endpoint, &body);
            let simulated = a.get("ttft_ms").is_some() || a["field"] == "concurrency";
            assert!(simulated, "{name} was refused before simulating: {a}");
        }
        group.bench_function(name, |b| b.iter(|| answer(endpoint, black_box(&body))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
