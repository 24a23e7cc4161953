//! One repository's read, file by file: config.json, then the safetensors index, then
//! each file's header (two range requests, [`PARALLEL_READS`] files at a time), or the
//! Hub API's count of the files' values where their headers cannot be read.

use std::collections::BTreeSet;
use std::fmt;

use http::StatusCode;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{fetch, refusal, Fetched, Get, HttpClient};
use crate::endpoint::Endpoint;
use crate::safetensors::{header_length, hub_count, summarize, HubCount, TensorSummary};
use crate::{
    is_commit, repo_id, Checkpoint, Hub, HubError, HubRepo, API_LIMIT, CONFIG_LIMIT, HEADER_LIMIT,
    INDEX_LIMIT, MAX_SHARDS,
};

/// Header reads in flight at once (each holds up to [`HEADER_LIMIT`] bytes).
const PARALLEL_READS: usize = 4;

/// The index file of a sharded safetensors checkpoint.
const INDEX_FILE: &str = "model.safetensors.index.json";

/// The file of an unsharded safetensors checkpoint.
const SINGLE_FILE: &str = "model.safetensors";

/// The Hub's model API, as the answer's list of what was read names it.
const API_FILE: &str = "api/models (safetensors)";

/// One repository's read: the Hub, its client and the token the reads carry.
pub(crate) struct Reader<'a> {
    pub(crate) hub: &'a Hub,
    pub(crate) client: &'a HttpClient,
    pub(crate) token: Option<&'a str>,
}

