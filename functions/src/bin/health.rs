//! The `health` Lambda function: the application's `health` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::health::handler).await
}
