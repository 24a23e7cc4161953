//! The Hugging Face Hub, read at request time: a model repository's `config.json`
//! (with its `quantization_config`), its `model.safetensors.index.json`, and the
//! headers of its safetensors files (two range requests each; where the Hub serves
//! the files from another host, its API's count of their values instead), so a model
//! the registry does not hold can be sized from its own files. The service's only
//! network I/O for models, with these rules (`docs/hub.md`):
//!
//! - one endpoint: `HF_ENDPOINT`, default `https://huggingface.co`;
//! - repository ids and revisions checked against the Hub's naming rules before any
//!   request ([`is_repo_id`], [`is_revision`]);
//! - redirects followed only within that endpoint;
//! - a connect timeout ([`CONNECT_TIMEOUT`]) and a limit on the whole read
//!   ([`READ_TIMEOUT`]) that fit inside the function's own timeout;
//! - a size limit on every body ([`CONFIG_LIMIT`], [`INDEX_LIMIT`],
//!   [`HEADER_LIMIT`], [`API_LIMIT`]);
//! - what was read kept per container ([`cache`]), and the HTTP client made on the
//!   first read, so requests that never reach the Hub cost nothing more;
//! - a token for gated and private repositories only when the deployment gives one
//!   ([`set_token_source`]), read once on the first read and never logged or echoed.

pub mod cache;
mod client;
mod endpoint;
mod error;
mod read;
mod repo_id;
pub mod safetensors;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use client::{http_client, HttpClient};
pub use client::{BAD_TOKEN_MESSAGE, CONNECT_TIMEOUT, DISABLED_MESSAGE};
pub use endpoint::{Endpoint, DEFAULT_ENDPOINT, ENDPOINT_VARIABLE};
pub use error::HubError;
use read::Reader;
pub use repo_id::{
    is_commit, is_repo_id, is_revision, revision_segment, DEFAULT_REVISION, MAX_REVISION_CHARS,
};
use safetensors::{HubCount, TensorSummary};

/// Largest `config.json` read: real ones are a few KiB; a posted `config` is bounded
/// by the request body's own limit, and this is the Hub's equivalent.
pub const CONFIG_LIMIT: usize = 1 << 20;

/// Largest `model.safetensors.index.json` read: one line of about a hundred bytes per
/// tensor, so room for some 150,000 tensors (an estimate from the files' format: a
/// 256-expert model of 60 layers with FP8 scales has about 90,000; no index of such a
/// model was read here).
pub const INDEX_LIMIT: usize = 16 << 20;

/// Largest safetensors header read per file: about a hundred bytes per tensor, so room
/// for some 40,000 tensors in one file (the stand-in's 16-shard MoE holds about 1,200
/// per file); the headers are summed as they are parsed, so only the bytes count.
pub const HEADER_LIMIT: u64 = 4 << 20;

/// Largest answer of the Hub's model API read (its `safetensors` count, a few hundred
/// bytes: one number per dtype).
pub const API_LIMIT: usize = 64 << 10;

/// Shards whose headers are read; a checkpoint in more files is counted from its index
/// and the Hub API's count (two requests per shard would not fit the read's time
/// limit).
pub const MAX_SHARDS: usize = 64;

/// The limit on reading one repository, every request included: the functions that
/// take a model run for up to 10 s (`template.yaml`).
pub const READ_TIMEOUT: Duration = Duration::from_secs(6);

/// What a repository's safetensors files say.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The safetensors files (one, or the index's shards); none listed when there are
    /// more than [`MAX_SHARDS`].
    pub files: Vec<String>,
    /// How many files, counted up to one more than [`MAX_SHARDS`].
    pub file_count: usize,
    /// Their headers added up; `None` when they were not read (see the notes).
    pub headers: Option<TensorSummary>,
    /// The Hub API's count of their values, read when the headers could not be (the
    /// files served from another host, or more than [`MAX_SHARDS`] of them); `None`
    /// otherwise, or when the API did not give it (see the notes).
    pub hub_count: Option<HubCount>,
    /// The index's `metadata.total_size`: bytes of tensor data.
    pub index_total_size: Option<u64>,
}

/// A model repository as read from the Hub.
#[derive(Clone, Debug, PartialEq)]
pub struct HubRepo {
    /// `owner/name`.
    pub id: String,
    /// The revision asked for.
    pub revision: String,
    /// The commit the Hub resolved it to (`X-Repo-Commit`), when it says.
    pub commit: Option<String>,
    /// `config.json` as the Hub served it: a JSON object, at most [`CONFIG_LIMIT`]
    /// bytes (to be read as a posted config is).
    pub config: Vec<u8>,
    /// The files read, in order.
    pub files: Vec<String>,
    /// The safetensors checkpoint, when the repository has one.
    pub checkpoint: Option<Checkpoint>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
    /// `false` when a file could not be read for a reason that may pass (the Hub
    /// busy or failing): the answer is given, and read again next time.
    pub cacheable: bool,
}

impl HubRepo {
    /// Bytes the repository holds in the cache, roughly: what it read and its names.
    pub fn size(&self) -> usize {
        let names = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
        // A map's keys, each with its count and the tree's share of a node.
        let keys = |m: &std::collections::BTreeMap<String, u64>| {
            m.keys().map(|k| k.len() + 48).sum::<usize>()
        };
        let checkpoint = |c: &Checkpoint| {
            names(&c.files)
                + c.headers
                    .as_ref()
                    .map_or(0, |h| keys(&h.values_by_dtype) + keys(&h.values_by_suffix))
                + c.hub_count.as_ref().map_or(0, |n| keys(&n.values_by_dtype))
                + 256
        };
        self.config.len()
            + names(&self.files)
            + names(&self.notes)
            + self.checkpoint.as_ref().map_or(0, checkpoint)
            + self.id.len()
            + self.revision.len()
            + 256
    }
}

