//! The report bucket: where reports go and where operators may leave `prices.json`.
//! The only module that talks to AWS.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use calculator::limits::MAX_PRICES_BYTES;

/// Key of the optional price override in the bucket.
pub const PRICES_KEY: &str = "prices.json";

/// Whether `S3_FORCE_PATH_STYLE` asks for path-style requests (`true` or `1`).
fn path_style(value: Option<String>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

/// An S3 failure, with what was being done.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// The bucket reports are written to, with one S3 client for the process.
#[derive(Clone, Debug)]
pub struct ReportStore {
    client: Client,
    bucket: String,
}

impl ReportStore {
    /// A store over `bucket` with `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> ReportStore {
        ReportStore {
            client,
            bucket: bucket.into(),
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
            .build();
        Some(ReportStore::new(Client::from_conf(config), bucket))
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key`, for answers and reports.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The bucket's `prices.json`, or `None` when it holds none.
    pub async fn prices(&self) -> Result<Option<String>, StoreError> {
        let fail = |e: String| StoreError(format!("reading {}: {e}", self.url(PRICES_KEY)));
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(PRICES_KEY)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(fail(aws_sdk_s3::error::DisplayErrorContext(e).to_string())),
        };
        if object.content_length().unwrap_or(0) > MAX_PRICES_BYTES as i64 {
            return Err(fail(format!("larger than {MAX_PRICES_BYTES} bytes")));
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .into_bytes();
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| fail("not UTF-8 text".into()))
    }

    /// Writes one object in one request: a failed run leaves the previous object (or
    /// none), never half of one.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                StoreError(format!(
                    "writing {}: {}",
                    self.url(key),
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            })
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
