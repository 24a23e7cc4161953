//! The `$default` route: 404 for unknown paths, 405 (with `Allow`) for a known path
//! asked with another method.

use http_glue::routes::{allowed_methods, NOT_FOUND};
use http_glue::{respond, ApiError};
use lambda_http::{Body, Error, Request, RequestExt, Response};

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&NOT_FOUND, &event, |request| {
        let allowed = allowed_methods(request.raw_http_path());
        Err(if allowed.is_empty() {
            ApiError::endpoint_not_found()
        } else {
            ApiError::method_not_allowed(&allowed)
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_glue::testing::{event, status_and_json};

    #[tokio::test]
    async fn unknown_path_is_404() {
        let (status, body) = status_and_json(&handler(event("not-found")).await.unwrap());
        assert_eq!(status, 404);
        assert_eq!(body["error"], "Endpoint not found");
    }

    #[tokio::test]
    async fn wrong_method_is_405_with_allow() {
        let response = handler(event("not-found-method")).await.unwrap();
        assert_eq!(response.headers()["allow"], "GET");
        let (status, body) = status_and_json(&response);
        assert_eq!(status, 405);
        assert_eq!(body["error"], "Method not allowed");
    }
}