impl Reader<'_> {
    async fn get(&self, get: Get<'_>) -> Result<Fetched, HubError> {
        fetch(self.client, &self.hub.endpoint, self.token, &get).await
    }

    fn refusal(&self, fetched: &Fetched, repo: &str, revision: &str, file: &str) -> HubError {
        refusal(fetched, repo, revision, file, self.token.is_some())
    }

    /// `id` at `revision`: its config.json, and its checkpoint as far as it can be read.
    pub(crate) async fn read(&self, id: &str, revision: &str) -> Result<HubRepo, HubError> {
        let rev = repo_id::revision_segment(revision);
        let config = self
            .get(Get {
                path: format!("/{id}/resolve/{rev}/config.json"),
                file: "config.json",
                limit: CONFIG_LIMIT,
                range: None,
            })
            .await?;
        if config.status != StatusCode::OK {
            return Err(self.refusal(&config, id, revision, "config.json"));
        }
        let commit = config
            .headers
            .get("x-repo-commit")
            .and_then(|v| v.to_str().ok())
            .filter(|c| is_commit(c))
            .map(str::to_owned);
        // Checked to be a JSON object here; kept as text (the caller reads it as it reads
        // a posted config, strictly), so the cache holds its bytes, not a parsed tree.
        match serde_json::from_slice::<IgnoredAny>(&config.body) {
            Ok(_) if config.body.trim_ascii_start().starts_with(b"{") => {}
            Ok(_) => {
                return Err(HubError::Malformed {
                    file: "config.json".into(),
                    why: "not a JSON object".into(),
                })
            }
            Err(e) => {
                return Err(HubError::Malformed {
                    file: "config.json".into(),
                    why: format!("not JSON: {e}"),
                })
            }
        }
        // Every later file from the commit the config came from: one snapshot.
        let at = commit.clone().unwrap_or(rev);
        let mut repo = HubRepo {
            id: id.to_owned(),
            revision: revision.to_owned(),
            commit,
            config: config.body.to_vec(),
            files: vec!["config.json".to_owned()],
            checkpoint: None,
            notes: Vec::new(),
            cacheable: true,
        };
        repo.checkpoint = self.checkpoint(&mut repo, &at).await?;
        Ok(repo)
    }

    /// The safetensors files and their headers. Only a timeout or a lost connection
    /// fails the read; anything else leaves a note and an answer from the config.
    async fn checkpoint(
        &self,
        repo: &mut HubRepo,
        at: &str,
    ) -> Result<Option<Checkpoint>, HubError> {
        let index = self
            .get(Get {
                path: format!("/{}/resolve/{at}/{INDEX_FILE}", repo.id),
                file: INDEX_FILE,
                limit: INDEX_LIMIT,
                range: None,
            })
            .await;
        let index = match index {
            Ok(f) if f.status == StatusCode::OK => {
                repo.files.push(INDEX_FILE.to_owned());
                match Index::read(&f.body) {
                    Ok(read) => read,
                    Err(why) => {
                        repo.notes.push(format!("{INDEX_FILE}: {why}"));
                        return Ok(None);
                    }
                }
            }
            Ok(f) if f.status == StatusCode::NOT_FOUND => Index::single(),
            Ok(f) => {
                let e = self.refusal(&f, &repo.id, &repo.revision, INDEX_FILE);
                note_failure(repo, &e, e.to_string());
                return Ok(None);
            }
            Err(e) => return fatal_or_note(e, repo),
        };
        let files = index.files;
        let mut hub_count = None;
        let headers = if index.file_count > MAX_SHARDS {
            repo.notes.push(format!(
                "more than {MAX_SHARDS} safetensors files, the most whose headers are read; their values are counted by the Hub's API instead"
            ));
            hub_count = self.hub_count(repo, at).await?;
            None
        } else {
            match self.headers(&repo.id, at, &files).await {
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
                Err(HubError::OffHost { host, .. }) => {
                    // huggingface.co's own layout: large files live on its storage
                    // host, which the redirect rule does not follow.
                    repo.notes.push(format!(
                        "the safetensors files are served from {host}, another host, which this service does not follow; their values are counted by the Hub's API instead of their headers"
                    ));
                    hub_count = self.hub_count(repo, at).await?;
                    None
                }
                Err(e) => {
                    if matches!(e, HubError::Timeout { .. } | HubError::Unreachable { .. }) {
                        return Err(e);
                    }
                    note_failure(
                        repo,
                        &e,
                        format!("{e}; the safetensors headers were not read"),
                    );
                    None
                }
            }
        };
        Ok(Some(Checkpoint {
            file_count: index.file_count,
            files,
            headers,
            hub_count,
            index_total_size: index.total_size,
        }))
    }

    /// The Hub API's count of the checkpoint's values at `at`, on the endpoint's own
    /// host. Only a timeout or a lost connection fails the read; an API that does not
    /// answer, or answers without the count, leaves a note.
    async fn hub_count(&self, repo: &mut HubRepo, at: &str) -> Result<Option<HubCount>, HubError> {
        let fetched = self
            .get(Get {
                path: format!("/api/models/{}/revision/{at}?expand=safetensors", repo.id),
                file: API_FILE,
                limit: API_LIMIT,
                range: None,
            })
            .await;
        let fetched = match fetched {
            Ok(f) if f.status == StatusCode::OK => f,
            Ok(f) => {
                let e = self.refusal(&f, &repo.id, &repo.revision, API_FILE);
                note_failure(repo, &e, e.to_string());
                return Ok(None);
            }
            Err(e) => {
                fatal_or_note(e, repo)?;
                return Ok(None);
            }
        };
        repo.files.push(API_FILE.to_owned());
        match hub_count(&fetched.body) {
            Ok(Some(count)) => Ok(Some(count)),
            Ok(None) => {
                repo.notes
                    .push(format!("{API_FILE}: the Hub gives no safetensors count"));
                Ok(None)
            }
            Err(why) => {
                repo.notes
                    .push(format!("{API_FILE} could not be read: {why}"));
                Ok(None)
            }
        }
    }

    /// Every file's header, added up; `Ok(None)` when a lone `model.safetensors` is
    /// absent.
    async fn headers(
        &self,
        id: &str,
        at: &str,
        files: &[String],
    ) -> Result<Option<TensorSummary>, HubError> {
        let mut total = TensorSummary::default();
        for batch in files.chunks(PARALLEL_READS) {
            let mut set = tokio::task::JoinSet::new();
            for file in batch {
                let reader = HeaderRead {
                    client: self.client.clone(),
                    endpoint: self.hub.endpoint.clone(),
                    token: self.token.map(str::to_owned),
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
                    Some(summary) => total.add(&summary).map_err(|why| HubError::Malformed {
                        file: "the safetensors headers".into(),
                        why,
                    })?,
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
            note_failure(repo, &other, other.to_string());
            Ok(None)
        }
    }
}

/// Notes a file that could not be read; one that may read on another try (the Hub
/// busy or failing: 429, 5xx) leaves the answer out of the cache.
fn note_failure(repo: &mut HubRepo, e: &HubError, note: String) {
    if let HubError::Upstream { status, .. } = e {
        if *status == 429 || *status >= 500 {
            repo.cacheable = false;
        }
    }
    repo.notes.push(note);
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
            return Err(self.refused(&prefix));
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
            return Err(self.refused(&header));
        }
        summarize(&header.body).map(Some).map_err(malformed)
    }

    fn refused(&self, fetched: &Fetched) -> HubError {
        refusal(
            fetched,
            &self.repo,
            &self.revision,
            &self.file,
            self.token.is_some(),
        )
    }
}

