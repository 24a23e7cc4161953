//! `GET /api/models/{model_name}`: one registry model, its config, the architecture the
//! calculator extracted, and its parameter counts.

use calculator::{resolve_name, CalcError};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use crate::http::{ok, path_model_name, respond, ApiError, Route};
use crate::request::hub::{self as hub_models, HubSource, Wanted};
use crate::request::hub_model;
use crate::response::{ArchitectureView, ParametersView, Warnings};

/// `GET /api/models/{model_name+}`.
/// The parameter is greedy (`{model_name+}`): a repository id's slash may come
/// unencoded (`/api/models/meta-llama/Llama-3.1-70B-Instruct`) or as `%2F`.
pub const ROUTE: Route = Route::new("GET", "/api/models/{model_name+}", "get-model");

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelAnswer {
    /// The registry name.
    pub model_name: String,
    hf_repo: String,
    config: Value,
    extracted_params: ArchitectureView,
    parameters: ParametersView,
    published_params: Value,
    model_card_params: Option<String>,
    notes: Option<String>,
    sources: Vec<String>,
    /// The Hub repository, for a model read from the Hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubSource>,
    #[serde(flatten)]
    warnings: Warnings,
}

/// The model a name resolves to; an unknown name is a 404 with suggestions.
pub fn get_model(name: &str) -> Result<ModelAnswer, ApiError> {
    get_model_at(name, hub::DEFAULT_REVISION)
}

/// The model a name resolves to, a Hub repository at `revision`.
pub fn get_model_at(name: &str, revision: &str) -> Result<ModelAnswer, ApiError> {
    let r = match resolve_name(name) {
        Ok(r) => r,
        Err(miss) if hub::is_repo_id(name) => return from_hub(name, revision, miss),
        Err(CalcError::UnknownModel { name, suggestions }) => {
            return Err(ApiError::model_not_found(&name, &suggestions))
        }
        Err(other) => return Err(ApiError::from_calc(other, "", "model_name")),
    };
    if revision != hub::DEFAULT_REVISION {
        return Err(hub_models::registry_revision(
            "revision",
            &r.entry.name,
            revision,
        ));
    }
    let (entry, model) = (r.entry, r.model.as_ref());
    Ok(ModelAnswer {
        model_name: entry.name.clone(),
        hf_repo: entry.hf_repo.clone(),
        config: entry.config.clone(),
        extracted_params: ArchitectureView::from(model),
        parameters: ParametersView::from(&model.params),
        published_params: entry.published_params.clone(),
        model_card_params: entry.model_card_params.clone(),
        notes: entry.notes.clone(),
        sources: entry.sources.clone(),
        hub: None,
        warnings: Warnings::of(r.note.iter().chain(&model.warnings)),
    })
}

/// A Hub repository's model: its config.json, the architecture read from it, and what
/// its safetensors headers hold.
fn from_hub(name: &str, revision: &str, miss: CalcError) -> Result<ModelAnswer, ApiError> {
    let read = hub_model("model_name", "revision", name, revision, miss)?;
    let at = read
        .repo
        .commit
        .clone()
        .unwrap_or_else(|| hub::revision_segment(revision));
    let endpoint = hub::global()
        .map(|h| h.endpoint().display())
        .unwrap_or_default();
    Ok(ModelAnswer {
        model_name: read.repo.id.clone(),
        hf_repo: read.repo.id.clone(),
        config: read.config.clone(),
        extracted_params: ArchitectureView::from(&read.model),
        parameters: ParametersView::from(&read.model.params),
        published_params: Value::Null,
        model_card_params: None,
        notes: None,
        sources: read
            .repo
            .files
            .iter()
            .map(|f| format!("{endpoint}/{}/resolve/{at}/{f}", read.repo.id))
            .collect(),
        hub: Some(read.source),
        warnings: Warnings::of(read.warnings.iter().chain(&read.model.warnings)),
    })
}

/// The revision a `GET` asks for (`?revision=`), `main` when absent.
fn query_revision(request: &Request) -> String {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first("revision").map(str::to_owned))
        .unwrap_or_else(|| hub::DEFAULT_REVISION.to_owned())
}

/// The Lambda handler: a repository id the registry does not hold is read from the
/// Hub first.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    let name = path_model_name(&event);
    let revision = query_revision(&event);
    let wanted = if hub_models::needs_hub(&name) && hub::is_revision(&revision) {
        vec![Wanted {
            repo: name,
            revision,
        }]
    } else {
        Vec::new()
    };
    let prefetched = hub_models::prefetch(wanted).await;
    Ok(hub_models::during(prefetched, || {
        respond(&ROUTE, &event, |request| {
            Ok(ok(&get_model_at(
                &path_model_name(request),
                &query_revision(request),
            )?))
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calculator::{Choice, WarningCode};
    use testkit::fixtures::{check_response, event, expected_for, raw_event, status_and_json};

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
            let mut raw = raw_event("get-model-hf-repo");
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
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
        let (_, body) = status_and_json(&handler(event("get-model-unknown")).await.unwrap());
        let suggestions = body["suggestions"].as_array().unwrap();
        assert!(!suggestions.is_empty() && suggestions.len() <= 3);
    }

    #[test]
    fn variants_say_which_entry_they_use() {
        let answer = get_model("meta-llama/Llama-3.1-8B-Instruct").unwrap();
        assert_eq!(answer.model_name, "Llama-3.1-8B");
        assert_eq!(
            answer.warnings.warning_codes,
            [WarningCode::NameReadAsVariant.name()]
        );
        assert!(answer.warnings.warnings[0]
            .contains("'meta-llama/Llama-3.1-8B-Instruct' is read as registry model Llama-3.1-8B"));
    }
}
