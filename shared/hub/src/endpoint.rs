//! The one Hub endpoint this client talks to: `HF_ENDPOINT` (the variable Hugging
//! Face's own libraries read), `https://huggingface.co` when unset.

use http::uri::{Authority, Scheme};
use http::Uri;

/// The environment variable naming the Hub endpoint.
pub const ENDPOINT_VARIABLE: &str = "HF_ENDPOINT";

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A Hub endpoint: scheme, host and port, and an optional path prefix (a mirror
/// served under `/hub`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl Endpoint {
    /// Reads `text`: `http` or `https`, a host, no user information, query or fragment.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let uri: Uri = text
            .trim()
            .parse()
            .map_err(|e| format!("{ENDPOINT_VARIABLE} {text:?} is not a URL: {e}"))?;
        let scheme = uri
            .scheme()
            .filter(|s| **s == Scheme::HTTP || **s == Scheme::HTTPS)
            .cloned()
            .ok_or_else(|| {
                format!("{ENDPOINT_VARIABLE} {text:?} must start with http:// or https://")
            })?;
        let authority = uri
            .authority()
            .filter(|a| !a.as_str().contains('@') && !a.host().is_empty())
            .cloned()
            .ok_or_else(|| {
                format!("{ENDPOINT_VARIABLE} {text:?} must name a host (and no user)")
            })?;
        if uri.query().is_some() || text.contains('#') {
            return Err(format!(
                "{ENDPOINT_VARIABLE} {text:?} must not carry a query or fragment"
            ));
        }
        Ok(Endpoint {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// `HF_ENDPOINT`, or the public Hub.
    pub fn from_env() -> Result<Endpoint, String> {
        match std::env::var(ENDPOINT_VARIABLE) {
            Ok(v) if !v.trim().is_empty() => Endpoint::parse(&v),
            _ => Endpoint::parse(DEFAULT_ENDPOINT),
        }
    }

    /// The URL of `path` (which starts with `/`) on this endpoint.
    pub fn url(&self, path: &str) -> Result<Uri, String> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path}", self.prefix))
            .build()
            .map_err(|e| format!("bad Hub URL for {path}: {e}"))
    }

    /// Whether `uri` is on this endpoint's scheme, host and port: the only place a
    /// redirect may lead.
    pub fn same_origin(&self, uri: &Uri) -> bool {
        uri.scheme() == Some(&self.scheme) && uri.authority() == Some(&self.authority)
    }

    /// The endpoint as text, for messages.
    pub fn display(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_urls_without_credentials() {
        let e = Endpoint::parse("https://huggingface.co").unwrap();
        assert_eq!(
            e.url("/a/b/resolve/main/config.json").unwrap().to_string(),
            "https://huggingface.co/a/b/resolve/main/config.json"
        );
        let mirror = Endpoint::parse("http://127.0.0.1:8080/hub/").unwrap();
        assert_eq!(
            mirror.url("/a/b").unwrap().to_string(),
            "http://127.0.0.1:8080/hub/a/b"
        );
        assert!(mirror.same_origin(&"http://127.0.0.1:8080/x".parse().unwrap()));
        assert!(!mirror.same_origin(&"http://127.0.0.1:8081/x".parse().unwrap()));
        assert!(!mirror.same_origin(&"https://127.0.0.1:8080/x".parse().unwrap()));
        for bad in [
            "ftp://x",
            "huggingface.co",
            "https://user:pw@huggingface.co",
            "https://huggingface.co/?a=1",
            "https://huggingface.co/#x",
            "",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
