//! The Hugging Face token for gated and private repositories: read once, on the first
//! Hub read of a container, from the AWS Secrets Manager secret the template's
//! `HubTokenSecret` parameter names (`HUB_TOKEN_SECRET`). Without a secret the Hub is
//! read without a token. The token is never logged or echoed: errors say which secret
//! and why, not what it holds.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// The environment variable naming the secret (`template.yaml` sets it).
pub const SECRET_VARIABLE: &str = "HUB_TOKEN_SECRET";

/// Time to read the secret, the SDK's set-up included: one call to a regional endpoint.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// The secret `HUB_TOKEN_SECRET` names, if any.
fn secret_name() -> Option<String> {
    std::env::var(SECRET_VARIABLE)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Installs the token source when the deployment names a secret; reads nothing yet.
pub fn install() {
    if let Some(secret) = secret_name() {
        hub::set_token_source(Box::new(move || Box::pin(read(secret.clone()))));
    }
}

/// The token the secret holds: its `SecretString`, trimmed. Why a read failed goes to
/// the function's log (the SDK's message names the account and role); the caller gets
/// a message that names only the secret.
async fn read(secret: String) -> Result<String, String> {
    let public = |why: &str| format!("the secret {secret} {why} (the function's log says more)");
    let call = async {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        client.get_secret_value().secret_id(&secret).send().await
    };
    let answer = match tokio::time::timeout(READ_TIMEOUT, call).await {
        Err(_) => return Err(public("did not answer within 3 s")),
        Ok(Err(e)) => {
            lambda_runtime::tracing::error!(
                secret = %secret,
                error = %DisplayErrorContext(&e),
                "the Hub token secret could not be read"
            );
            return Err(public("could not be read"));
        }
        Ok(Ok(answer)) => answer,
    };
    answer
        .secret_string()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| public("holds no text token"))
}
