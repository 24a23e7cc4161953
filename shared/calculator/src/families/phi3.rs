//! Phi-3: a llama-style decoder with fused `qkv_proj` and `gate_up_proj` matrices (they
//! decide LoRA adapter shapes) and no biases.

use super::family::{every_layer_slides, read_dense, Family};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};

/// `phi3`: a `sliding_window` applies to every layer.
pub const PHI3: Family = Family {
    name: "phi3",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_phi3,
    sliding_layers: every_layer_slides,
};

fn read_phi3(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_dense(keys, c, arch)?;
    arch.fused_qkv = true;
    arch.fused_gate_up = true;
    arch.qkv_bias = false;
    arch.o_bias = false;
    Ok(())
}
