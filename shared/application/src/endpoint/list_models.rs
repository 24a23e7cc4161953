//! `GET /api/models`: the registry's model names, sorted.

use calculator::RegistryEntry;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

use crate::http::{ok, respond, Route};

/// `GET /api/models`.
pub const ROUTE: Route = Route::new("GET", "/api/models", "list-models");

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelList {
    /// How many.
    pub count: usize,
    /// The names, sorted case-insensitively.
    pub models: Vec<&'static str>,
    /// The same models with their Hugging Face repository ids, in the same order (a
    /// name or an id is accepted wherever a model is named).
    pub entries: Vec<ModelEntry>,
}

/// One registry model's names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelEntry {
    /// Its registry name (`Qwen3-8B`).
    pub name: &'static str,
    /// Its Hugging Face repository id (`Qwen/Qwen3-8B`).
    pub hf_repo: &'static str,
}

/// Every registry name.
pub fn list_models() -> ModelList {
    let all = RegistryEntry::all();
    ModelList {
        count: all.len(),
        models: all.iter().map(|e| e.name.as_str()).collect(),
        entries: all
            .iter()
            .map(|e| ModelEntry {
                name: e.name.as_str(),
                hf_repo: e.hf_repo.as_str(),
            })
            .collect(),
    }
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| Ok(ok(&list_models()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{event, status_and_json};

    #[tokio::test]
    async fn lists_every_model_sorted() {
        let (status, body) = status_and_json(&handler(event("list-models")).await.unwrap());
        assert_eq!(status, 200);
        let models: Vec<String> = body["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        let registry = RegistryEntry::all().len();
        assert_eq!(body["count"], registry);
        assert_eq!(models.len(), registry);
        let mut sorted = models.clone();
        sorted.sort_by_key(|m| m.to_ascii_lowercase());
        assert_eq!(models, sorted);
        assert!(models.contains(&"Qwen3-0.6B".to_owned()));
        let entries = body["entries"].as_array().unwrap();
        assert_eq!(entries.len(), registry);
        let qwen = entries.iter().find(|e| e["name"] == "Qwen3-8B").unwrap();
        assert_eq!(qwen["hf_repo"], "Qwen/Qwen3-8B");
    }
}
