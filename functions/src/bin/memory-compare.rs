//! The `memory-compare` Lambda function: the application's `memory_compare` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::memory_compare::handler).await
}
