//! What can go wrong reading a repository from the Hub, each with the facts an API
//! error names.

use std::fmt;

/// A failed Hub read.
#[derive(Clone, Debug, PartialEq)]
pub enum HubError {
    /// The Hub has no repository of this id (private ones look the same without a
    /// token).
    RepoNotFound {
        /// The repository id.
        repo: String,
    },
    /// The repository has no such branch, tag or commit.
    RevisionNotFound {
        /// The repository id.
        repo: String,
        /// The revision asked for.
        revision: String,
    },
    /// The repository is gated or private, and the service's token (if any) does not
    /// open it.
    Denied {
        /// The repository id.
        repo: String,
        /// Whether the read carried the service's token.
        with_token: bool,
    },
    /// The Hub rejected the service's token itself (401 with
    /// [`crate::BAD_TOKEN_MESSAGE`] or without an error code, on a request that
    /// carried it); the read is tried again without it.
    TokenRejected {
        /// The repository id.
        repo: String,
    },
    /// The Hub has disabled the repository (403 with [`crate::DISABLED_MESSAGE`]).
    Disabled {
        /// The repository id.
        repo: String,
    },
    /// The service's Hub token could not be read from where the deployment keeps it.
    Token {
        /// Why (never the token).
        cause: String,
    },
    /// The repository has no `config.json` at that revision.
    NoConfig {
        /// The repository id.
        repo: String,
    },
    /// A file above its size limit.
    TooLarge {
        /// The file.
        file: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A file that is not what its name says (bad JSON, a bad safetensors header).
    Malformed {
        /// The file.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// A redirect that leaves the configured endpoint.
    OffHost {
        /// The file.
        file: String,
        /// The host the redirect names.
        host: String,
    },
    /// The Hub answered with an error status this client does not read further.
    Upstream {
        /// The file.
        file: String,
        /// The HTTP status.
        status: u16,
    },
    /// No connection to the endpoint.
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// Why (the connector's error).
        cause: String,
    },
    /// The whole read took longer than its limit.
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The limit, in seconds.
        seconds: f64,
    },
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::RepoNotFound { repo } => write!(
                f,
                "the Hub has no model repository {repo} (or it is private, which the Hub answers the same way)"
            ),
            HubError::Disabled { repo } => write!(
                f,
                "the Hub has disabled {repo}, so its files cannot be read; post its config.json as config"
            ),
            HubError::RevisionNotFound { repo, revision } => {
                write!(f, "{repo} has no revision {revision}")
            }
            HubError::Denied { repo, with_token: false } => write!(
                f,
                "{repo} is gated or private, and this service holds no Hub token (a deployment gives it one with the template's HubTokenSecret); post the repository's config.json as config"
            ),
            HubError::Denied { repo, with_token: true } => write!(
                f,
                "{repo} is gated or private, and the Hub token this service holds does not open it (accept the repository's conditions with the token's account, or post its config.json as config)"
            ),
            HubError::Token { cause } => write!(
                f,
                "the repository is gated, private or missing, and the service's Hub token, which would open a gated or private one, could not be read: {cause}"
            ),
            HubError::TokenRejected { repo } => {
                write!(f, "the Hub rejected the service's token reading {repo}")
            }
            HubError::NoConfig { repo } => write!(
                f,
                "{repo} has no config.json, so its architecture is unknown; post the architecture as config or explicit fields"
            ),
            HubError::TooLarge { file, limit } if *limit < 1024 => {
                write!(f, "{file} is larger than the {limit} bytes this service reads")
            }
            HubError::TooLarge { file, limit } => write!(
                f,
                "{file} is larger than the {} KiB this service reads",
                limit / 1024
            ),
            HubError::Malformed { file, why } => write!(f, "{file} could not be read: {why}"),
            HubError::OffHost { file, host } => write!(
                f,
                "the Hub redirected {file} to {host}, another host, which this service does not follow"
            ),
            HubError::Upstream { file, status } => {
                write!(f, "the Hub answered {status} for {file}")
            }
            HubError::Unreachable { endpoint, cause } => {
                write!(f, "the Hub at {endpoint} could not be reached: {cause}")
            }
            HubError::Timeout { endpoint, seconds } => write!(
                f,
                "the Hub at {endpoint} did not answer within {seconds} s"
            ),
        }
    }
}

impl std::error::Error for HubError {}
