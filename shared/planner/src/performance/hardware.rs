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
    /// experts, norms, `lm_head`; not an untied input embedding, which is looked up),
    /// bytes on one GPU.
    pub dense_bytes: f64,
    /// One routed expert of one MoE layer, bytes on one GPU: its tensor-parallel share
    /// (under expert parallelism a GPU holds whole experts, 1/t of them, and reads the
    /// same bytes for the same tokens on average).
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
    // An untied input embedding is looked up, not multiplied: a step reads a row per
    // token, not the matrix (split over the GPUs by vocabulary, kept in 16-bit by every
    // quantized format; fp32 only in an fp32 model).
    let embedding_bytes = if arch.tie_word_embeddings {
        0.0
    } else {
        let width = if estimate.weight_format.precision == Precision::Float32 {
            4.0
        } else {
            2.0
        };
        model.params.embedding_matrix as f64 * width / tp
    };
    let dense_bytes =
        (estimate.model_weights.0 as f64 - experts_total / tp - embedding_bytes).max(0.0);
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

/// The dtype a GPU runs a weight format's matrix products in, as vLLM's kernels do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeDtype {
    /// 16-bit weights on 16-bit tensor cores (bfloat16; float16 where the GPU has no
    /// bfloat16).
    Sixteen,
    /// Quantized weights dequantized to 16-bit inside the kernel (GPTQ, AWQ,
    /// bitsandbytes, Marlin's weight-only fp8/fp4): 16-bit tensor cores behind a
    /// different kernel, so a share of peak of its own.
    WeightOnly,
    /// fp8 tensor cores.
    Fp8,
    /// fp4 tensor cores.
    Fp4,
    /// int8 tensor cores.
    Int8,
}

impl ComputeDtype {
    /// Every compute dtype.
    pub const ALL: [ComputeDtype; 5] = [
        ComputeDtype::Sixteen,
        ComputeDtype::WeightOnly,
        ComputeDtype::Fp8,
        ComputeDtype::Fp4,
        ComputeDtype::Int8,
    ];

    /// How answers name it.
    pub fn name(self) -> &'static str {
        match self {
            ComputeDtype::Sixteen => "16-bit",
            ComputeDtype::WeightOnly => "16-bit weight-only",
            ComputeDtype::Fp8 => "fp8",
            ComputeDtype::Fp4 => "fp4",
            ComputeDtype::Int8 => "int8",
        }
    }
}

/// The compute dtype of `estimate`'s weights on `gpu`. 16-bit weights compute in
/// 16-bit. Native fp8 runs on fp8 tensor cores; native NVFP4 on fp4 ones; native MXFP4
/// (Blackwell) with fp8 activations, FlashInfer's MXFP4×MXFP8 MoE path the published
/// B200 runs used; int8 W8A8 on int8 ones; every other quantized format (GPTQ, AWQ,
/// bitsandbytes, any weight-only fallback) dequantizes in the kernel.
pub fn compute_dtype(gpu: &Gpu, estimate: &InferenceEstimate) -> ComputeDtype {
    let f = &estimate.weight_format;
    let sixteen = f.quantization.is_none()
        && matches!(
            f.precision,
            Precision::Bfloat16 | Precision::Float16 | Precision::Float32
        );
    if sixteen {
        return ComputeDtype::Sixteen;
    }
    if weight_support(gpu, f) != Support::Native {
        return ComputeDtype::WeightOnly;
    }
    match (f.precision, f.quantization) {
        (Precision::Float8, _) => ComputeDtype::Fp8,
        (_, Some(Quantization::Nvfp4)) => ComputeDtype::Fp4,
        (_, Some(Quantization::Mxfp4)) if gpu.platform == Platform::Cuda => ComputeDtype::Fp8,
        (Precision::Int8, None) => ComputeDtype::Int8,
        _ => ComputeDtype::WeightOnly,
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
        ComputeDtype::Sixteen | ComputeDtype::WeightOnly => Some(sixteen),
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
    let (gbps, allreduce_us) = link_figures(gpu, link, tensor_parallel, catalog, notes)?;
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
/// `tensor_parallel`: the instance's own where the catalog has them, else the slowest
/// measured PCIe link of the catalog; the latency of the measured degree nearest to
/// `tensor_parallel`. What was borrowed is said in the notes.
fn link_figures(
    gpu: &Gpu,
    link: Option<&Interconnect>,
    tensor_parallel: u64,
    catalog: &Catalog,
    notes: &mut Vec<Warning>,
) -> Result<(f64, f64), Refusal> {
    if tensor_parallel <= 1 {
        return Ok((0.0, 0.0));
    }
    let measured = |l: &&Interconnect| l.gbps_per_direction.is_some() && !l.allreduce_us.is_empty();
    let (used, source) = match link.filter(measured) {
        Some(l) => (l, None),
        None => {
            let slowest = catalog
                .instances
                .iter()
                .filter_map(|i| i.interconnect.as_ref().map(|l| (i, l)))
                .filter(|(_, l)| l.kind == LinkKind::Pcie && measured(l))
                .min_by(|a, b| {
                    let gbps = |l: &Interconnect| l.gbps_per_direction.unwrap_or_default();
                    gbps(a.1).total_cmp(&gbps(b.1))
                })
                .ok_or_else(|| {
                    format!(
                        "{}: the catalog has no measured GPU link to time the all-reduces with",
                        gpu.name
                    )
                })?;
            (slowest.1, Some(slowest.0.name.as_str()))
        }
    };
    let gbps = used.gbps_per_direction.unwrap_or_default();
    let (degree, us) = used
        .allreduce_us
        .iter()
        .copied()
        .min_by_key(|(d, _)| d.abs_diff(tensor_parallel))
        .unwrap_or((tensor_parallel, 0.0));
    if let Some(instance) = source {
        notes.push(Warning::new(
            WarningCode::PerformanceFigureAssumed,
            format!(
                "{}: no measured link for these GPUs; the all-reduces are timed over PCIe at {gbps} GB/s a direction ({instance}'s, the slowest the catalog measured)",
                gpu.name
            ),
        ));
    }
    if degree != tensor_parallel {
        notes.push(Warning::new(
            WarningCode::PerformanceFigureAssumed,
            format!(
                "{}: no all-reduce latency measured at tensor parallel {tensor_parallel}; the one at {degree} ({us} µs) is used",
                gpu.name
            ),
        ));
    }
    Ok((gbps, us))
}
