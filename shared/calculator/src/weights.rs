//! How a model's weights are stored: resolving the requested precision and format
//! (by default the published checkpoint's own), and the bytes that takes
//! (`docs/methodology.md` §3).

use crate::checkpoint::ModuleScope;
use crate::choice::Choice;
use crate::error::CalcError;
use crate::limits;
use crate::linear::LinearKind;
use crate::model::Model;
use crate::precision::{Precision, Quantization, WeightFormat, DEFAULT_GROUP_SIZE};
use crate::warning::{Warning, WarningCode};

/// The storage of a model's weights for one request: the format, and the linear
/// weights the published checkpoint keeps unquantized (only when the format is the
/// checkpoint's own).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightStorage<'m> {
    /// The format of the quantized linear weights (or of every weight).
    pub format: WeightFormat,
    /// Linear weights kept in 16-bit.
    pub unquantized: &'m [ModuleScope],
}

/// Resolves precision, format and group size for weights, checking they fit together.
/// With neither `precision` nor `quantization` given, a model whose published
/// checkpoint is quantized is sized in that checkpoint's format.
pub(crate) fn resolve_weight_storage<'m>(
    model: &'m Model,
    precision: Option<Precision>,
    quantization: Option<Quantization>,
    group_size: Option<u64>,
    warnings: &mut Vec<Warning>,
) -> Result<WeightStorage<'m>, CalcError> {
    if let Some(g) = group_size {
        limits::GROUP_SIZE.check(g)?;
    }
    let checkpoint = model.arch.checkpoint.as_ref();
    let shipped = checkpoint.and_then(|c| c.format);
    let requested = match (precision, quantization, shipped) {
        (None, None, Some(format)) => format,
        _ => requested_format(model, precision, quantization)?,
    };
    let mut storage = WeightStorage {
        format: requested,
        unquantized: &[],
    };
    if let (Some(c), Some(s)) = (checkpoint, shipped) {
        if (s.precision, s.quantization) == (requested.precision, requested.quantization) {
            // The checkpoint's own format: its group size, constants and the modules
            // it leaves unquantized apply.
            storage.format = s;
            storage.unquantized = &c.unquantized;
            if precision.is_none() && quantization.is_none() {
                warnings.push(Warning::new(WarningCode::CheckpointFormatUsed, format!(
                    "sized as the published checkpoint stores it ({}); precision {} sizes the unquantized model",
                    c.method,
                    model.default_precision().name()
                )));
            }
        } else {
            warnings.push(Warning::new(WarningCode::CheckpointFormatOverridden, format!(
                "the published checkpoint stores its weights in {}; this answer sizes them as asked instead (leave precision and quantization out to size the checkpoint as published)",
                c.method
            )));
        }
    }
    if let Some(c) = checkpoint {
        warnings.extend(c.notes.iter().cloned());
    }
    if let Some(g) = group_size {
        if storage.format.uses_group_size() {
            storage.format.group_size = g;
        } else {
            warnings.push(Warning::new(WarningCode::GroupSizeIgnored, format!(
                "group_size {g} ignored: it applies to group-wise int4/int8 formats (generic, gptq, awq)"
            )));
        }
    }
    Ok(storage)
}

/// The format a request names: its precision (or its format's usual one, or the
/// model's dtype) and format, which must fit together.
fn requested_format(
    model: &Model,
    precision: Option<Precision>,
    quantization: Option<Quantization>,
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
    Ok(WeightFormat {
        precision,
        quantization,
        group_size: DEFAULT_GROUP_SIZE,
        double_quant: false,
    })
}

/// Whether the format keeps a tied model's `lm_head` as its own 16-bit matrix: the
/// published fine-grained FP8 checkpoints of tied models do (Qwen3-0.6B/1.7B/4B-FP8
/// measure one embedding matrix above the tied count, the untied 8B/14B/32B do not).
pub(crate) fn unties_lm_head(model: &Model, format: &WeightFormat) -> bool {
    format.quantization == Some(Quantization::Fp8) && model.arch.tie_word_embeddings
}

/// Bytes of all weights in a storage: quantized linear matrices with their scales, and
/// every other parameter (and every linear weight kept unquantized) in 16-bit;
/// unquantized formats store everything alike.
pub(crate) fn weight_bytes(model: &Model, storage: &WeightStorage) -> u128 {
    let format = &storage.format;
    if format.precision.is_quantized() {
        let (bits, quantized) = model.quantized_linears(format, storage.unquantized);
        let mut rest = model.params.total - quantized;
        if unties_lm_head(model, format) {
            rest += model.params.embedding_matrix;
        }
        (bits + rest * 16).div_ceil(8)
    } else {
        model.params.total * format.precision.bits() as u128 / 8
    }
}

/// Bytes of a model's routed-expert matrices (every MoE layer, every expert) in
/// `format`, scales included; 0 for a dense model. A step of an MoE model reads only
/// the experts its tokens are routed to, so the serving model needs this part of the
/// weights apart (methodology §12).
pub fn routed_expert_bytes(model: &Model, format: &WeightFormat) -> u128 {
    let experts = model
        .linears
        .iter()
        .filter(|g| g.kind == LinearKind::Expert)
        .map(|g| &g.shape);
    if format.precision.is_quantized() {
        format.matrix_bits(experts).div_ceil(8)
    } else {
        experts.map(|s| s.elements()).sum::<u128>() * format.precision.bits() as u128 / 8
    }
}
