//! A traffic: mean prompt and output lengths, and a concurrency or an arrival rate
//! (`/api/performance`, and an inference plan that sizes for it).

use planner::performance::Demand;

use super::fields::{CONCURRENCY, INPUT_TOKENS, OUTPUT_TOKENS, REQUESTS_PER_SECOND};
use super::reader::Fields;
use crate::http::ApiError;

/// The traffic fields of a request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrafficFields {
    /// Mean prompt tokens.
    pub input_tokens: u64,
    /// Mean output tokens.
    pub output_tokens: u64,
    /// The demand, when given.
    pub demand: Option<Demand>,
}

/// The traffic of `f`, or `None` when it names none of its fields. Lengths come
/// together; a demand is a concurrency or a rate, not both.
pub(crate) fn read(f: &Fields) -> Result<Option<TrafficFields>, ApiError> {
    let input = f.uint(&INPUT_TOKENS)?;
    let output = f.uint(&OUTPUT_TOKENS)?;
    let concurrency = f.uint(&CONCURRENCY)?;
    let rate = f.fraction(&REQUESTS_PER_SECOND)?;
    if input.is_none() && output.is_none() && concurrency.is_none() && rate.is_none() {
        return Ok(None);
    }
    let refuse = |field: &str, what: &str| ApiError::field(&f.path(field), what);
    let input = input.ok_or_else(|| {
        refuse(
            INPUT_TOKENS.name,
            "is required with a traffic: the mean prompt tokens of a request",
        )
    })?;
    let output = output.ok_or_else(|| {
        refuse(
            OUTPUT_TOKENS.name,
            "is required with a traffic: the mean output tokens of a request",
        )
    })?;
    let demand = match (concurrency, rate) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                REQUESTS_PER_SECOND.name,
                "give concurrency or requests_per_second, not both",
            ))
        }
        (Some(c), None) => Some(Demand::Concurrency(c)),
        (None, Some(r)) => Some(Demand::RequestsPerSecond(r)),
        (None, None) => None,
    };
    Ok(Some(TrafficFields {
        input_tokens: input,
        output_tokens: output,
        demand,
    }))
}
