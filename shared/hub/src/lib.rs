//! The Hugging Face Hub, read at request time: a model repository's `config.json`
//! (with its `quantization_config`), its `model.safetensors.index.json`, and the
//! headers of its safetensors files (two range requests each), so a model the
//! registry does not hold can be sized from its own files. The service's only
//! network I/O for models, with these rules (`docs/hub.md`):
//!
//! - one endpoint: `HF_ENDPOINT`, default `https://huggingface.co`;
//! - repository ids and revisions checked against the Hub's naming rules before any
//!   request ([`is_repo_id`], [`is_revision`]);
//! - redirects followed only within that endpoint;
//! - a connect timeout ([`CONNECT_TIMEOUT`]) and a limit on the whole read
//!   ([`READ_TIMEOUT`]) that fit inside the function's own timeout;
//! - a size limit on every body ([`CONFIG_LIMIT`], [`INDEX_LIMIT`],
//!   [`HEADER_LIMIT`]);
//! - what was read kept per container ([`cache`]), and the HTTP client made on the
//!   first read, so requests that never reach the Hub cost nothing more.

pub mod cache;
mod client;
mod endpoint;
mod error;
mod repo_id;
pub mod safetensors;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::Value;

pub use client::CONNECT_TIMEOUT;
use client::{fetch, http_client, refusal, Fetched, Get, HttpClient};
pub use endpoint::{Endpoint, DEFAULT_ENDPOINT, ENDPOINT_VARIABLE};
pub use error::HubError;
pub use repo_id::{is_commit, is_repo_id, is_revision, DEFAULT_REVISION, MAX_REVISION_CHARS};
use safetensors::{header_length, summarize, TensorSummary};

/// Largest `config.json` read: real ones are a few KiB; a posted `config` is bounded
/// by the request body's own limit, and this is the Hub's equivalent.
pub const CONFIG_LIMIT: usize = 1 << 20;

/// Largest `model.safetensors.index.json` read: one line per tensor name, about 7 MiB
/// for the largest MoE checkpoints (a quarter-million tensors).
pub const INDEX_LIMIT: usize = 16 << 20;

/// Largest safetensors header read per file: a few hundred bytes per tensor; shards of
/// the largest checkpoints hold a few thousand tensors.
pub const HEADER_LIMIT: u64 = 8 << 20;

/// Shards whose headers are read; a checkpoint in more files is counted from its index
/// alone (two requests per shard would not fit the read's time limit).
pub const MAX_SHARDS: usize = 64;

/// Header reads in flight at once.
const PARALLEL_READS: usize = 8;

/// The limit on reading one repository, every request included: the functions that
/// take a model run for up to 10 s (`template.yaml`).
pub const READ_TIMEOUT: Duration = Duration::from_secs(6);

/// The index file of a sharded safetensors checkpoint.
const INDEX_FILE: &str = "model.safetensors.index.json";

/// The file of an unsharded safetensors checkpoint.
const SINGLE_FILE: &str = "model.safetensors";

/// What a repository's safetensors files say.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The safetensors files (one, or the index's shards).
    pub files: Vec<String>,
    /// Their headers added up; `None` when they were not read (see the notes).
    pub headers: Option<TensorSummary>,
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
    /// `config.json`.
    pub config: Value,
    /// The files read, in order.
    pub files: Vec<String>,
    /// The safetensors checkpoint, when the repository has one.
    pub checkpoint: Option<Checkpoint>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// A Hub endpoint with its container's client and cache.
pub struct Hub {
    endpoint: Endpoint,
    token: Option<String>,
    client: OnceLock<Result<HttpClient, String>>,
    cache: cache::Cache,
    timeout: Duration,
}

