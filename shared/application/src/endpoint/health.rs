//! `GET /health`: liveness, service name and version.

use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

use crate::http::{ok, respond, Route};
use crate::{SERVICE_NAME, VERSION};

/// `GET /health`.
pub const ROUTE: Route = Route::new("GET", "/health", "health");

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    /// Always `healthy`: the function answered.
    pub status: &'static str,
    /// [`SERVICE_NAME`].
    pub service: &'static str,
    /// [`VERSION`].
    pub version: &'static str,
}

/// The answer.
pub fn health() -> Health {
    Health {
        status: "healthy",
        service: SERVICE_NAME,
        version: VERSION,
    }
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| Ok(ok(&health()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{event, status_and_json};

    #[tokio::test]
    async fn reports_healthy() {
        let (status, body) = status_and_json(&handler(event("health")).await.unwrap());
        assert_eq!(status, 200);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["service"], SERVICE_NAME);
        assert_eq!(body["version"], VERSION);
    }
}
