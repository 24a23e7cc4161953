//! The serving model's inputs read from the calculator and the catalog: the model as
//! one GPU of a replica holds it ([`Shape`]) and what that GPU and its link offer
//! ([`Hardware`]), with the dtype its linear layers compute in.

use calculator::{
    cache_rates, routed_expert_bytes, InferenceEstimate, Model, Precision, Quantization, Warning,
    WarningCode,
};

use crate::catalog::{Catalog, Gpu, Interconnect, LinkKind, Platform};
use crate::kernels::{weight_support, Support};

/// The model as one GPU of a replica serves it: every size per GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Weights every step reads whatever its tokens (attention, dense MLPs, shared
    /// experts, norms, embeddings, `lm_head`), bytes on one GPU.
    pub dense_bytes: f64,
    /// One routed expert of one MoE layer, bytes on one GPU (its tensor-parallel share,
    /// or the whole expert under expert parallelism divided by the experts a GPU holds).
    pub expert_bytes: f64,
    /// MoE layers.
    pub moe_layers: f64,
    /// Routed experts per MoE layer (0 for a dense model).
    pub experts: f64,
    /// Experts each token is routed to.
    pub top_k: f64,
    /// Parameters a token multiplies in linear layers, `lm_head` apart, whole model.
    pub linear_params: f64,
    /// Parameters of `lm_head` (hidden × vocabulary): multiplied only for the tokens
    /// that are sampled.
    pub lm_head_params: f64,
    /// Residual width (elements of one token's activation).
    pub hidden: f64,
    /// Decoder layers (two all-reduces each under tensor parallelism).
    pub layers: f64,
    /// Layers attending over the whole context.
    pub full_attention_layers: f64,
    /// Layers attending over a sliding window.
    pub window_layers: f64,
    /// Their window, tokens.
    pub window: f64,
    /// Query heads × head dimension, whole model (attention FLOPs per token and key).
    pub query_width: f64,
    /// Bytes of keys and values one token adds to one attention layer on one GPU.
    pub kv_bytes_per_token_layer: f64,
    /// Tensor-parallel GPUs of the replica.
    pub tensor_parallel: f64,
}

/// The hardware one GPU offers, in SI units.
#[derive(Clone, Debug, PartialEq)]
pub struct Hardware {
    /// Memory bandwidth, bytes/s.
    pub bandwidth: f64,
    /// Dense tensor throughput of the linear layers' compute dtype, FLOP/s.
    pub linear_flops: f64,
    /// Dense 16-bit tensor throughput (attention), FLOP/s.
    pub attention_flops: f64,
    /// GPU-to-GPU bandwidth a direction, bytes/s (unused at tensor parallel 1).
    pub link: f64,
    /// Latency of one small all-reduce at this tensor-parallel degree, seconds.
    pub allreduce_latency: f64,
}

/// The model on one GPU of a `tensor_parallel`-wide replica, from the calculator's
/// estimate at that degree (its weights per GPU, format and cache dtype).
pub fn shape_of(model: &Model, estimate: &InferenceEstimate, tensor_parallel: u64) -> Shape {
    let arch = &model.arch;
    let tp = tensor_parallel.max(1) as f64;
    let experts_total = routed_expert_bytes(model, &estimate.weight_format) as f64;
    let (experts, top_k, moe_layers) = arch.moe.as_ref().map_or((0.0, 0.0, 0.0), |m| {
        (
            m.num_experts as f64,
            m.experts_per_token as f64,
            m.moe_layers as f64,
        )
    });
    let expert_bytes = if experts > 0.0 && moe_layers > 0.0 {
        experts_total / (experts * moe_layers * tp)
    } else {
        0.0
    };
    let dense_bytes = (estimate.model_weights.0 as f64 - experts_total / tp).max(0.0);
    // Keys and values per token per attention layer, in the cache's dtype, on one GPU:
    // the heads split over the GPUs (a latent cache, MLA's, is whole on each).
    let layers = arch.attention_layers.max(1) as f64;
    let values_per_layer = cache_rates(model).attention_values_per_token as f64 / layers;
    let shards = if arch.mla.is_some() {
        1.0
    } else {
        tp.min(arch.num_kv_heads.max(1) as f64)
    };
    let kv_value_bytes = estimate.kv_cache_precision.bits() as f64 / 8.0;
    let window_layers = arch.sliding_layers.min(arch.attention_layers) as f64;
    Shape {
        dense_bytes,
        expert_bytes,
        moe_layers,
        experts,
        top_k,
        linear_params: (model.params.active - model.params.embedding) as f64,
        lm_head_params: (arch.hidden_size * arch.vocab_size) as f64,
        hidden: arch.hidden_size as f64,
        layers: arch.num_layers as f64,
        full_attention_layers: arch.attention_layers as f64 - window_layers,
        window_layers,
        window: arch.sliding_window.unwrap_or(0) as f64,
        query_width: (arch.num_heads * arch.head_dim) as f64,
        kv_bytes_per_token_layer: values_per_layer * kv_value_bytes / shards,
        tensor_parallel: tp,
    }
}

/// The dtype a GPU runs a weight format's matrix products in, as vLLM's kernels do:
/// the format's own tensor cores where it has them, else 16-bit (weight-only kernels
/// dequantize in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeDtype {
    /// bfloat16 (float16 where the GPU has no bfloat16).
    Sixteen,
    /// fp8 tensor cores.
    Fp8,
    /// fp4 tensor cores.
    Fp4,
    /// int8 tensor cores.
    Int8,
}

