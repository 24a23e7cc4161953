//! HTTP/1.1 GETs to the endpoint with the limits every read obeys: a connect timeout,
//! a size limit on each body, redirects followed only within the endpoint, and the
//! Hub's error codes read into [`HubError`].

use std::time::Duration;

use http::header::{CONTENT_LENGTH, LOCATION, RANGE};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::endpoint::Endpoint;
use crate::error::HubError;

/// Time to open a TCP connection: the endpoint is one well-connected host. Name
/// resolution and the TLS handshake are bounded by the read's own limit
/// ([`crate::READ_TIMEOUT`]).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an idle connection to the Hub is kept for the next read.
const POOL_IDLE: Duration = Duration::from_secs(20);

/// Redirects followed within the endpoint (the Hub redirects renamed repositories).
const MAX_REDIRECTS: usize = 3;

/// The Hub's headers naming why a request failed: a code, and a message. The codes and
/// the two messages below are the ones huggingface_hub's `hf_raise_for_status` reads
/// (huggingface/huggingface_hub@ee0a4510f4bc15e26cb722be2efc2bdb01383ca0
/// `src/huggingface_hub/utils/_http.py`, and its tests in `tests/test_utils_errors.py`).
const ERROR_CODE: &str = "x-error-code";
const ERROR_MESSAGE: &str = "x-error-message";

/// The message of a 401 whose token the Hub does not accept at all.
pub const BAD_TOKEN_MESSAGE: &str = "Invalid credentials in Authorization header";

/// The message of a 403 for a repository the Hub has disabled.
pub const DISABLED_MESSAGE: &str = "Access to this resource is disabled.";

/// The connection pool of one container.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A client over rustls with the system's root certificates, plain HTTP allowed only
/// because an `http://` endpoint (a local stand-in Hub) was configured.
pub fn http_client() -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("no root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    // Idle connections are dropped well before a frozen Lambda container is likely to
    // be thawed, so a stale one is rarely reused (hyper retries a request whose pooled
    // connection closed before it was sent).
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(https))
}

/// A body read in full.
pub struct Fetched {
    /// The final status (after same-host redirects).
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// What one GET asks for.
pub struct Get<'a> {
    /// The path on the endpoint, starting with `/`.
    pub path: String,
    /// The file's name in messages.
    pub file: &'a str,
    /// Largest body accepted, in bytes.
    pub limit: usize,
    /// A byte range `(first, last)`, inclusive.
    pub range: Option<(u64, u64)>,
}

/// GETs `get` from `endpoint`, following redirects within it. Statuses other than
/// 200 and 206 come back as they are, for the caller to read with [`refusal`].
pub async fn fetch(
    client: &HttpClient,
    endpoint: &Endpoint,
    token: Option<&str>,
    get: &Get<'_>,
) -> Result<Fetched, HubError> {
    let unreachable = |cause: String| HubError::Unreachable {
        endpoint: endpoint.display(),
        cause,
    };
    let mut uri = endpoint.url(&get.path).map_err(unreachable)?;
    for _ in 0..=MAX_REDIRECTS {
        let mut request = Request::get(uri.clone());
        if let Some((first, last)) = get.range {
            request = request.header(RANGE, format!("bytes={first}-{last}"));
        }
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| unreachable(connect_cause(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            uri = redirect(endpoint, &uri, response.headers(), get.file)?;
            continue;
        }
        if !status.is_success() {
            // A refusal is read from its status and headers; its body is not needed.
            return Ok(Fetched {
                status,
                headers: response.headers().clone(),
                body: Bytes::new(),
            });
        }
        let too_large = || HubError::TooLarge {
            file: get.file.to_owned(),
            limit: get.limit,
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > get.limit as u64) {
            return Err(too_large());
        }
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, get.limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    unreachable(e.to_string())
                }
            })?
            .to_bytes();
        return Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        });
    }
    Err(HubError::Upstream {
        file: get.file.to_owned(),
        status: StatusCode::LOOP_DETECTED.as_u16(),
    })
}

/// Where a redirect leads, when that is on the endpoint.
fn redirect(
    endpoint: &Endpoint,
    from: &Uri,
    headers: &HeaderMap,
    file: &str,
) -> Result<Uri, HubError> {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let target: Uri = if location.starts_with('/') && !location.starts_with("//") {
        let mut parts = from.clone().into_parts();
        parts.path_and_query = location.parse().ok();
        Uri::from_parts(parts).map_err(|_| off_host(file, location))?
    } else {
        location.parse().map_err(|_| off_host(file, location))?
    };
    if endpoint.same_origin(&target) {
        Ok(target)
    } else {
        Err(HubError::OffHost {
            file: file.to_owned(),
            host: target.host().map_or_else(|| clip(location), str::to_owned),
        })
    }
}

