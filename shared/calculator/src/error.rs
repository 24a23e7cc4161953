//! The one error type of the crate. Every variant names what was wrong so that the
//! API can answer with a 4xx that points at the offending field.

use thiserror::Error;

use crate::limits::{self, RangeError};

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
    /// The workload needs more than [`limits::MAX_REPORTED_BYTES`] per GPU (the
    /// weights alone do not).
    #[error(
        "the requested configuration needs more than {} of memory",
        limits::LARGEST_REPORTABLE
    )]
    TooLarge,
    /// The model's weights alone exceed [`limits::MAX_REPORTED_BYTES`] per GPU.
    #[error(
        "the model's weights alone take more than {} per GPU",
        limits::LARGEST_REPORTABLE
    )]
    WeightsTooLarge,
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

impl From<RangeError> for CalcError {
    fn from(e: RangeError) -> CalcError {
        CalcError::field(e.field, e.message)
    }
}

/// Converts an internal `u128` byte count to the value the API reports, refusing
/// counts above [`limits::MAX_REPORTED_BYTES`].
pub(crate) fn to_u64(value: u128) -> Result<u64, CalcError> {
    if value > limits::MAX_REPORTED_BYTES as u128 {
        return Err(CalcError::TooLarge);
    }
    Ok(value as u64)
}

/// Refuses weights above [`limits::MAX_REPORTED_BYTES`] per GPU, before anything that
/// grows with the workload is blamed.
pub(crate) fn check_weights(per_gpu: u128) -> Result<(), CalcError> {
    if per_gpu > limits::MAX_REPORTED_BYTES as u128 {
        Err(CalcError::WeightsTooLarge)
    } else {
        Ok(())
    }
}
