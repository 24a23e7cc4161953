//! How a model's weights are stored: resolving the requested precision and format,
//! and the bytes that takes (`docs/methodology.md` §3).

use crate::error::CalcError;
use crate::limits;
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};

/// Resolves precision, format and group size for weights, checking they fit together.
pub(crate) fn resolve_weight_format(
    model: &Model,
    precision: Option<Precision>,
    quantization: Option<Quantization>,
    group_size: Option<u64>,
    warnings: &mut Vec<String>,
) -> Result<WeightFormat, CalcError> {
    let precision = precision
        .or(quantization.map(Quantization::default_precision))
        .unwrap_or_else(|| model.default_precision());
    if let Some(q) = quantization {
        if !q.precisions().contains(&precision) {
            let allowed: Vec<&str> = q.precisions().iter().map(|p| p.name()).collect();
            return Err(CalcError::field(
                "quantization",
                format!(
                    "{} checkpoints store {} weights, not {}",
                    q.name(),
                    allowed.join(" or "),
                    precision.name()
                ),
            ));
        }
    }
    if let Some(g) = group_size {
        limits::GROUP_SIZE.check(g)?;
    }
    let format = WeightFormat {
        precision,
        quantization,
        group_size: group_size.unwrap_or(DEFAULT_GROUP_SIZE),
        double_quant: false,
    };
    if let (Some(g), false) = (group_size, format.uses_group_size()) {
        warnings.push(format!(
            "group_size {g} ignored: it applies to group-wise int4/int8 formats (generic, gptq, awq)"
        ));
    }
    Ok(format)
}

/// Whether the format keeps a tied model's `lm_head` as its own 16-bit matrix: the
/// published fine-grained FP8 checkpoints of tied models do (Qwen3-0.6B/1.7B/4B-FP8
/// measure one embedding matrix above the tied count, the untied 8B/14B/32B do not).
pub(crate) fn unties_lm_head(model: &Model, format: &WeightFormat) -> bool {
    format.quantization == Some(Quantization::Fp8) && model.arch.tie_word_embeddings
}

/// Bytes of all weights in a format: quantized linear matrices with their scales, and
/// every other parameter in 16-bit; unquantized formats store everything alike.
pub(crate) fn weight_bytes(model: &Model, format: &WeightFormat) -> u128 {
    if format.precision.is_quantized() {
        let (bits, quantized) = model.quantized_linears(format);
        let mut rest = model.params.total - quantized;
        if unties_lm_head(model, format) {
            rest += model.params.embedding_matrix;
        }
        (bits + rest * 16).div_ceil(8)
    } else {
        model.params.total * format.precision.bits() as u128 / 8
    }
}
