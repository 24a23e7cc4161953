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

/// Time to read the secret: one call to a regional endpoint.
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

/// The token the secret holds: its `SecretString`, trimmed.
async fn read(secret: String) -> Result<String, String> {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let call = client.get_secret_value().secret_id(&secret).send();
    let answer = tokio::time::timeout(READ_TIMEOUT, call)
        .await
        .map_err(|_| {
            format!(
                "reading the secret {secret} took over {} s",
                READ_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| {
            format!(
                "the secret {secret} could not be read: {}",
                DisplayErrorContext(e)
            )
        })?;
    answer
        .secret_string()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("the secret {secret} holds no text token"))
}