/// A read of the service's Hub token: the token, or why it could not be read (never
/// containing the token).
pub type TokenRead = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Where the service's Hub token comes from (the `functions` crate installs one that
/// reads AWS Secrets Manager when the template names a secret).
pub type TokenSource = Box<dyn Fn() -> TokenRead + Send + Sync>;

static TOKEN_SOURCE: OnceLock<TokenSource> = OnceLock::new();

/// Gives every Hub of this process the token `source` reads, on its first read of a
/// repository (again after a failed read, never after a successful one). `false` when
/// a source was already installed.
pub fn set_token_source(source: TokenSource) -> bool {
    TOKEN_SOURCE.set(source).is_ok()
}

/// A Hub endpoint with its container's client and cache.
pub struct Hub {
    endpoint: Endpoint,
    token: tokio::sync::OnceCell<Option<String>>,
    client: OnceLock<Result<HttpClient, String>>,
    cache: cache::Cache,
    timeout: Duration,
}

impl Hub {
    /// A Hub at `endpoint`, reading with `token` when given (never logged); without
    /// one, with the token of the installed [`TokenSource`], if any.
    pub fn new(endpoint: Endpoint, token: Option<String>) -> Hub {
        let given = tokio::sync::OnceCell::new();
        if token.is_some() {
            let _ = given.set(token);
        }
        Hub {
            endpoint,
            token: given,
            client: OnceLock::new(),
            cache: cache::Cache::default(),
            timeout: READ_TIMEOUT,
        }
    }

    /// The same Hub with another limit on each repository's read.
    pub fn with_timeout(mut self, timeout: Duration) -> Hub {
        self.timeout = timeout;
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Repositories held in the cache.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The token reads carry: the one given, or the installed source's, read once.
    async fn token(&self) -> Result<Option<&str>, HubError> {
        let token = self
            .token
            .get_or_try_init(|| async {
                match TOKEN_SOURCE.get() {
                    Some(source) => source().await.map(Some),
                    None => Ok(None),
                }
            })
            .await
            .map_err(|cause| HubError::Token { cause })?;
        Ok(token.as_deref())
    }

    fn client(&self) -> Result<&HttpClient, HubError> {
        self.client
            .get_or_init(http_client)
            .as_ref()
            .map_err(|cause| HubError::Unreachable {
                endpoint: self.endpoint.display(),
                cause: cause.clone(),
            })
    }

    /// `id` at `revision`: from the cache, or read from the Hub within the time limit.
    /// Both must pass [`is_repo_id`] and [`is_revision`] (anything else is answered as
    /// not found, without a request).
    pub async fn repo(&self, id: &str, revision: &str) -> Result<Arc<HubRepo>, HubError> {
        if !is_repo_id(id) {
            return Err(HubError::RepoNotFound { repo: id.into() });
        }
        if !is_revision(revision) {
            return Err(HubError::RevisionNotFound {
                repo: id.into(),
                revision: revision.into(),
            });
        }
        if let Some(hit) = self.cache.get(id, revision, Instant::now()) {
            return Ok(hit);
        }
        let client = self.client()?;
        let read = tokio::time::timeout(self.timeout, self.read_with_token(client, id, revision))
            .await
            .map_err(|_| HubError::Timeout {
                endpoint: self.endpoint.display(),
                seconds: self.timeout.as_secs_f64(),
            })??;
        let read = Arc::new(read);
        if read.cacheable {
            self.cache.put(id, revision, read.clone(), Instant::now());
        }
        Ok(read)
    }

    /// The read with the service's token, within the one time limit. A token that
    /// cannot be read does not stop public repositories: the read goes on without it,
    /// and a repository that may have needed it (gated, or not found, as the Hub
    /// answers private ones without a token) says why it could not be opened. A token
    /// the Hub rejects ([`BAD_TOKEN_MESSAGE`], or a 401 without an error code) is
    /// dropped for a read without it.
    async fn read_with_token(
        &self,
        client: &HttpClient,
        id: &str,
        revision: &str,
    ) -> Result<HubRepo, HubError> {
        let (token, unreadable) = match self.token().await {
            Ok(token) => (token, None),
            Err(e) => (None, Some(e)),
        };
        let read = match self.read(client, token, id, revision).await {
            Err(HubError::TokenRejected { .. }) => self.read(client, None, id, revision).await,
            other => other,
        };
        match (read, unreadable) {
            (Err(HubError::Denied { .. } | HubError::RepoNotFound { .. }), Some(token_error)) => {
                Err(token_error)
            }
            (read, _) => read,
        }
    }

    async fn read(
        &self,
        client: &HttpClient,
        token: Option<&str>,
        id: &str,
        revision: &str,
    ) -> Result<HubRepo, HubError> {
        let reader = Reader {
            hub: self,
            client,
            token,
        };
        reader.read(id, revision).await
    }
}

/// The Hub this container reads: `HF_ENDPOINT` (or the public Hub), without a token,
/// made on first use. An `HF_ENDPOINT` that is not an http(s) URL is an error every
/// Hub read reports.
pub fn global() -> Result<&'static Hub, String> {
    static HUB: OnceLock<Result<Hub, String>> = OnceLock::new();
    HUB.get_or_init(|| Endpoint::from_env().map(|e| Hub::new(e, None)))
        .as_ref()
        .map_err(Clone::clone)
}
