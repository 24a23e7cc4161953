//! `GET /api/gpus`: the catalog as JSON, with what vLLM runs on each GPU.

use calculator::vllm::serve_batch_defaults;
use calculator::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use planner::{weight_support, Catalog, Gpu, Platform, Support, HOURS_PER_MONTH};
use serde_json::{json, Value};

/// The weight formats whose support differs between GPU generations.
const FORMATS: [(&str, Precision, Option<Quantization>); 5] = [
    ("bfloat16", Precision::Bfloat16, None),
    ("fp8", Precision::Float8, Some(Quantization::Fp8)),
    ("mxfp4", Precision::Int4, Some(Quantization::Mxfp4)),
    ("awq", Precision::Int4, Some(Quantization::Awq)),
    ("gptq", Precision::Int4, Some(Quantization::Gptq)),
];

fn support_name(s: &Support) -> &'static str {
    match s {
        Support::Native => "native",
        Support::WeightOnly(_) => "weight-only",
        Support::Float16Instead => "as float16",
        Support::Unsupported(_) => "unsupported",
    }
}

fn gpu_json(catalog: &Catalog, gpu: &Gpu) -> Value {
    let formats: serde_json::Map<String, Value> = FORMATS
        .iter()
        .map(|(name, precision, quantization)| {
            let format = WeightFormat {
                precision: *precision,
                quantization: *quantization,
                group_size: DEFAULT_GROUP_SIZE,
                double_quant: false,
            };
            (
                (*name).into(),
                json!(support_name(&weight_support(gpu, &format))),
            )
        })
        .collect();
    let instances: Vec<Value> = catalog
        .instances_of(&gpu.name)
        .map(|i| {
            json!({
                "instance": i.name,
                "gpu_count": i.gpu_count,
                "vcpus": i.vcpus,
                "usd_per_hour": i.usd_per_hour,
                "usd_per_month": i.usd_per_hour.map(|p| (p * HOURS_PER_MONTH * 100.0).round() / 100.0),
            })
        })
        .collect();
    let (memory, source) = match gpu.usable_memory {
        Some((b, s)) => (Some(b), Some(s.describe())),
        None => (None, None),
    };
    let defaults = memory.map(|m| {
        let (tokens, seqs, _) = serve_batch_defaults(m, Some(&gpu.name));
        json!({"max_num_batched_tokens": tokens, "max_num_seqs": seqs})
    });
    json!({
        "name": gpu.name,
        "platform": gpu.platform.name(),
        "compute_capability": gpu.compute_capability.map(|c| c.to_string()),
        "memory_vendor_stated": gpu.memory_vendor_stated,
        "usable_memory_bytes": memory.map(|b| b.0),
        "usable_memory_gib": memory.map(|b| (b.0 as f64 / (1u64 << 30) as f64 * 100.0).round() / 100.0),
        "usable_memory_source": source,
        "mem_bandwidth_gbps": gpu.bandwidth_gbps,
        "bf16_dense_tflops": gpu.bf16_dense_tflops,
        "fp16_dense_tflops": gpu.fp16_dense_tflops,
        "bf16_supported": gpu.bf16_supported,
        "fp8_supported": gpu.fp8_supported,
        "weight_formats": formats,
        "vllm_serve_defaults": defaults,
        "planned_by_default": gpu.platform == Platform::Cuda,
        "unverified": gpu.unverified,
        "instances": instances,
    })
}

/// The catalog: every GPU with its instances and prices, and the prices' date and
/// region.
pub fn catalog_json(catalog: &Catalog) -> Value {
    let gpus: Vec<Value> = catalog.gpus.iter().map(|g| gpu_json(catalog, g)).collect();
    json!({
        "count": gpus.len(),
        "prices_as_of": catalog.prices_as_of,
        "region": catalog.region,
        "price_source": catalog.price_source,
        "hours_per_month": HOURS_PER_MONTH,
        "gpus": gpus,
    })
}
