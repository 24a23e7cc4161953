//! The `memory-training` Lambda function: the application's `memory_training` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::memory_training::handler).await
}
