//! The `plan` Lambda function: the application's `plan` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::plan::handler).await
}
