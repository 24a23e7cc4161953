//! The `performance` Lambda function: the application's `performance` endpoint.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    // A model_name the registry does not hold is read from the Hub, with the
    // deployment's token when it gives one.
    functions::hub_token::install();
    application::serve(application::endpoint::performance::handler).await
}
