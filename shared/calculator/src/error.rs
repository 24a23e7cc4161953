//! The one error type of the crate. Every variant names what was wrong so that the
//! API can answer with a 4xx that points at the offending field.

use thiserror::Error;

/// Why a calculation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalcError {
    /// A field is missing, has the wrong type, or is out of range.
    #[error("{field}: {message}")]
    InvalidField {
        /// Dotted path of the field, e.g. `config.hidden_size`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The model name is not in the registry.
    #[error("Model '{name}' not found")]
    UnknownModel {
        /// The name as given.
        name: String,
        /// Up to three registry names closest to it.
        suggestions: Vec<String>,
    },
    /// The configuration is valid but its memory does not fit in 64 bits of bytes.
    #[error("the requested configuration needs more than 18.4 exabytes of memory")]
    TooLarge,
}

impl CalcError {
    /// Shorthand for [`CalcError::InvalidField`].
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> CalcError {
        CalcError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with its field placed under `prefix` (`config.` + field).
    pub fn nested(self, prefix: &str) -> CalcError {
        match self {
            CalcError::InvalidField { field, message } => CalcError::InvalidField {
                field: format!("{prefix}.{field}"),
                message,
            },
            other => other,
        }
    }
}

/// Upper bounds on inputs. With these, every intermediate product of the memory model
/// stays far below `u128::MAX` (the largest, eager attention scores over all layers,
/// is below 2^105), so arithmetic cannot overflow; only the final conversion to
/// 64-bit bytes can fail, with [`CalcError::TooLarge`].
pub mod limits {
    /// Largest batch size (sequences per GPU).
    pub const MAX_BATCH_SIZE: u64 = 1 << 20;
    /// Largest prompt / training sequence length in tokens.
    pub const MAX_SEQUENCE_LENGTH: u64 = 1 << 24;
    /// Largest number of generated tokens.
    pub const MAX_NEW_TOKENS: u64 = 1 << 24;
    /// Largest GPU count.
    pub const MAX_GPUS: u64 = 1 << 16;
    /// Largest hidden size / embedding width.
    pub const MAX_HIDDEN: u64 = 1 << 20;
    /// Largest number of decoder layers.
    pub const MAX_LAYERS: u64 = 1 << 14;
    /// Largest number of attention (or key/value) heads.
    pub const MAX_HEADS: u64 = 1 << 16;
    /// Largest head dimension (also MLA ranks).
    pub const MAX_HEAD_DIM: u64 = 1 << 16;
    /// Largest vocabulary.
    pub const MAX_VOCAB: u64 = 1 << 24;
    /// Largest MLP width.
    pub const MAX_INTERMEDIATE: u64 = 1 << 24;
    /// Largest number of experts.
    pub const MAX_EXPERTS: u64 = 1 << 16;
    /// Largest learned position table / sliding window.
    pub const MAX_POSITIONS: u64 = 1 << 26;
    /// Largest LoRA rank.
    pub const MAX_LORA_RANK: u64 = 1 << 16;
    /// Largest quantization group size.
    pub const MAX_GROUP_SIZE: u64 = 1 << 20;
    /// Largest `model_size`, in billions of parameters (100 trillion parameters).
    pub const MAX_MODEL_SIZE_BILLIONS: f64 = 100_000.0;
}

/// Checks `min <= value <= max` for a request field.
pub(crate) fn check_range(field: &str, value: u64, min: u64, max: u64) -> Result<(), CalcError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(CalcError::field(
            field,
            format!("must be an integer from {min} to {max}, got {value}"),
        ))
    }
}

/// Checks the fields every workload has: sequences, tokens per sequence, GPUs.
pub(crate) fn check_workload(
    batch_size: u64,
    sequence_length: u64,
    num_gpus: u64,
) -> Result<(), CalcError> {
    check_range("batch_size", batch_size, 1, limits::MAX_BATCH_SIZE)?;
    check_range(
        "sequence_length",
        sequence_length,
        1,
        limits::MAX_SEQUENCE_LENGTH,
    )?;
    check_range("num_gpus", num_gpus, 1, limits::MAX_GPUS)
}

/// Converts an internal `u128` byte count to the 64-bit value the API reports.
pub(crate) fn to_u64(value: u128) -> Result<u64, CalcError> {
    u64::try_from(value).map_err(|_| CalcError::TooLarge)
}
