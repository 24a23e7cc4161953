//! The `web` Lambda function: the application's web page (`GET /`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    application::serve(application::endpoint::web::handler).await
}