fn off_host(file: &str, location: &str) -> HubError {
    HubError::OffHost {
        file: file.to_owned(),
        host: clip(location),
    }
}

/// A location echoed in a message, cut to a readable length.
fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The connector's reason, without the request (no URL with a token in it).
fn connect_cause(e: &hyper_util::client::legacy::Error) -> String {
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}

/// The error a refused read means, from its status and the Hub's `X-Error-Code` and
/// `X-Error-Message`, read as huggingface_hub reads them: a 401 without a code is a
/// missing repository (its code's comment: the Hub answers so for private and gated
/// ones too, without a token), and one whose message says the token was refused is
/// that.
/// `repo` and `revision` name the repository; `file` the file asked for; `with_token`
/// says whether the request carried the service's token.
pub fn refusal(
    fetched: &Fetched,
    repo: &str,
    revision: &str,
    file: &str,
    with_token: bool,
) -> HubError {
    let header = |name: &str| {
        fetched
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (code, message) = (header(ERROR_CODE), header(ERROR_MESSAGE));
    let status = fetched.status;
    let repo = repo.to_owned();
    match code {
        "RepoNotFound" => HubError::RepoNotFound { repo },
        "RevisionNotFound" => HubError::RevisionNotFound {
            repo,
            revision: revision.to_owned(),
        },
        "GatedRepo" => HubError::Denied { repo, with_token },
        "EntryNotFound" if file == "config.json" => HubError::NoConfig { repo },
        // A token the Hub does not accept at all: the read goes on without it. A 401
        // without a code to a request with the token is taken for one too (whatever
        // the Hub's wording for an expired token), since the read without it then
        // says what the repository is.
        _ if status == StatusCode::UNAUTHORIZED
            && with_token
            && (code.is_empty() || message == BAD_TOKEN_MESSAGE) =>
        {
            HubError::TokenRejected { repo }
        }
        _ if status == StatusCode::FORBIDDEN && message == DISABLED_MESSAGE => {
            HubError::Disabled { repo }
        }
        _ if status == StatusCode::UNAUTHORIZED => HubError::RepoNotFound { repo },
        _ if status == StatusCode::FORBIDDEN => HubError::Denied { repo, with_token },
        _ if status == StatusCode::NOT_FOUND && file == "config.json" && code.is_empty() => {
            HubError::RepoNotFound { repo }
        }
        _ => HubError::Upstream {
            file: file.to_owned(),
            status: status.as_u16(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str, message: &str) -> Fetched {
        let mut headers = HeaderMap::new();
        for (name, value) in [(ERROR_CODE, code), (ERROR_MESSAGE, message)] {
            if !value.is_empty() {
                headers.insert(name, value.parse().unwrap());
            }
        }
        Fetched {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::new(),
        }
    }

    #[test]
    fn refusals_read_as_huggingface_hub_reads_them() {
        let read = |status, code, message, with_token| {
            refusal(
                &refused(status, code, message),
                "o/n",
                "v1",
                "config.json",
                with_token,
            )
        };
        let repo = || "o/n".to_owned();
        let rejected = HubError::TokenRejected { repo: repo() };
        assert_eq!(read(401, "", BAD_TOKEN_MESSAGE, true), rejected);
        assert_eq!(read(401, "", "Token expired", true), rejected);
        assert_eq!(read(401, "", "", true), rejected);
        let missing = HubError::RepoNotFound { repo: repo() };
        assert_eq!(read(401, "", "", false), missing);
        assert_eq!(read(401, "RepoNotFound", "", true), missing);
        assert_eq!(read(404, "", "", false), missing);
        let gated = |with_token| HubError::Denied {
            repo: repo(),
            with_token,
        };
        assert_eq!(read(401, "GatedRepo", "", false), gated(false));
        assert_eq!(read(403, "GatedRepo", "", true), gated(true));
        assert_eq!(read(403, "", "no access", true), gated(true));
        assert_eq!(
            read(403, "", DISABLED_MESSAGE, false),
            HubError::Disabled { repo: repo() }
        );
        assert_eq!(
            read(404, "RevisionNotFound", "", false),
            HubError::RevisionNotFound {
                repo: repo(),
                revision: "v1".into()
            }
        );
        assert_eq!(
            read(404, "EntryNotFound", "", false),
            HubError::NoConfig { repo: repo() }
        );
        assert_eq!(
            read(503, "", "", false),
            HubError::Upstream {
                file: "config.json".into(),
                status: 503
            }
        );
    }
}