impl Hub {
    /// A Hub at `endpoint`, reading with `token` when given (never logged).
    pub fn new(endpoint: Endpoint, token: Option<String>) -> Hub {
        Hub {
            endpoint,
            token,
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
        let read = tokio::time::timeout(self.timeout, self.read(client, id, revision))
            .await
            .map_err(|_| HubError::Timeout {
                endpoint: self.endpoint.display(),
                seconds: self.timeout.as_secs_f64(),
            })??;
        let read = Arc::new(read);
        self.cache.put(id, revision, read.clone(), Instant::now());
        Ok(read)
    }

    async fn get(&self, client: &HttpClient, get: Get<'_>) -> Result<Fetched, HubError> {
        fetch(client, &self.endpoint, self.token.as_deref(), &get).await
    }

    async fn read(
        &self,
        client: &HttpClient,
        id: &str,
        revision: &str,
    ) -> Result<HubRepo, HubError> {
        let rev = repo_id::revision_segment(revision);
        let config = self
            .get(
                client,
                Get {
                    path: format!("/{id}/resolve/{rev}/config.json"),
                    file: "config.json",
                    limit: CONFIG_LIMIT,
                    range: None,
                },
            )
            .await?;
        if config.status != StatusCode::OK {
            return Err(refusal(&config, id, revision, "config.json"));
        }
        let commit = config
            .headers
            .get("x-repo-commit")
            .and_then(|v| v.to_str().ok())
            .filter(|c| is_commit(c))
            .map(str::to_owned);
        let parsed: Value =
            serde_json::from_slice(&config.body).map_err(|e| HubError::Malformed {
                file: "config.json".into(),
                why: format!("not JSON: {e}"),
            })?;
        if !parsed.is_object() {
            return Err(HubError::Malformed {
                file: "config.json".into(),
                why: "not a JSON object".into(),
            });
        }
        // Every later file from the commit the config came from: one snapshot.
        let at = commit.clone().unwrap_or(rev);
        let mut repo = HubRepo {
            id: id.to_owned(),
            revision: revision.to_owned(),
            commit,
            config: parsed,
            files: vec!["config.json".to_owned()],
            checkpoint: None,
            notes: Vec::new(),
        };
        repo.checkpoint = self.checkpoint(client, &mut repo, &at).await?;
        Ok(repo)
    }

    /// The safetensors files and their headers. Only a timeout or a lost connection
    /// fails the read; anything else leaves a note and an answer from the config.
    async fn checkpoint(
        &self,
        client: &HttpClient,
        repo: &mut HubRepo,
        at: &str,
    ) -> Result<Option<Checkpoint>, HubError> {
        let index = self
            .get(
                client,
                Get {
                    path: format!("/{}/resolve/{at}/{INDEX_FILE}", repo.id),
                    file: INDEX_FILE,
                    limit: INDEX_LIMIT,
                    range: None,
                },
            )
            .await;
        let (files, total) = match index {
            Ok(f) if f.status == StatusCode::OK => {
                repo.files.push(INDEX_FILE.to_owned());
                match shards(&f.body) {
                    Ok(read) => read,
                    Err(why) => {
                        repo.notes.push(format!("{INDEX_FILE}: {why}"));
                        return Ok(None);
                    }
                }
            }
            Ok(f) if f.status == StatusCode::NOT_FOUND => (vec![SINGLE_FILE.to_owned()], None),
            Ok(f) => {
                let e = refusal(&f, &repo.id, &repo.revision, INDEX_FILE);
                repo.notes.push(e.to_string());
                return Ok(None);
            }
            Err(e) => return fatal_or_note(e, repo),
        };
        let headers = if files.len() > MAX_SHARDS {
            repo.notes.push(format!(
                "{} safetensors files: more than the {MAX_SHARDS} whose headers are read; counted from the config, with the index's total size",
                files.len()
            ));
            None
        } else {
            match self.headers(client, &repo.id, at, &files).await {
                Ok(Some(summary)) => {
                    repo.files.extend(files.iter().cloned());
                    Some(summary)
                }
                Ok(None) => {
                    // The single file is absent: no safetensors weights at all.
                    repo.notes.push(
                        "no safetensors weights (model.safetensors or its index); counted from the config".into(),
                    );
                    return Ok(None);
                }
                Err(e) => {
                    if matches!(e, HubError::Timeout { .. } | HubError::Unreachable { .. }) {
                        return Err(e);
                    }
                    repo.notes
                        .push(format!("{e}; the safetensors headers were not read"));
                    None
                }
            }
        };
        Ok(Some(Checkpoint {
            files,
            headers,
            index_total_size: total,
        }))
    }

    /// Every file's header, added up; `Ok(None)` when a lone `model.safetensors` is
    /// absent.
    async fn headers(
        &self,
        client: &HttpClient,
        id: &str,
        at: &str,
        files: &[String],
    ) -> Result<Option<TensorSummary>, HubError> {
        let mut total = TensorSummary::default();
        for batch in files.chunks(PARALLEL_READS) {
            let mut set = tokio::task::JoinSet::new();
            for file in batch {
                let reader = HeaderRead {
                    client: client.clone(),
                    endpoint: self.endpoint.clone(),
                    token: self.token.clone(),
                    path: format!("/{id}/resolve/{at}/{file}"),
                    file: file.clone(),
                    repo: id.to_owned(),
                    revision: at.to_owned(),
                };
                set.spawn(reader.run());
            }
            while let Some(done) = set.join_next().await {
                match done.map_err(|e| HubError::Malformed {
                    file: "a safetensors header".into(),
                    why: e.to_string(),
                })?? {
                    Some(summary) => total.add(&summary),
                    None if files.len() == 1 => return Ok(None),
                    None => {
                        return Err(HubError::Malformed {
                            file: INDEX_FILE.into(),
                            why: "it names a file the repository does not have".into(),
                        })
                    }
                }
            }
        }
        Ok(Some(total))
    }
}

/// A timeout or lost connection ends the read; other failures become a note.
fn fatal_or_note(e: HubError, repo: &mut HubRepo) -> Result<Option<Checkpoint>, HubError> {
    match e {
        HubError::Timeout { .. } | HubError::Unreachable { .. } => Err(e),
        other => {
            repo.notes.push(other.to_string());
            Ok(None)
        }
    }
}

/// One file's header read, owning what it needs to run as its own task.
struct HeaderRead {
    client: HttpClient,
    endpoint: Endpoint,
    token: Option<String>,
    path: String,
    file: String,
    repo: String,
    revision: String,
}

impl HeaderRead {
    /// The file's header summed; `None` when the file is absent.
    async fn run(self) -> Result<Option<TensorSummary>, HubError> {
        let token = self.token.as_deref();
        let get = |limit: usize, range: (u64, u64)| Get {
            path: self.path.clone(),
            file: &self.file,
            limit,
            range: Some(range),
        };
        let prefix = fetch(&self.client, &self.endpoint, token, &get(8, (0, 7))).await?;
        if prefix.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if prefix.status != StatusCode::PARTIAL_CONTENT && prefix.status != StatusCode::OK {
            return Err(refusal(&prefix, &self.repo, &self.revision, &self.file));
        }
        let malformed = |why: String| HubError::Malformed {
            file: self.file.clone(),
            why,
        };
        let n = header_length(&prefix.body).map_err(malformed)?;
        if n > HEADER_LIMIT {
            return Err(HubError::TooLarge {
                file: format!("{}'s header", self.file),
                limit: HEADER_LIMIT as usize,
            });
        }
        if n == 0 {
            return Err(malformed("an empty header".into()));
        }
        let header = fetch(
            &self.client,
            &self.endpoint,
            token,
            &get(n as usize, (8, 8 + n - 1)),
        )
        .await?;
        if header.status != StatusCode::PARTIAL_CONTENT && header.status != StatusCode::OK {
            return Err(refusal(&header, &self.repo, &self.revision, &self.file));
        }
        summarize(&header.body).map(Some).map_err(malformed)
    }
}

/// The shard files an index names and its stated total size.
fn shards(body: &[u8]) -> Result<(Vec<String>, Option<u64>), String> {
    let index: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let map = index["weight_map"]
        .as_object()
        .ok_or("no weight_map object")?;
    let mut files = BTreeSet::new();
    for file in map.values() {
        let file = file
            .as_str()
            .ok_or("a weight_map entry is not a file name")?;
        if !safe_file_name(file) {
            return Err(format!(
                "weight_map names {file:?}, not a safetensors file name"
            ));
        }
        files.insert(file.to_owned());
    }
    if files.is_empty() {
        return Err("an empty weight_map".into());
    }
    let total = index["metadata"]["total_size"].as_u64();
    Ok((files.into_iter().collect(), total))
}

/// A shard name that stays inside the repository's root: letters, digits, `-`, `_`
/// and `.`, ending in `.safetensors`.
fn safe_file_name(name: &str) -> bool {
    name.len() <= 255
        && name.ends_with(".safetensors")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_stay_in_the_repository() {
        let ok = br#"{"metadata":{"total_size":10},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}"#;
        let (files, total) = shards(ok).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(total, Some(10));
        for bad in [
            &br#"{"weight_map":{"a":"../secret.safetensors"}}"#[..],
            br#"{"weight_map":{"a":"sub/x.safetensors"}}"#,
            br#"{"weight_map":{"a":"x.bin"}}"#,
            br#"{"weight_map":{}}"#,
            br#"{"weight_map":{"a":1}}"#,
            br#"[]"#,
        ] {
            assert!(shards(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
