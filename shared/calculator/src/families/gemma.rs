//! Gemma 1, 2 and 3: llama-style decoders with tied embeddings; Gemma 2/3 add a
//! post-attention and a post-MLP norm (four per layer) and mix local and global
//! layers; Gemma 3 adds per-head q/k RMSNorm.

use super::family::{alternate_layers_slide, no_layer_slides, read_dense, Family};
use crate::architecture::{Architecture, QkNorm};
use crate::error::CalcError;
use crate::keys::{Common, Keys};
use crate::limits;

/// `gemma`
pub const GEMMA: Family = Family {
    name: "gemma",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_dense,
    sliding_layers: no_layer_slides,
};

/// `gemma2`: local and global layers alternate, starting with a local one.
pub const GEMMA2: Family = Family {
    name: "gemma2",
    aliases: &[],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_gemma2,
    sliding_layers: alternate_layers_slide,
};

/// `gemma3_text` (also `gemma3`, the multimodal wrapper's type): one global layer in
/// every `sliding_window_pattern` (default 6).
pub const GEMMA3: Family = Family {
    name: "gemma3_text",
    aliases: &["gemma3"],
    ties_embeddings: true,
    feature_keys: &[],
    read: read_gemma3,
    sliding_layers: gemma3_sliding_layers,
};

/// `Gemma3TextConfig.sliding_window_pattern`: five local layers, then a global one.
const GEMMA3_SLIDING_WINDOW_PATTERN: u64 = 6;

fn read_gemma2(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_dense(keys, c, arch)?;
    arch.norms_per_layer = 4;
    Ok(())
}

fn read_gemma3(keys: &Keys, c: &Common, arch: &mut Architecture) -> Result<(), CalcError> {
    read_gemma2(keys, c, arch)?;
    arch.qk_norm = QkNorm::PerHead;
    Ok(())
}

fn gemma3_sliding_layers(keys: &Keys, c: &Common) -> Result<u64, CalcError> {
    let pattern = keys
        .uint(&["sliding_window_pattern"], 1, limits::MAX_LAYERS)?
        .unwrap_or(GEMMA3_SLIDING_WINDOW_PATTERN);
    Ok(c.layers - c.layers / pattern)
}