impl ComputeDtype {
    /// How answers name it.
    pub fn name(self) -> &'static str {
        match self {
            ComputeDtype::Sixteen => "16-bit",
            ComputeDtype::Fp8 => "fp8",
            ComputeDtype::Fp4 => "fp4",
            ComputeDtype::Int8 => "int8",
        }
    }
}

/// The compute dtype of `estimate`'s weights on `gpu`. Native fp8 runs on fp8 tensor
/// cores; native NVFP4 on fp4 ones; native MXFP4 (Blackwell) with fp8 activations,
/// FlashInfer's MXFP4×MXFP8 MoE path the published B200 runs used; int8 W8A8 on
/// int8 ones; everything else (16-bit weights, GPTQ/AWQ/bitsandbytes, any weight-only
/// fallback) in 16-bit.
pub fn compute_dtype(gpu: &Gpu, estimate: &InferenceEstimate) -> ComputeDtype {
    let f = &estimate.weight_format;
    if weight_support(gpu, f) != Support::Native {
        return ComputeDtype::Sixteen;
    }
    match (f.precision, f.quantization) {
        (Precision::Float8, _) => ComputeDtype::Fp8,
        (_, Some(Quantization::Nvfp4)) => ComputeDtype::Fp4,
        (_, Some(Quantization::Mxfp4)) if gpu.platform == Platform::Cuda => ComputeDtype::Fp8,
        (Precision::Int8, None) => ComputeDtype::Int8,
        _ => ComputeDtype::Sixteen,
    }
}

/// Why a GPU cannot be modelled.
pub type Refusal = String;

/// What `gpu` offers a replica of `tensor_parallel` GPUs over `link`, with the notes
/// on figures taken from elsewhere; refused without a bandwidth or a 16-bit figure.
pub fn hardware_of(
    gpu: &Gpu,
    estimate: &InferenceEstimate,
    link: Option<&Interconnect>,
    tensor_parallel: u64,
    catalog: &Catalog,
    notes: &mut Vec<Warning>,
) -> Result<(Hardware, ComputeDtype), Refusal> {
    if gpu.platform == Platform::Neuron {
        return Err(format!(
            "{} runs AWS Neuron's serving stack, not vLLM on GPUs: the serving model does not cover it",
            gpu.name
        ));
    }
    let bandwidth = gpu
        .bandwidth_gbps
        .ok_or_else(|| format!("{}: the catalog has no memory bandwidth for it", gpu.name))?;
    let sixteen = gpu
        .bf16_dense_tflops
        .or(gpu.fp16_dense_tflops)
        .ok_or_else(|| {
            format!(
                "{}: the catalog has no cited dense 16-bit TFLOPS for it",
                gpu.name
            )
        })?;
    let dtype = compute_dtype(gpu, estimate);
    let own = match dtype {
        ComputeDtype::Sixteen => Some(sixteen),
        ComputeDtype::Fp8 => gpu.fp8_dense_tflops,
        ComputeDtype::Fp4 => gpu.fp4_dense_tflops,
        ComputeDtype::Int8 => gpu.int8_dense_tops,
    };
    let linear = own.unwrap_or_else(|| {
        notes.push(Warning::new(
            WarningCode::PerformanceFigureAssumed,
            format!(
                "{}: no cited dense {} TFLOPS; its linear layers are timed at the 16-bit rate (slower than it is)",
                gpu.name,
                dtype.name()
            ),
        ));
        sixteen
    });
    let (gbps, allreduce_us) = link_figures(gpu, link, tensor_parallel, catalog, notes);
    Ok((
        Hardware {
            bandwidth: bandwidth * 1e9,
            linear_flops: linear * 1e12,
            attention_flops: sixteen * 1e12,
            link: gbps * 1e9,
            allreduce_latency: allreduce_us * 1e-6,
        },
        dtype,
    ))
}

/// The link's bandwidth (GB/s a direction) and all-reduce latency (µs) at
/// `tensor_parallel`: the instance's own where the catalog has them, else the
/// catalog's PCIe measurement (the slowest link it lists), said in the notes.
fn link_figures(
    gpu: &Gpu,
    link: Option<&Interconnect>,
    tensor_parallel: u64,
    catalog: &Catalog,
    notes: &mut Vec<Warning>,
) -> (f64, f64) {
    if tensor_parallel <= 1 {
        return (0.0, 0.0);
    }
    let latency = |l: &Interconnect| {
        l.allreduce_us
            .iter()
            .find(|(tp, _)| *tp == tensor_parallel)
            .map(|(_, us)| *us)
    };
    let pcie = catalog
        .instances
        .iter()
        .filter_map(|i| i.interconnect.as_ref())
        .filter(|l| l.kind == LinkKind::Pcie)
        .find(|l| latency(l).is_some());
    let own_gbps = link.and_then(|l| l.gbps_per_direction);
    let own_latency = link.and_then(latency);
    if own_gbps.is_none() || own_latency.is_none() {
        notes.push(Warning::new(
            WarningCode::PerformanceFigureAssumed,
            format!(
                "{}: no measured link for tensor parallel {tensor_parallel}; the all-reduces are timed as over PCIe Gen4 (the catalog's L40S measurement)",
                gpu.name
            ),
        ));
    }
    let fallback_gbps = pcie.and_then(|l| l.gbps_per_direction).unwrap_or(1.0);
    let fallback_latency = pcie.and_then(latency).unwrap_or(0.0);
    (
        own_gbps.unwrap_or(fallback_gbps),
        own_latency.unwrap_or(fallback_latency),
    )
}
