//! What the optimizer and the precision setting keep per trainable parameter: the
//! gradients, the fp32 master copy, the optimizer state and the step's temporaries
//! (`docs/methodology.md` §7.2–7.3).

use super::trainable::Trainable;
use super::vocabulary::{Optimizer, OptimizerImplementation};
use crate::precision::Precision;
use crate::runtime::FP32_BYTES;

/// Values per block of bitsandbytes' block-wise 8-bit optimizer states, each block
/// with one fp32 absmax: `Optimizer2State.init_state` in current bitsandbytes
/// (bitsandbytes-foundation/bitsandbytes@95f9af309d4d5793847169c39288dcd3fcbdf564 `bitsandbytes/optim/optimizer.py`; earlier releases used 2048). Tensors under its
/// `min_8bit_size` (4096 values: norms, biases) keep fp32 states, a negligible
/// difference for LLM weights (Dettmers et al. 2022, "8-bit Optimizers via Block-wise
/// Quantization").
pub(crate) const BNB_OPTIM_BLOCK: u128 = 256;

/// Bytes per trainable parameter of the gradients and the master copy under a
/// precision setting (methodology §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradientLayout {
    /// 16-bit gradient that backward produces.
    pub grad_16bit: u128,
    /// fp32 gradient the optimizer consumes (mixed precision, or fp32 training).
    pub grad_fp32: u128,
    /// fp32 master copy of the weight (mixed precision).
    pub master: u128,
    /// Whether optimizer states are fp32 (mixed precision and fp32) or in the 16-bit
    /// parameter dtype (pure 16-bit).
    pub fp32_states: bool,
}

impl GradientLayout {
    /// The layout of a compute dtype with or without mixed precision (mixed precision
    /// does not apply to fp32 compute).
    pub fn new(precision: Precision, mixed_precision: bool) -> GradientLayout {
        let mixed = mixed_precision && precision != Precision::Float32;
        match (mixed, precision) {
            (true, _) => GradientLayout {
                grad_16bit: 2,
                grad_fp32: FP32_BYTES,
                master: FP32_BYTES,
                fp32_states: true,
            },
            (false, Precision::Float32) => GradientLayout {
                grad_16bit: 0,
                grad_fp32: FP32_BYTES,
                master: 0,
                fp32_states: true,
            },
            (false, _) => GradientLayout {
                grad_16bit: 2,
                grad_fp32: 0,
                master: 0,
                fp32_states: false,
            },
        }
    }

    /// Whether this is mixed precision (an fp32 master copy beside 16-bit weights).
    pub fn is_mixed(self) -> bool {
        self.master > 0
    }

    /// Bytes of one state value: fp32, or the 16-bit parameter dtype.
    pub(crate) fn state_value_bytes(self) -> u128 {
        if self.fp32_states {
            FP32_BYTES
        } else {
            2
        }
    }
}

impl Optimizer {
    /// Bytes of optimizer state per trainable parameter, with states in fp32 (`true`)
    /// or in the 16-bit parameter dtype (`false`); `None` for Adafactor, whose factored
    /// state depends on tensor shapes. The same rates `estimate_training` applies (a
    /// unit test ties them).
    pub fn state_bytes_per_param(self, fp32_states: bool) -> Option<f64> {
        let w = if fp32_states { 4.0 } else { 2.0 };
        Some(match self {
            Optimizer::AdamW | Optimizer::Adam => 2.0 * w,
            Optimizer::QuantizedAdamW => 2.0 * (1.0 + 4.0 / BNB_OPTIM_BLOCK as f64),
            Optimizer::Sgd | Optimizer::Lion => w,
            Optimizer::SgdNoMomentum => 0.0,
            Optimizer::Adafactor => return None,
        })
    }

    /// Bytes of the optimizer step's temporaries per trainable parameter; `None` where
    /// they depend on the largest tensor rather than on the count (Adafactor, Lion,
    /// per-tensor Adam).
    pub fn step_workspace_bytes_per_param(
        self,
        implementation: OptimizerImplementation,
        fp32_states: bool,
    ) -> Option<f64> {
        match (self, implementation) {
            (Optimizer::AdamW | Optimizer::Adam, OptimizerImplementation::Foreach) => {
                Some(if fp32_states { 4.0 } else { 2.0 })
            }
            (Optimizer::AdamW | Optimizer::Adam, OptimizerImplementation::Fused) => Some(0.0),
            (Optimizer::AdamW | Optimizer::Adam, OptimizerImplementation::Forloop) => None,
            (Optimizer::Adafactor | Optimizer::Lion, _) => None,
            (Optimizer::QuantizedAdamW | Optimizer::Sgd | Optimizer::SgdNoMomentum, _) => Some(0.0),
        }
    }
}

/// Optimizer state of the trainable set, in bytes.
pub(crate) fn state_bytes(opt: Optimizer, t: &Trainable, layout: GradientLayout) -> u128 {
    let w = layout.state_value_bytes();
    match opt {
        // Adafactor keeps its factored moments in fp32 whatever the parameter dtype.
        Optimizer::Adafactor => t.factored * FP32_BYTES,
        // Two 8-bit moments, each with an fp32 absmax per block.
        Optimizer::QuantizedAdamW => {
            2 * t.elements + 2 * t.elements.div_ceil(BNB_OPTIM_BLOCK) * FP32_BYTES
        }
        Optimizer::AdamW | Optimizer::Adam => 2 * t.elements * w,
        Optimizer::Sgd | Optimizer::Lion => t.elements * w,
        Optimizer::SgdNoMomentum => 0,
    }
}

/// Temporaries of one optimizer step, in bytes. Adam and AdamW by implementation
/// (measured on an H100 with torch 2.11, `scripts/device/training_terms.py`): the fused
/// kernel (`fused=True`, DeepSpeed's FusedAdam) updates in place, 0; the multi-tensor
/// (foreach) step materialises `sqrt(v) + eps` for every parameter at once, one
/// state-sized tensor list (4.0 B per fp32 parameter measured; torch 2.0 also kept the
/// list before `+ eps`, twice that); the per-tensor loop holds two temporaries of one
/// tensor at a time, so two copies of the largest (measured 2 × largest plus the
/// previous tensor's denominator, which is not counted). Other per-tensor optimizers:
/// Adafactor three fp32 copies of the largest (row and column statistics' update, the
/// preconditioned update and its clipped copy), Lion two (the interpolated sign update
/// and the new momentum). bitsandbytes' 8-bit step and SGD's foreach step work in place.
pub(crate) fn step_workspace_bytes(
    opt: Optimizer,
    implementation: OptimizerImplementation,
    t: &Trainable,
    layout: GradientLayout,
) -> u128 {
    let w = layout.state_value_bytes();
    match opt {
        Optimizer::AdamW | Optimizer::Adam => match implementation {
            OptimizerImplementation::Fused => 0,
            OptimizerImplementation::Foreach => t.elements * w,
            OptimizerImplementation::Forloop => 2 * t.largest * w,
        },
        Optimizer::Adafactor => 3 * t.largest * FP32_BYTES,
        Optimizer::Lion => 2 * t.largest * w,
        Optimizer::QuantizedAdamW | Optimizer::Sgd | Optimizer::SgdNoMomentum => 0,
    }
}