/// What a checkpoint's index says: its shard files (none listed when there are more
/// than [`MAX_SHARDS`]) and its stated total size.
struct Index {
    files: Vec<String>,
    /// The files, counted up to one more than [`MAX_SHARDS`].
    file_count: usize,
    total_size: Option<u64>,
}

impl Index {
    /// An unsharded checkpoint: `model.safetensors` alone.
    fn single() -> Index {
        Index {
            files: vec![SINGLE_FILE.to_owned()],
            file_count: 1,
            total_size: None,
        }
    }

    /// Reads an index as its JSON streams by: the tensor names are not kept, so memory
    /// grows with the distinct files (at most [`MAX_SHARDS`] kept), not the tensors.
    fn read(body: &[u8]) -> Result<Index, String> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            metadata: Option<Metadata>,
            weight_map: Files,
        }
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            total_size: Option<Value>,
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not an index: {e}"))?;
        let files = raw.weight_map.files;
        if files.is_empty() {
            return Err("an empty weight_map".into());
        }
        Ok(Index {
            file_count: files.len(),
            files: if files.len() > MAX_SHARDS {
                Vec::new()
            } else {
                files.into_iter().collect()
            },
            total_size: raw
                .metadata
                .and_then(|m| m.total_size)
                .and_then(|t| t.as_u64()),
        })
    }
}

/// The distinct values of a `weight_map` (up to one more than [`MAX_SHARDS`]), each
/// a plain safetensors file name.
struct Files {
    files: BTreeSet<String>,
}

impl<'de> Deserialize<'de> for Files {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Files, D::Error> {
        struct Collect;
        impl<'de> Visitor<'de> for Collect {
            type Value = Files;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of tensor names to file names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Files, A::Error> {
                // One more than the files read is enough to know there are too many.
                let mut files = BTreeSet::new();
                while let Some((_, file)) = map.next_entry::<IgnoredAny, String>()? {
                    if !safe_file_name(&file) {
                        return Err(serde::de::Error::custom(format!(
                            "weight_map names {:?}, not a safetensors file name",
                            file.chars().take(80).collect::<String>()
                        )));
                    }
                    if files.len() <= MAX_SHARDS {
                        files.insert(file);
                    }
                }
                Ok(Files { files })
            }
        }
        d.deserialize_map(Collect)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_files_stay_in_the_repository() {
        let ok = br#"{"metadata":{"total_size":10},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}"#;
        let index = Index::read(ok).unwrap();
        assert_eq!(index.files.len(), 2);
        assert_eq!(index.total_size, Some(10));
        let many: serde_json::Map<String, Value> = (0..100)
            .map(|i| (format!("t{i}"), Value::from(format!("m-{i}.safetensors"))))
            .collect();
        let many = serde_json::json!({"weight_map": many}).to_string();
        let index = Index::read(many.as_bytes()).unwrap();
        assert_eq!((index.files.len(), index.file_count), (0, MAX_SHARDS + 1));
        for bad in [
            &br#"{"weight_map":{"a":"../secret.safetensors"}}"#[..],
            br#"{"weight_map":{"a":"sub/x.safetensors"}}"#,
            br#"{"weight_map":{"a":"x.bin"}}"#,
            br#"{"weight_map":{}}"#,
            br#"{"weight_map":{"a":1}}"#,
            br#"[]"#,
        ] {
            assert!(
                Index::read(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
