//! A compare request (`POST /api/memory/compare`): the calculation, the unit and the
//! configurations, each read later as its memory endpoint reads it.

use calculator::limits::MAX_COMPARE_CONFIGURATIONS;
use calculator::{Choice, Unit};
use serde_json::{Map, Value};

use super::calculation::Calculation;
use super::fields::{self, Endpoint, CALCULATION_TYPE, CONFIGURATIONS};
use super::reader::Fields;
use crate::http::{json_kind, ApiError};

/// A compare request, read.
pub struct CompareRequest<'a> {
    /// Inference or training, for every configuration.
    pub calc: Calculation,
    /// The unit of the answer's strings, and of each configuration without its own.
    pub unit: Unit,
    /// The configurations, 1 to [`MAX_COMPARE_CONFIGURATIONS`].
    pub configurations: &'a [Value],
}

impl CompareRequest<'_> {
    /// The configuration at `index` as a JSON object, under its path.
    pub fn configuration(&self, index: usize) -> Result<&Map<String, Value>, ApiError> {
        let item = &self.configurations[index];
        item.as_object().ok_or_else(|| {
            ApiError::field(
                &format!("{}[{index}]", CONFIGURATIONS.name),
                format!("must be an object, got {}", json_kind(item)),
            )
        })
    }
}

/// Reads a compare request body.
pub fn read_compare(body: &Map<String, Value>) -> Result<CompareRequest<'_>, ApiError> {
    let f = Fields::new(body, "");
    f.reject_unknown(&fields::names_of(Endpoint::Compare), |_| None)?;
    let calc = f.choice::<Calculation>(&CALCULATION_TYPE)?.ok_or_else(|| {
        ApiError::field(CALCULATION_TYPE.name, "is required: inference or training")
            .allowing(&Calculation::names())
    })?;
    let unit = f.unit(Unit::default())?;
    let configurations = match f.get(CONFIGURATIONS.name) {
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(ApiError::field(
                CONFIGURATIONS.name,
                format!("must be an array of objects, got {}", json_kind(other)),
            ))
        }
        None => {
            return Err(ApiError::field(
                CONFIGURATIONS.name,
                format!("is required: an array of 1 to {MAX_COMPARE_CONFIGURATIONS} objects"),
            ))
        }
    };
    if configurations.is_empty() || configurations.len() > MAX_COMPARE_CONFIGURATIONS {
        return Err(ApiError::field(
            CONFIGURATIONS.name,
            format!(
                "must hold 1 to {MAX_COMPARE_CONFIGURATIONS} configurations, got {}",
                configurations.len()
            ),
        ));
    }
    Ok(CompareRequest {
        calc,
        unit,
        configurations,
    })
}
