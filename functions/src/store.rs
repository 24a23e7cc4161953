//! The report bucket: where reports go and where operators may leave `prices.json`.
//! The only module that talks to AWS.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use calculator::limits::MAX_PRICES_BYTES;

/// Key of the optional price override in the bucket.
pub const PRICES_KEY: &str = "prices.json";

/// Whether `S3_FORCE_PATH_STYLE` asks for path-style requests (`true` or `1`).
fn path_style(value: Option<String>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

/// What went wrong with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// S3 failed, refused or did not answer in time.
    Failed,
    /// S3 answered, with an object the run cannot use (too large, not text).
    Content,
}

/// An S3 failure, with the object's URL and what was being done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    /// What went wrong.
    pub kind: StoreErrorKind,
    /// `reading s3://bucket/key: why`.
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// How long each S3 call may take. Without them a stalled connection would hold the
/// run until Lambda's own timeout, which names no cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// Between two reads of a response.
    pub read: Duration,
    /// One attempt of a call.
    pub attempt: Duration,
    /// A call with its retries, body included: the most one S3 call can take (less
    /// when the run's deadline is nearer).
    pub operation: Duration,
}

impl Timeouts {
    /// The function's. A run also stops its S3 calls at its own deadline
    /// ([`ReportStore::until`]), so however many calls stall, it fails with the key
    /// named before Lambda's timeout (`template.yaml`: 60 s) ends it without a cause.
    pub const LAMBDA: Timeouts = Timeouts {
        connect: Duration::from_secs(3),
        read: Duration::from_secs(5),
        attempt: Duration::from_secs(5),
        operation: Duration::from_secs(10),
    };

    /// The SDK's form.
    pub fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// The bucket reports are written to, with one S3 client for the process.
#[derive(Clone, Debug)]
pub struct ReportStore {
    client: Client,
    bucket: String,
    timeouts: Timeouts,
    /// When the run's S3 calls must have ended, if it has a deadline.
    deadline: Option<Instant>,
}

impl ReportStore {
    /// A store over `bucket` with `client`, whose configuration carries `timeouts`
    /// (`Timeouts::config`); the store also bounds each whole call (the body
    /// included) by them.
    pub fn new(client: Client, bucket: impl Into<String>, timeouts: Timeouts) -> ReportStore {
        ReportStore {
            client,
            bucket: bucket.into(),
            timeouts,
            deadline: None,
        }
    }

    /// The same store for one run that must end its S3 calls by `deadline`.
    pub fn until(&self, deadline: Instant) -> ReportStore {
        ReportStore {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// The store of `REPORT_BUCKET`, with a client from the environment's
    /// configuration (Lambda's role credentials); `None` when the variable is unset
    /// (local runs return the report instead). For an S3-compatible server (MinIO,
    /// s3s-fs) set `AWS_ENDPOINT_URL_S3`, and `S3_FORCE_PATH_STYLE=true` when it does
    /// not serve virtual-hosted bucket names.
    pub async fn from_env() -> Option<ReportStore> {
        let bucket = std::env::var("REPORT_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())?;
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(path_style(std::env::var("S3_FORCE_PATH_STYLE").ok()))
            .timeout_config(Timeouts::LAMBDA.config())
            .build();
        Some(ReportStore::new(
            Client::from_conf(config),
            bucket,
            Timeouts::LAMBDA,
        ))
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key`, for answers and reports.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// An error about `key`, `doing` (`reading`, `writing`) it.
    fn error(&self, kind: StoreErrorKind, doing: &str, key: &str, why: &str) -> StoreError {
        StoreError {
            kind,
            message: format!("{doing} {}: {why}", self.url(key)),
        }
    }

    /// Runs one S3 call within the operation timeout and what is left before the
    /// run's deadline; the error names the key and the limit that ran out.
    async fn bounded<T>(
        &self,
        doing: &str,
        key: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let left = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let (limit, what) = match left {
            Some(left) if left < self.timeouts.operation => (left, "the run's deadline"),
            _ => (self.timeouts.operation, "the operation timeout"),
        };
        let out_of_time = || {
            self.error(
                StoreErrorKind::Failed,
                doing,
                key,
                &format!("no answer within {:.1} s ({what})", limit.as_secs_f64()),
            )
        };
        if limit.is_zero() {
            return Err(out_of_time());
        }
        tokio::time::timeout(limit, call)
            .await
            .unwrap_or_else(|_| Err(out_of_time()))
    }

    /// The bucket's `prices.json`, or `None` when it holds none.
    pub async fn prices(&self) -> Result<Option<String>, StoreError> {
        let Some((bytes, _)) = self.get_tagged(PRICES_KEY, MAX_PRICES_BYTES).await? else {
            return Ok(None);
        };
        String::from_utf8(bytes).map(Some).map_err(|_| {
            self.error(
                StoreErrorKind::Content,
                "reading",
                PRICES_KEY,
                "not UTF-8 text",
            )
        })
    }

    /// The object at `key` (at most `limit` bytes) with its ETag, or `None` when there
    /// is none.
    pub async fn get_tagged(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, StoreError> {
        let failed = |why: String| self.error(StoreErrorKind::Failed, "reading", key, &why);
        let too_large = || {
            self.error(
                StoreErrorKind::Content,
                "reading",
                key,
                &format!("larger than {limit} bytes"),
            )
        };
        let call = async {
            let object = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    return Ok(None)
                }
                Err(e) => return Err(failed(DisplayErrorContext(e).to_string())),
            };
            let etag = object.e_tag().map(str::to_owned);
            if object.content_length().unwrap_or(0) > limit as i64 {
                return Err(too_large());
            }
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| failed(e.to_string()))?
                .into_bytes();
            if bytes.len() as u64 > limit {
                return Err(too_large());
            }
            Ok(Some((bytes.to_vec(), etag)))
        };
        self.bounded("reading", key, call).await
    }

    /// Writes one object in one request: a failed run leaves the previous object (or
    /// none), never half of one.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        match self.put_if(key, body, content_type, None).await? {
            true => Ok(()),
            false => Err(self.error(
                StoreErrorKind::Failed,
                "writing",
                key,
                "refused as conflicting",
            )),
        }
    }

    /// Writes one object only while the stored one is what the caller read:
    /// `Some(Some(etag))` it still has that ETag, `Some(None)` there is still none
    /// (S3's conditional writes, `If-Match` and `If-None-Match: *`). `Ok(false)` when
    /// the condition no longer holds (412, or 409 for a concurrent conditional write).
    pub async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        read: Option<Option<String>>,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        put = match read {
            None => put,
            Some(None) => put.if_none_match("*"),
            Some(Some(etag)) => put.if_match(etag),
        };
        let call = async {
            match put.send().await {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(
                        e.raw_response().map(|r| r.status().as_u16()),
                        Some(409 | 412)
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(self.error(
                    StoreErrorKind::Failed,
                    "writing",
                    key,
                    &DisplayErrorContext(e).to_string(),
                )),
            }
        };
        self.bounded("writing", key, call).await
    }
}

#[cfg(test)]
mod tests {
    use super::path_style;

    #[test]
    fn path_style_is_asked_for_by_true_or_1() {
        assert!(path_style(Some("true".into())) && path_style(Some(" TRUE ".into())));
        assert!(path_style(Some("1".into())));
        assert!(
            !path_style(None) && !path_style(Some("false".into())) && !path_style(Some("".into()))
        );
    }
}
