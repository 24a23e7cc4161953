//! Llama, Mistral, and the generic llama-style reader for unknown `model_type`s:
//! gated MLP, RMSNorm, rotary positions, GQA, untied embeddings, biases only where
//! `attention_bias` / `mlp_bias` say so.

use super::family::{every_layer_slides, no_layer_slides, read_dense, Family};
use crate::architecture::Architecture;
use crate::error::CalcError;
use crate::keys::{Common, Keys};

/// `llama`: `LlamaConfig` has a `sliding_window`-free layout.
pub const LLAMA: Family = Family {
    name: "llama",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_dense,
    sliding_layers: no_layer_slides,
};

/// `mistral`: no biases whatever the config says; a `sliding_window` applies to every
/// layer.
pub const MISTRAL: Family = Family {
    name: "mistral",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_mistral,
    sliding_layers: every_layer_slides,
};

/// An unknown `model_type`, read with llama's keys and layout (warned); a
/// `sliding_window` is taken to apply to every layer, as Mistral's does.
pub const GENERIC: Family = Family {
    name: "llama-style",
    aliases: &[],
    ties_embeddings: false,
    feature_keys: &[],
    read: read_dense,
    sliding_layers: every_layer_slides,
};

fn read_mistral(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_dense(keys, c, arch)?;
    arch.qkv_bias = false;
    arch.o_bias = false;
    arch.mlp_bias = false;
    Ok(())
}
