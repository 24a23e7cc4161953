//! `GET /health`: liveness, service name and version.

use http_glue::routes::HEALTH;
use http_glue::{ok, respond, SERVICE_NAME, VERSION};
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&HEALTH, &event, |_| {
        Ok(ok(&json!({
            "status": "healthy",
            "service": SERVICE_NAME,
            "version": VERSION,
        })))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{event, status_and_json};

    #[tokio::test]
    async fn reports_healthy() {
        let (status, body) = status_and_json(&handler(event("health")).await.unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["service"], SERVICE_NAME);
        assert_eq!(body["version"], VERSION);
    }
}
