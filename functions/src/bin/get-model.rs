//! The `get-model` Lambda function: the application's `get_model` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::get_model::handler).await
}
