//! `GET /api/models`: the registry's model names, sorted.

use calculator::registry;
use http_glue::routes::LIST_MODELS;
use http_glue::{ok, respond};
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&LIST_MODELS, &event, |_| {
        let models: Vec<&str> = registry::all().iter().map(|e| e.name.as_str()).collect();
        Ok(ok(&json!({ "count": models.len(), "models": models })))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{event, status_and_json};

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
        let registry = calculator::registry::all().len();
        assert_eq!(body["count"], registry);
        assert_eq!(models.len(), registry);
        let mut sorted = models.clone();
        sorted.sort_by_key(|m| m.to_ascii_lowercase());
        assert_eq!(models, sorted);
        assert!(models.contains(&"Qwen3-0.6B".to_owned()));
    }
}
