//! What a GPU can run: whether vLLM has a kernel for a weight format on it, and
//! whether it computes in bfloat16. The minimum compute capabilities are those vLLM's
//! quantization configs declare (`get_min_capability()` of `Fp8Config`,
//! `Mxfp4Config`, `ModelOptNvFp4Config`, `AWQConfig`, `GPTQConfig`,
//! `BitsAndBytesConfig` and the compressed-tensors int8 scheme); the native/weight-only
//! split follows the tensor cores each generation has (fp8 from Ada, compute
//! capability 8.9; fp4 from Blackwell, 10.0). Methodology §11.

use calculator::{Precision, Quantization, WeightFormat};

use crate::catalog::{ComputeCapability, Gpu, Platform};

/// First compute capability with fp8 tensor cores (Ada Lovelace).
const FP8_NATIVE: ComputeCapability = ComputeCapability(8, 9);
/// First compute capability with fp4 tensor cores (Blackwell).
const FP4_NATIVE: ComputeCapability = ComputeCapability(10, 0);
/// vLLM's FP8 and MXFP4 Marlin kernels (weight-only, dequantized to 16-bit in the
/// kernel) need Ampere.
const MARLIN: ComputeCapability = ComputeCapability(8, 0);
/// NVFP4's CUTLASS and FlashInfer GEMMs are built for Blackwell data-centre (10.x) and
/// workstation (12.x) GPUs only (`cutlass_scaled_mm_supports_fp4`): below 10.0, and
/// from 13.0, vLLM falls back to its weight-only FP4 Marlin kernel.
const FP4_NATIVE_END: ComputeCapability = ComputeCapability(13, 0);
/// AWQ's kernels, the int8 W8A8 scheme and NVFP4's Marlin fallback need Turing.
const TURING: ComputeCapability = ComputeCapability(7, 5);
/// bitsandbytes in vLLM needs Volta.
const VOLTA: ComputeCapability = ComputeCapability(7, 0);
/// GPTQ's exllama kernels need Pascal.
const PASCAL: ComputeCapability = ComputeCapability(6, 0);

/// How a GPU runs a model's weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// The format's own kernels, on tensor cores of its dtype.
    Native,
    /// The weights stay in their format (same memory) and are dequantized to 16-bit
    /// inside the kernel; the note names the kernel.
    WeightOnly(String),
    /// bfloat16 weights served in float16, which the GPU computes in (same memory).
    Float16Instead,
    /// No kernel: the GPU cannot serve this format. The reason says why.
    Unsupported(String),
}

impl Support {
    /// Whether the model runs at all.
    pub fn runs(&self) -> bool {
        !matches!(self, Support::Unsupported(_))
    }

    /// A sentence for answers, when there is something to say.
    pub fn note(&self, gpu: &Gpu) -> Option<String> {
        match self {
            Support::Native => None,
            Support::WeightOnly(how) => Some(format!("{}: {how}", gpu.name)),
            Support::Float16Instead => Some(format!(
                "{} has no bfloat16 tensor cores: served in float16 (same memory)",
                gpu.name
            )),
            Support::Unsupported(why) => Some(why.clone()),
        }
    }
}

/// How `gpu` runs weights stored as `format` under vLLM.
pub fn weight_support(gpu: &Gpu, format: &WeightFormat) -> Support {
    match gpu.platform {
        Platform::Cuda => cuda_support(gpu, format),
        // vLLM's ROCm build runs 16-bit, fp8 (on GPUs with fp8 units), and MXFP4 and
        // the integer formats through Triton kernels.
        Platform::Rocm => match (format.precision, format.quantization) {
            (Precision::Float8, _) if !gpu.fp8_supported => unsupported(gpu, "fp8 weights"),
            (_, Some(Quantization::Mxfp4)) => {
                Support::WeightOnly("MXFP4 experts dequantized in vLLM's Triton MoE kernel".into())
            }
            (_, Some(Quantization::Nvfp4)) => unsupported(gpu, "NVFP4 weights on ROCm"),
            _ => Support::Native,
        },
        Platform::Neuron => Support::Native,
    }
}

fn unsupported(gpu: &Gpu, what: &str) -> Support {
    let cc = gpu
        .compute_capability
        .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    Support::Unsupported(format!(
        "{} (compute capability {cc}) has no vLLM kernel for {what}",
        gpu.name
    ))
}

