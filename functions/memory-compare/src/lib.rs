//! `POST /api/memory/compare`: several inference or training configurations side by
//! side, with the lowest and highest.

use calculator::{Bytes, Unit};
use http_glue::body::{json_kind, json_object};
use http_glue::fields::Fields;
use http_glue::memory::{evaluate, parse_unit, Calculation, MAX_COMPARE_CONFIGURATIONS};
use http_glue::routes::MEMORY_COMPARE;
use http_glue::{ok, respond, ApiError};
use lambda_http::{Body, Error, Request, Response};
use serde_json::{json, Map, Value};

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&MEMORY_COMPARE, &event, |request| {
        Ok(ok(&compare(&json_object(request)?)?))
    }))
}

fn compare(body: &Map<String, Value>) -> Result<Value, ApiError> {
    let f = Fields::new(body, "");
    f.reject_unknown(&["calculation_type", "configurations", "unit"], &[])?;
    let kinds: Vec<&str> = Calculation::ALL.iter().map(|c| c.name()).collect();
    let calc = f
        .choice("calculation_type", Calculation::parse, &kinds)?
        .ok_or_else(|| {
            ApiError::field("calculation_type", "is required: inference or training")
                .with("allowed", json!(kinds))
        })?;
    let unit = parse_unit(&f, Unit::default())?;
    let configurations = match f.get("configurations") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(ApiError::field(
                "configurations",
                format!("must be an array of objects, got {}", json_kind(other)),
            ))
        }
        None => {
            return Err(ApiError::field(
                "configurations",
                format!("is required: an array of 1 to {MAX_COMPARE_CONFIGURATIONS} objects"),
            ))
        }
    };
    if configurations.is_empty() || configurations.len() > MAX_COMPARE_CONFIGURATIONS {
        return Err(ApiError::field(
            "configurations",
            format!(
                "must hold 1 to {MAX_COMPARE_CONFIGURATIONS} configurations, got {}",
                configurations.len()
            ),
        ));
    }
    let mut results = Vec::with_capacity(configurations.len());
    let mut totals = Vec::with_capacity(configurations.len());
    for (i, item) in configurations.iter().enumerate() {
        let prefix = format!("configurations[{i}].");
        let map = item.as_object().ok_or_else(|| {
            ApiError::field(
                &format!("configurations[{i}]"),
                format!("must be an object, got {}", json_kind(item)),
            )
        })?;
        let evaluated = evaluate(calc, map, &prefix, unit)?;
        let mut result = evaluated.body;
        result["index"] = json!(i);
        results.push(result);
        totals.push(evaluated.total.0);
    }
    // `results` is non-empty, so both exist; ties go to the first configuration.
    let lowest = (0..totals.len()).min_by_key(|&i| totals[i]).unwrap_or(0);
    let highest = (0..totals.len())
        .rev()
        .max_by_key(|&i| totals[i])
        .unwrap_or(0);
    let (lo, hi) = (totals[lowest], totals[highest]);
    Ok(json!({
        "calculation_type": calc.name(),
        "results": results,
        "summary": {
            "lowest": lowest,
            "highest": highest,
            "lowest_memory": Bytes(lo).format(unit),
            "highest_memory": Bytes(hi).format(unit),
            "difference": Bytes(hi - lo).format(unit),
            "difference_bytes": hi - lo,
            "highest_to_lowest_ratio": if lo == 0 { Value::Null } else { json!((hi as f64 / lo as f64 * 1000.0).round() / 1000.0) },
            "unit": unit.name(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{check_response, event, expected_for, status_and_json};

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
        for expected in expected_for(MEMORY_COMPARE.function) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }

    #[test]
    fn accepts_up_to_the_limit_and_no_more() {
        let one = json!({"model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 16});
        let body =
            |n| json!({"calculation_type": "inference", "configurations": vec![one.clone(); n]});
        let full = compare(body(MAX_COMPARE_CONFIGURATIONS).as_object().unwrap()).unwrap();
        assert_eq!(
            full["results"].as_array().unwrap().len(),
            MAX_COMPARE_CONFIGURATIONS
        );
        let err = compare(body(MAX_COMPARE_CONFIGURATIONS + 1).as_object().unwrap()).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.body["field"], "configurations");
    }
}
