//! The `not-found` Lambda function: the application's `not_found` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::not_found::handler).await
}
