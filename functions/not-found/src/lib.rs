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
    use http_glue::testing::{check_response, event, expected_for};

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(NOT_FOUND.function) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
        let response = handler(event("not-found-method")).await.unwrap();
        assert_eq!(response.headers()["allow"], "GET");
    }
}
