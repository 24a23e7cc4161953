//! The `list-models` Lambda function: the application's `list_models` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::list_models::handler).await
}
