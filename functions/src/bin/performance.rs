//! The `performance` Lambda function: the application's `performance` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::performance::handler).await
}
