//! The `list-gpus` Lambda function: the application's `list_gpus` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::list_gpus::handler).await
}
