//! `POST /api/memory/compare`: several inference or training configurations side by
//! side, with the lowest and highest.

use calculator::{Bytes, Choice};
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::memory_inference::evaluate;
use crate::http::{json_object, ok, respond, ApiError, Route};
use crate::request::hub::answer_with_hub;
use crate::request::read_compare;
use crate::response::MemoryAnswer;

/// `POST /api/memory/compare`.
pub const ROUTE: Route = Route::new("POST", "/api/memory/compare", "memory-compare");

/// One configuration's answer, with its place in the request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareResult {
    #[serde(flatten)]
    answer: MemoryAnswer,
    /// Its index in `configurations`.
    pub index: usize,
}

/// The lowest and highest totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareSummary {
    /// Index of the lowest total (the first on a tie).
    pub lowest: usize,
    /// Index of the highest total (the first on a tie).
    pub highest: usize,
    lowest_memory: String,
    highest_memory: String,
    difference: String,
    difference_bytes: u64,
    highest_to_lowest_ratio: Option<f64>,
    unit: &'static str,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompareAnswer {
    calculation_type: &'static str,
    /// Every configuration's answer, in request order.
    pub results: Vec<CompareResult>,
    /// The lowest and highest.
    pub summary: CompareSummary,
}

/// Evaluates every configuration of a compare request body.
pub fn compare(body: &Map<String, Value>) -> Result<CompareAnswer, ApiError> {
    let request = read_compare(body)?;
    let mut results = Vec::with_capacity(request.configurations.len());
    for index in 0..request.configurations.len() {
        let map = request.configuration(index)?;
        let prefix = format!("configurations[{index}].");
        let answer = evaluate(request.calc, map, &prefix, request.unit)?;
        results.push(CompareResult { answer, index });
    }
    let totals: Vec<u64> = results.iter().map(|r| r.answer.total().0).collect();
    // `results` is non-empty, so both exist; ties go to the first configuration.
    let lowest = (0..totals.len()).min_by_key(|&i| totals[i]).unwrap_or(0);
    let highest = (0..totals.len())
        .rev()
        .max_by_key(|&i| totals[i])
        .unwrap_or(0);
    let (lo, hi) = (totals[lowest], totals[highest]);
    let unit = request.unit;
    Ok(CompareAnswer {
        calculation_type: request.calc.name(),
        results,
        summary: CompareSummary {
            lowest,
            highest,
            lowest_memory: Bytes(lo).format(unit),
            highest_memory: Bytes(hi).format(unit),
            difference: Bytes(hi - lo).format(unit),
            difference_bytes: hi - lo,
            highest_to_lowest_ratio: (lo != 0)
                .then(|| (hi as f64 / lo as f64 * 1000.0).round() / 1000.0),
            unit: unit.name(),
        },
    })
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(answer_with_hub(&event, || {
        respond(&ROUTE, &event, |request| {
            Ok(ok(&compare(&json_object(request)?)?))
        })
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calculator::limits::MAX_COMPARE_CONFIGURATIONS;
    use serde_json::json;
    use testkit::fixtures::{check_response, event, expected_for, status_and_json};

    async fn call(name: &str) -> (u16, Value) {
        status_and_json(&handler(event(name)).await.unwrap())
    }

    #[tokio::test]
    async fn compares_in_order_with_summary() {
        let (status, body) = call("memory-compare").await;
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r["index"], i);
        }
        // bfloat16 > fp8 > awq int4.
        assert_eq!(body["summary"]["highest"], 0);
        assert_eq!(body["summary"]["lowest"], 2);
        assert_eq!(results[1]["parameters"]["precision"], "float8");
    }

    #[tokio::test]
    async fn training_compare_uses_top_level_unit() {
        let (status, body) = call("memory-compare-training").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["summary"]["lowest"], 2);
        assert_eq!(body["summary"]["highest"], 0);
        assert!(body["results"][0]["memory_requirements"]["training_memory"]
            .as_str()
            .unwrap()
            .ends_with("GiB"));
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }

    #[test]
    fn accepts_up_to_the_limit_and_no_more() {
        let one = json!({"model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 16});
        let body =
            |n| json!({"calculation_type": "inference", "configurations": vec![one.clone(); n]});
        let full = compare(body(MAX_COMPARE_CONFIGURATIONS).as_object().unwrap()).unwrap();
        assert_eq!(full.results.len(), MAX_COMPARE_CONFIGURATIONS);
        let err = compare(body(MAX_COMPARE_CONFIGURATIONS + 1).as_object().unwrap()).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.body.field.as_deref(), Some("configurations"));
    }
}