fn cuda_support(gpu: &Gpu, format: &WeightFormat) -> Support {
    // A CUDA GPU of unknown generation (a custom one) is assumed current.
    let cc = gpu.compute_capability.unwrap_or(FP4_NATIVE);
    let needs = |min: ComputeCapability, what: &str, ok: Support| {
        if cc >= min {
            ok
        } else {
            unsupported(gpu, what)
        }
    };
    match (format.precision, format.quantization) {
        (Precision::Bfloat16, _) if !gpu.computes_bf16() => Support::Float16Instead,
        (Precision::Float32 | Precision::Float16 | Precision::Bfloat16, _) => Support::Native,
        (_, Some(Quantization::Mxfp4)) if cc >= FP4_NATIVE => Support::Native,
        (_, Some(Quantization::Mxfp4)) => needs(
            MARLIN,
            "MXFP4 weights (vLLM's Marlin and Triton MXFP4 kernels need compute capability 8.0)",
            Support::WeightOnly(
                "no fp4 tensor cores: MXFP4 experts are dequantized to 16-bit in vLLM's Marlin/Triton kernels".into(),
            ),
        ),
        (_, Some(Quantization::Nvfp4)) if cc >= FP4_NATIVE && cc < FP4_NATIVE_END => {
            Support::Native
        }
        (_, Some(Quantization::Nvfp4)) => needs(
            TURING,
            "NVFP4 weights (vLLM's FP4 Marlin kernel needs compute capability 7.5)",
            Support::WeightOnly(
                "no fp4 tensor cores: NVFP4 weights are dequantized to 16-bit in vLLM's FP4 Marlin kernel".into(),
            ),
        ),
        (Precision::Float8, _) if cc >= FP8_NATIVE => Support::Native,
        (Precision::Float8, _) => needs(
            MARLIN,
            "fp8 weights (vLLM's FP8 Marlin kernel needs compute capability 8.0)",
            Support::WeightOnly(
                "no fp8 tensor cores: fp8 weights are dequantized to 16-bit in vLLM's FP8 Marlin kernel".into(),
            ),
        ),
        (_, Some(Quantization::Awq)) => needs(TURING, "AWQ weights", Support::Native),
        (_, Some(Quantization::Gptq)) => needs(PASCAL, "GPTQ weights", Support::Native),
        (_, Some(Quantization::Bitsandbytes)) => {
            needs(VOLTA, "bitsandbytes weights", Support::Native)
        }
        (Precision::Int8, _) => needs(TURING, "int8 weights", Support::Native),
        _ => needs(PASCAL, "int4 weights", Support::Native),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use calculator::DEFAULT_GROUP_SIZE;

    fn support(gpu: &str, precision: Precision, quantization: Option<Quantization>) -> Support {
        let gpu = Catalog::embedded().gpu(gpu).unwrap();
        let format = WeightFormat {
            precision,
            quantization,
            group_size: DEFAULT_GROUP_SIZE,
            double_quant: false,
        };
        weight_support(gpu, &format)
    }

    #[test]
    fn bfloat16_falls_back_to_float16_before_ampere() {
        for gpu in ["NVIDIA T4 16GB", "NVIDIA V100 32GB"] {
            assert_eq!(
                support(gpu, Precision::Bfloat16, None),
                Support::Float16Instead
            );
        }
        assert_eq!(
            support("NVIDIA A10G 24GB", Precision::Bfloat16, None),
            Support::Native
        );
    }

    #[test]
    fn fp8_native_from_ada_weight_only_on_ampere_absent_before() {
        let fp8 = |gpu| support(gpu, Precision::Float8, Some(Quantization::Fp8));
        assert_eq!(fp8("NVIDIA H100 SXM 80GB"), Support::Native);
        assert_eq!(fp8("NVIDIA L4 24GB"), Support::Native);
        assert!(matches!(fp8("NVIDIA A100 80GB"), Support::WeightOnly(_)));
        let t4 = fp8("NVIDIA T4 16GB");
        assert!(!t4.runs());
        assert!(t4
            .note(Catalog::embedded().gpu("NVIDIA T4 16GB").unwrap())
            .unwrap()
            .contains("7.5"));
    }

    #[test]
    fn mxfp4_native_on_blackwell_only() {
        let mx = |gpu| support(gpu, Precision::Int4, Some(Quantization::Mxfp4));
        assert_eq!(mx("NVIDIA B200"), Support::Native);
        assert!(matches!(mx("NVIDIA H100 SXM 80GB"), Support::WeightOnly(_)));
        assert!(matches!(mx("NVIDIA A10G 24GB"), Support::WeightOnly(_)));
        assert!(!mx("NVIDIA V100 16GB").runs());
    }

    #[test]
    fn nvfp4_native_on_blackwell_weight_only_from_turing() {
        let nv = |gpu| support(gpu, Precision::Int4, Some(Quantization::Nvfp4));
        assert_eq!(nv("NVIDIA B200"), Support::Native);
        assert_eq!(nv("NVIDIA GeForce RTX 5090"), Support::Native);
        assert!(matches!(nv("NVIDIA H100 SXM 80GB"), Support::WeightOnly(_)));
        assert!(matches!(nv("NVIDIA T4 16GB"), Support::WeightOnly(_)));
        assert!(!nv("NVIDIA V100 16GB").runs());
        assert!(!nv("AMD Instinct MI300X").runs());
    }

    #[test]
    fn integer_formats_by_their_kernels_minimum() {
        assert!(support("NVIDIA T4 16GB", Precision::Int4, Some(Quantization::Awq)).runs());
        assert!(!support("NVIDIA V100 16GB", Precision::Int4, Some(Quantization::Awq)).runs());
        assert!(support(
            "NVIDIA V100 16GB",
            Precision::Int4,
            Some(Quantization::Gptq)
        )
        .runs());
        assert!(!support("NVIDIA V100 16GB", Precision::Int8, None).runs());
    }
}
