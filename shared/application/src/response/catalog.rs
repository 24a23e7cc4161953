//! `GET /api/gpus`: the catalog, with what vLLM runs on each GPU.

use calculator::{
    serve_batch_defaults, Choice, Precision, Quantization, Unit, WeightFormat, DEFAULT_GROUP_SIZE,
};
use planner::{usd_per_month, weight_support, Catalog, Gpu, Platform, Support, HOURS_PER_MONTH};
use serde::Serialize;
use std::collections::BTreeMap;

/// The weight formats whose support differs between GPU generations.
const FORMATS: [(&str, Precision, Option<Quantization>); 6] = [
    ("bfloat16", Precision::Bfloat16, None),
    ("fp8", Precision::Float8, Some(Quantization::Fp8)),
    ("mxfp4", Precision::Int4, Some(Quantization::Mxfp4)),
    ("nvfp4", Precision::Int4, Some(Quantization::Nvfp4)),
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

/// An instance that carries the GPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct InstanceView {
    instance: String,
    gpu_count: u64,
    vcpus: Option<u64>,
    /// Host RAM, GiB (what offloaded training state must fit in).
    host_memory_gib: Option<u64>,
    /// Local NVMe instance storage, GB (decimal); 0 for EBS-only types.
    local_nvme_gb: Option<u64>,
    /// EFA interfaces (training over several nodes needs them); `None` when unknown.
    efa_interfaces: Option<u64>,
    /// Baseline network bandwidth, Gbit/s (on EFA instances, what inter-node traffic
    /// shares).
    network_gbps: Option<f64>,
    usd_per_hour: Option<f64>,
    usd_per_month: Option<f64>,
}

/// `vllm serve`'s default batch on the GPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct ServeDefaults {
    max_num_batched_tokens: u64,
    max_num_seqs: u64,
}

/// One GPU.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct GpuView {
    name: String,
    platform: &'static str,
    compute_capability: Option<String>,
    memory_vendor_stated: Option<String>,
    usable_memory_bytes: Option<u64>,
    usable_memory_gib: Option<f64>,
    usable_memory_source: Option<&'static str>,
    /// The total CUDA (and PyTorch, and vLLM's budget) counts from, where known.
    cuda_total_bytes: Option<u64>,
    mem_bandwidth_gbps: Option<f64>,
    bf16_dense_tflops: Option<f64>,
    fp16_dense_tflops: Option<f64>,
    bf16_supported: bool,
    fp8_supported: bool,
    weight_formats: BTreeMap<&'static str, &'static str>,
    vllm_serve_defaults: Option<ServeDefaults>,
    planned_by_default: bool,
    unverified: Vec<String>,
    instances: Vec<InstanceView>,
}

impl GpuView {
    fn new(catalog: &Catalog, gpu: &Gpu) -> GpuView {
        let weight_formats = FORMATS
            .iter()
            .map(|(name, precision, quantization)| {
                let format = WeightFormat {
                    precision: *precision,
                    quantization: *quantization,
                    group_size: DEFAULT_GROUP_SIZE,
                    double_quant: false,
                };
                (*name, support_name(&weight_support(gpu, &format)))
            })
            .collect();
        let instances = catalog
            .instances_of(&gpu.name)
            .map(|i| InstanceView {
                instance: i.name.clone(),
                gpu_count: i.gpu_count,
                vcpus: i.vcpus,
                host_memory_gib: i.host_memory.map(|b| b.0 >> 30),
                local_nvme_gb: i.local_nvme.map(|b| b.0 / 1_000_000_000),
                efa_interfaces: i.efa_interfaces,
                network_gbps: i.network_gbps,
                usd_per_hour: i.usd_per_hour,
                usd_per_month: i.usd_per_hour.map(usd_per_month),
            })
            .collect();
        let memory = gpu.usable_memory.map(|(b, _)| b);
        GpuView {
            name: gpu.name.clone(),
            platform: gpu.platform.name(),
            compute_capability: gpu.compute_capability.map(|c| c.to_string()),
            memory_vendor_stated: gpu.memory_vendor_stated.clone(),
            usable_memory_bytes: memory.map(|b| b.0),
            usable_memory_gib: memory.map(|b| (b.in_unit(Unit::Gib) * 100.0).round() / 100.0),
            usable_memory_source: gpu.usable_memory.map(|(_, s)| s.describe()),
            cuda_total_bytes: gpu.cuda_total.map(|b| b.0),
            mem_bandwidth_gbps: gpu.bandwidth_gbps,
            bf16_dense_tflops: gpu.bf16_dense_tflops,
            fp16_dense_tflops: gpu.fp16_dense_tflops,
            bf16_supported: gpu.computes_bf16(),
            fp8_supported: gpu.fp8_supported,
            weight_formats,
            vllm_serve_defaults: memory.map(|m| {
                let (tokens, seqs, _) = serve_batch_defaults(m, Some(&gpu.name));
                ServeDefaults {
                    max_num_batched_tokens: tokens,
                    max_num_seqs: seqs,
                }
            }),
            planned_by_default: gpu.platform == Platform::Cuda,
            unverified: gpu.unverified.clone(),
            instances,
        }
    }
}

/// The catalog: every GPU with its instances and prices, and the prices' date and
/// region.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatalogAnswer {
    count: usize,
    prices_as_of: String,
    region: String,
    price_source: String,
    hours_per_month: f64,
    gpus: Vec<GpuView>,
}

impl CatalogAnswer {
    /// The answer for `catalog`.
    pub fn new(catalog: &Catalog) -> CatalogAnswer {
        let gpus: Vec<GpuView> = catalog
            .gpus
            .iter()
            .map(|g| GpuView::new(catalog, g))
            .collect();
        CatalogAnswer {
            count: gpus.len(),
            prices_as_of: catalog.prices_as_of.clone(),
            region: catalog.region.clone(),
            price_source: catalog.price_source.clone(),
            hours_per_month: HOURS_PER_MONTH,
            gpus,
        }
    }
}
