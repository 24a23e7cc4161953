//! The `config-options` Lambda function: the application's `config_options` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::config_options::handler).await
}
