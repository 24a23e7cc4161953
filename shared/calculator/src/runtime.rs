//! Facts of the GPU runtime that every workload shares: the CUDA context each GPU
//! holds, and the dtype activations are computed in. Inference and training both read
//! them from here (`docs/methodology.md` §6).

use crate::precision::Precision;

/// CUDA context per GPU, in bytes: driver state plus the kernel images of PyTorch,
/// cuBLAS and cuDNN loaded lazily (`CUDA_MODULE_LOADING=LAZY`, PyTorch's default since
/// 1.13). Its size depends on the driver and the libraries loaded; PyTorch documents
/// that it exists and that `nvidia-smi` counts it
/// (<https://docs.pytorch.org/docs/stable/generated/torch.cuda.memory.memory_allocated.html>)
/// but gives no size, and no public measurement under lazy loading is cited here:
/// 0.5 GiB is this project's allowance, unverified. It is a component of its
/// own because `torch.cuda.max_memory_allocated` excludes it and `nvidia-smi`
/// includes it (methodology §6).
pub const CUDA_CONTEXT_BYTES: u64 = 512 * 1024 * 1024;

/// Bytes of one activation value: fp32 models compute in fp32 (4), everything else —
/// 16-bit models and quantized weights, which are dequantized for the matrix product —
/// in a 16-bit dtype (2).
pub(crate) fn compute_bytes(p: Precision) -> u128 {
    if p == Precision::Float32 {
        4
    } else {
        2
    }
}

/// Bytes of one fp32 value: master weights, optimizer states, upcast logits, softmax
/// outputs, router logits and quantization scales are kept in it.
pub(crate) const FP32_BYTES: u128 = 4;

/// The 16-bit dtype quantized weights are dequantized to for compute, and the default
/// dtype of their KV cache (methodology §4): bfloat16, as vLLM and transformers load
/// GPTQ, AWQ, FP8 and bitsandbytes checkpoints of bf16 models.
pub const QUANTIZED_COMPUTE_DTYPE: Precision = Precision::Bfloat16;
