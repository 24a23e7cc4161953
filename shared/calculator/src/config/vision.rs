//! Vision towers of multimodal wrappers, counted apart from the language model: the
//! calculator sizes the text decoder, and says how many parameters the tower and its
//! projector hold (`docs/methodology.md` §1). Known towers: Qwen3.5's (Qwen3-VL's
//! without the deepstack mergers) and Llama 4's.

use crate::error::CalcError;
use crate::keys::Keys;
use crate::limits;

/// Parameters of the vision tower and projector of a `wrapper` config, when its tower
/// is one the calculator knows; `text_hidden` is the language model's width.
pub(crate) fn tower_params(
    wrapper: &str,
    vision: &Keys,
    text_hidden: u64,
) -> Result<Option<u128>, CalcError> {
    match wrapper {
        "qwen3_5" | "qwen3_5_moe" => qwen3_5(vision).map(Some),
        "llama4" => llama4(vision, text_hidden).map(Some),
        _ => Ok(None),
    }
}

/// Smallest pixel-shuffle ratio read (Llama 4's is 0.5): bounds the adapter's width.
const MIN_SHUFFLE_RATIO: f64 = 0.01;

/// A width (hidden, MLP, projector), or the tower's default.
fn width(v: &Keys, key: &'static str, default: u64) -> Result<u128, CalcError> {
    bounded(v, key, limits::MAX_INTERMEDIATE, default)
}

/// A patch, merge or channel count, or the tower's default.
fn small(v: &Keys, key: &'static str, default: u64) -> Result<u128, CalcError> {
    bounded(v, key, limits::MAX_VISION_SMALL, default)
}

/// A positive integer up to `max`, or the tower's default.
fn bounded(v: &Keys, key: &'static str, max: u64, default: u64) -> Result<u128, CalcError> {
    Ok(v.uint_or(&[key], 1, max, default)? as u128)
}

/// Qwen3.5's tower (`Qwen3_5VisionModel`; defaults of its config class): a patch
/// embedding (Conv3d over `in_channels x temporal_patch_size x patch_size²`, with
/// bias), learned positions, `depth` blocks of two LayerNorms, a fused qkv, an output
/// projection and a two-layer MLP (all with biases), and a merger of
/// `spatial_merge_size²` patches (LayerNorm, then `4v -> 4v -> out_hidden_size`).
fn qwen3_5(v: &Keys) -> Result<u128, CalcError> {
    let h = width(v, "hidden_size", 1152)?;
    let i = width(v, "intermediate_size", 4304)?;
    let depth = bounded(v, "depth", limits::MAX_LAYERS, 27)?;
    let patch = small(v, "patch_size", 16)?;
    let temporal = small(v, "temporal_patch_size", 2)?;
    let channels = small(v, "in_channels", 3)?;
    let merge = small(v, "spatial_merge_size", 2)?;
    let positions = bounded(v, "num_position_embeddings", limits::MAX_POSITIONS, 2304)?;
    let out = width(v, "out_hidden_size", 3584)?;
    let block = 4 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h);
    let merged = h * merge * merge;
    let merger = 2 * h + (merged * merged + merged) + (merged * out + out);
    Ok(channels * temporal * patch * patch * h + h + positions * h + depth * block + merger)
}

/// Llama 4's tower (`Llama4VisionModel`): a bias-free patch embedding, a class
/// embedding, learned positions for every patch and the class token, LayerNorms before
/// and after, `num_hidden_layers` blocks (q, k, v, o and a two-layer MLP with biases,
/// two LayerNorms), the pixel-shuffle adapter's two bias-free layers and the
/// projector to the text width.
fn llama4(v: &Keys, text_hidden: u64) -> Result<u128, CalcError> {
    let h = width(v, "hidden_size", 768)?;
    let i = width(v, "intermediate_size", 3072)?;
    let layers = bounded(v, "num_hidden_layers", limits::MAX_LAYERS, 34)?;
    let image = bounded(v, "image_size", limits::MAX_HIDDEN, 448)?;
    let patch = small(v, "patch_size", 14)?;
    let channels = small(v, "num_channels", 3)?;
    let proj_in = width(v, "projector_input_dim", 4096)?;
    let proj_out = width(v, "projector_output_dim", 4096)?;
    let out = width(v, "vision_output_dim", 7680)?;
    let ratio = match v
        .find(&["pixel_shuffle_ratio"])
        .and_then(|(_, r)| r.as_f64())
    {
        None => 0.5,
        Some(r) if (MIN_SHUFFLE_RATIO..=1.0).contains(&r) => r,
        Some(_) => {
            return Err(CalcError::field(
                v.path("pixel_shuffle_ratio"),
                format!("must be a number from {MIN_SHUFFLE_RATIO} to 1"),
            ))
        }
    };
    let block = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h;
    let patches = (image / patch) * (image / patch);
    let shuffled = (h as f64 / (ratio * ratio)) as u128;
    Ok(channels * patch * patch * h
        + h
        + (patches + 1) * h
        + 4 * h
        + layers * block
        + shuffled * proj_in
        + proj_in * proj_out
        + out * text_hidden as u128)
}
