//! The `memory-inference` Lambda function: the application's `memory_inference` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::memory_inference::handler).await
}
