//! `GET /api/models/{model_name}`: one registry model, its config, the architecture the
//! calculator extracted, and its parameter counts.

use calculator::{names, CalcError};
use http_glue::models::{architecture_json, parameters_json, path_model_name};
use http_glue::routes::GET_MODEL;
use http_glue::{ok, respond, ApiError};
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&GET_MODEL, &event, |request| {
        let name = path_model_name(request);
        let r = names::resolve(&name).map_err(|e| match e {
            CalcError::UnknownModel { name, suggestions } => {
                ApiError::model_not_found(&name, &suggestions)
            }
            other => ApiError::from_calc(other, "", "model_name"),
        })?;
        let (entry, model) = (r.entry, &r.model);
        let warnings: Vec<&String> = r.note.iter().chain(&model.warnings).collect();
        Ok(ok(&json!({
            "model_name": entry.name,
            "hf_repo": entry.hf_repo,
            "config": entry.config,
            "extracted_params": architecture_json(model),
            "parameters": parameters_json(&model.params),
            "published_params": entry.published_params,
            "model_card_params": entry.model_card_params,
            "notes": entry.notes,
            "sources": entry.sources,
            "warnings": warnings,
        })))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{check_response, event, expected_for, status_and_json};

    #[tokio::test]
    async fn returns_config_and_exact_parameters() {
        let (status, body) = status_and_json(&handler(event("get-model")).await.unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["model_name"], "Qwen3-8B");
        assert_eq!(body["parameters"]["total"], 8_190_735_360u64);
        assert_eq!(body["config"]["model_type"], "qwen3");
        assert_eq!(body["extracted_params"]["num_key_value_heads"], 8);
    }

    #[tokio::test]
    async fn accepts_encoded_hf_repo_ids() {
        let (status, body) = status_and_json(&handler(event("get-model-hf-repo")).await.unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["model_name"], "Qwen3-0.6B");
    }

    /// The fixture as API Gateway sends it (the parameter decoded) and as
    /// `cargo lambda watch` does (raw), once and twice encoded: one answer.
    #[tokio::test]
    async fn one_answer_however_often_the_path_was_decoded() {
        for param in [
            "Qwen/Qwen3-0.6B",
            "Qwen%2FQwen3-0.6B",
            "Qwen%252FQwen3-0.6B",
            "Qwen%25252FQwen3-0.6B",
        ] {
            let mut raw = http_glue::testing::raw_event("get-model-hf-repo");
            raw["pathParameters"]["model_name"] = param.into();
            let request = lambda_http::request::from_str(&raw.to_string()).unwrap();
            let (status, body) = status_and_json(&handler(request).await.unwrap());
            assert_eq!(
                (status, body["model_name"].as_str()),
                (200, Some("Qwen3-0.6B")),
                "{param}"
            );
        }
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(GET_MODEL.function) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
        let (_, body) = status_and_json(&handler(event("get-model-unknown")).await.unwrap());
        let suggestions = body["suggestions"].as_array().unwrap();
        assert!(!suggestions.is_empty() && suggestions.len() <= 3);
    }

    #[tokio::test]
    async fn variants_say_which_entry_they_use() {
        let (status, body) = status_and_json(&handler(event("get-model-variant")).await.unwrap());
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model_name"], "Llama-3.1-8B");
        assert!(body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("'meta-llama/Llama-3.1-8B-Instruct' is read as registry model Llama-3.1-8B"));
    }
}
