//! `POST /api/plan`: which GPU instances hold a workload, how it is split over their
//! GPUs, how much traffic it holds, and what it costs.

use lambda_http::{Body, Error, Request, Response};
use planner::Catalog;
use serde_json::{Map, Value};

use crate::http::{json_object, ok, respond, ApiError, Route};
use crate::request::hub::answer_with_hub;
use crate::request::read_plan;
use crate::response::PlanAnswer;

/// `POST /api/plan`.
pub const ROUTE: Route = Route::new("POST", "/api/plan", "plan");

/// Plans one plan request object with `catalog`'s prices; `prefix` places field names
/// in errors (`workloads[2].` for the scheduled report).
pub fn plan(
    map: &Map<String, Value>,
    prefix: &str,
    catalog: &Catalog,
) -> Result<PlanAnswer, ApiError> {
    let input = read_plan(map, prefix, catalog)?;
    let plan = planner::plan(&input.resolved.model, &input.request, &input.catalog)
        .map_err(|e| ApiError::from_calc(e, prefix, input.resolved.field()))?;
    Ok(PlanAnswer::new(&input, &plan))
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(answer_with_hub(&event, || {
        respond(&ROUTE, &event, |request| {
            let fields = json_object(request)?;
            Ok(ok(&plan(&fields, "", Catalog::embedded())?))
        })
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{check_response, event, expected_for, status_and_json};

    async fn call(name: &str) -> Value {
        let (status, body) = status_and_json(&handler(event(name)).await.unwrap());
        assert_eq!(status, 200, "{body}");
        body
    }

    fn row<'a>(body: &'a Value, instance: &str) -> &'a Value {
        body["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["instance"] == instance)
            .unwrap_or_else(|| panic!("no {instance}"))
    }

    #[tokio::test]
    async fn fitting_candidates_first_cheapest_first_with_dated_prices() {
        let body = call("plan").await;
        let catalog = Catalog::embedded();
        assert_eq!(body["prices"]["as_of"], catalog.prices_as_of.as_str());
        assert_eq!(body["prices"]["region"], catalog.region.as_str());
        assert_eq!(body["parameters"]["engine"], "vllm");
        let rows = body["candidates"].as_array().unwrap();
        let fitting: Vec<&Value> = rows.iter().take_while(|c| c["fits"] == true).collect();
        assert!(!fitting.is_empty() && rows[fitting.len()..].iter().all(|c| c["fits"] == false));
        let prices: Vec<f64> = fitting
            .iter()
            .map(|c| c["usd_per_hour"].as_f64().unwrap())
            .collect();
        assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
        assert_eq!(body["cheapest"], rows[0]);
        let first = &rows[0];
        let month = first["usd_per_hour"].as_f64().unwrap() * planner::HOURS_PER_MONTH;
        assert!((first["usd_per_month"].as_f64().unwrap() - month).abs() < 0.01);
        // Llama-3.1-70B in bf16 needs about 141 GB of weights: one 80 GB GPU cannot.
        let one = row(&body, "p5.4xlarge");
        assert_eq!(one["fits"], false);
        assert!(one["missing"].as_str().unwrap().starts_with("needs "));
        let p5 = row(&body, "p5.48xlarge");
        assert_eq!(p5["fits"], true);
        let tp = p5["tensor_parallel"].as_u64().unwrap();
        assert_eq!(tp * p5["replicas"].as_u64().unwrap(), 8);
        assert_eq!(p5["vllm"]["max_model_len"], 8192);
        assert!(p5["kv_cache_tokens"].as_u64().unwrap() >= 8192);
    }

    #[tokio::test]
    async fn training_plans_data_parallel_rows() {
        let body = call("plan-training").await;
        let rows = body["candidates"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        let a100 = row(&body, "p4de.24xlarge");
        assert_eq!(
            (a100["data_parallel"].as_u64(), a100["fits"].as_bool()),
            (Some(8), Some(true))
        );
        assert!(a100["max_batch_size"].as_u64().unwrap() >= 4);
        assert!(a100["memory_bytes"]["optimizer_memory"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn custom_gpus_and_request_prices() {
        let body = call("plan-custom-gpu").await;
        let rows = body["candidates"].as_array().unwrap();
        let custom = rows
            .iter()
            .find(|c| c["gpu"] == "lab-rtx-6000-pro")
            .unwrap();
        assert_eq!(custom["instance"], Value::Null);
        let count = custom["gpu_count"].as_f64().unwrap();
        assert_eq!(custom["usd_per_hour"].as_f64(), Some(1.9 * count));
        assert_eq!(row(&body, "g6.xlarge")["usd_per_hour"], 0.7);
        assert!(body["prices"]["source"]
            .as_str()
            .unwrap()
            .contains("g6.xlarge"));
        assert!(rows
            .iter()
            .all(|c| c["gpu"] == "lab-rtx-6000-pro" || c["gpu"] == "NVIDIA L4 24GB"));
    }

    #[tokio::test]
    async fn request_prices_say_their_source_and_refuse_a_type_named_twice() {
        let body = call("plan-custom-gpu").await;
        let sources = body["prices"]["sources"].as_array().unwrap();
        assert!(sources[0]["source"].as_str().unwrap().contains("request"));
        assert_eq!(sources[0]["instances"], serde_json::json!(["g6.xlarge"]));
        assert_eq!(sources[1]["source"], "embedded catalog");
        let (status, e) = status_and_json(&handler(event("plan-price-twice")).await.unwrap());
        assert_eq!(status, 400, "{e}");
        // One of the two spellings (the object's keys are read in sorted order).
        assert!(
            e["field"]
                .as_str()
                .is_some_and(|f| f.eq_ignore_ascii_case("prices.p5.48xlarge")),
            "{e}"
        );
        assert!(
            e["error"].as_str().unwrap().contains("p5.48xlarge again"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_negative_zero_price_is_a_zero() {
        let request = testkit::fixtures::event_with("plan-small-model", |b| {
            // Written as the text -0.0 (serde_json's Value would print it back so).
            b["prices"] = serde_json::json!({"g4dn.xlarge": 0.0});
            b["instance_types"] = serde_json::json!(["g4dn.xlarge"]);
        });
        let raw = match request.body() {
            Body::Text(t) => t.replace("\"g4dn.xlarge\":0.0", "\"g4dn.xlarge\":-0.0"),
            _ => unreachable!(),
        };
        assert!(raw.contains("-0.0"));
        let mut request = request;
        *request.body_mut() = Body::Text(raw);
        let (status, body) = status_and_json(&handler(request).await.unwrap());
        assert_eq!(status, 200, "{body}");
        let row = row(&body, "g4dn.xlarge");
        let text = serde_json::to_string(row).unwrap();
        assert!(!text.contains("-0"), "{text}");
        assert_eq!(
            row["usd_per_hour"].as_f64().map(f64::is_sign_positive),
            Some(true)
        );
    }

    #[tokio::test]
    async fn a_row_that_does_not_fit_serves_no_sequences() {
        let request = testkit::fixtures::event_with("plan-small-model", |b| {
            b["concurrent_sequences"] = serde_json::json!(200);
            b["instance_types"] = serde_json::json!(["g4dn.xlarge"]);
        });
        let (status, body) = status_and_json(&handler(request).await.unwrap());
        assert_eq!(status, 200, "{body}");
        let r = row(&body, "g4dn.xlarge");
        assert_eq!(r["fits"], false);
        assert_eq!(r["concurrent_sequences"], Value::Null);
        // The capacity at the limit, named as a maximum, stays.
        assert!(r["max_batch_size"].as_u64().unwrap() < 200);
        // concurrent_sequences is refused under its own name and range.
        let request = testkit::fixtures::event_with("plan-small-model", |b| {
            b["concurrent_sequences"] = serde_json::json!(2_000_000);
        });
        let (status, e) = status_and_json(&handler(request).await.unwrap());
        assert_eq!(status, 400);
        assert_eq!(e["field"], "concurrent_sequences", "{e}");
    }

    /// The `plan-training` fixture with `edit` applied to its body.
    async fn training_with(edit: impl FnOnce(&mut Value)) -> (u16, Value) {
        let request = testkit::fixtures::event_with("plan-training", edit);
        status_and_json(&handler(request).await.unwrap())
    }

    #[tokio::test]
    async fn a_searched_training_plan_says_its_setting() {
        let (status, body) = training_with(|b| b["search"] = true.into()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["parameters"]["search"], true);
        let a100 = row(&body, "p4de.24xlarge");
        assert!(a100["note_codes"]
            .as_array()
            .unwrap()
            .contains(&"training_setting_searched".into()));
        // Only for training, and only with DeepSpeed.
        let (status, body) = training_with(|b| {
            b["search"] = true.into();
            b["framework"] = "fsdp".into();
        })
        .await;
        assert_eq!((status, &body["field"]), (400, &Value::from("search")));
        let (status, body) = training_with(|b| {
            b["search"] = true.into();
            b["mode"] = "inference".into();
        })
        .await;
        assert_eq!(status, 400, "{body}");
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
