//! `GET /api/gpus`: the GPU and instance catalog, with prices and their date.

use lambda_http::{Body, Error, Request, Response};
use planner::Catalog;

use crate::http::{ok, respond, Route};
use crate::response::CatalogAnswer;

/// `GET /api/gpus`.
pub const ROUTE: Route = Route::new("GET", "/api/gpus", "list-gpus");

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| {
        Ok(ok(&CatalogAnswer::new(Catalog::embedded())))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{check_response, event, expected_for, status_and_json};

    #[tokio::test]
    async fn the_catalog_with_prices_and_their_date() {
        let (status, body) = status_and_json(&handler(event("list-gpus")).await.unwrap());
        assert_eq!(status, 200, "{body}");
        let catalog = Catalog::embedded();
        assert_eq!(body["count"], catalog.gpus.len());
        assert_eq!(body["prices_as_of"], catalog.prices_as_of.as_str());
        assert_eq!(body["region"], catalog.region.as_str());
        let gpus = body["gpus"].as_array().unwrap();
        let h100 = gpus
            .iter()
            .find(|g| g["name"] == "NVIDIA H100 SXM 80GB")
            .unwrap();
        assert_eq!(h100["usable_memory_bytes"], 81559u64 << 20);
        assert_eq!(h100["weight_formats"]["fp8"], "native");
        assert_eq!(h100["vllm_serve_defaults"]["max_num_batched_tokens"], 8192);
        let p5 = &h100["instances"].as_array().unwrap()[0];
        assert_eq!(
            (p5["instance"].as_str(), p5["gpu_count"].as_u64()),
            (Some("p5.48xlarge"), Some(8))
        );
        let t4 = gpus.iter().find(|g| g["name"] == "NVIDIA T4 16GB").unwrap();
        assert_eq!(t4["weight_formats"]["bfloat16"], "as float16");
        assert_eq!(t4["weight_formats"]["fp8"], "unsupported");
        let inf2 = gpus.iter().find(|g| g["platform"] == "neuron").unwrap();
        assert_eq!(inf2["planned_by_default"], false);
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
