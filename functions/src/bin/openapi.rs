//! The `openapi` Lambda function: the application's `openapi` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::openapi::handler).await
}
