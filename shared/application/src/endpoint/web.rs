//! `GET /`: the web page over the API. One HTML document with its style sheet and
//! script inlined, all embedded in the binary when it is built (`web/`), so the page
//! needs no hosting of its own; its script calls the same origin's `/api/*`.

use lambda_http::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::http::{HeaderName, StatusCode};
use lambda_http::{Body, Error, Request, Response};

use crate::http::{respond, Route};

/// `GET /`.
pub const ROUTE: Route = Route::new("GET", "/", "web");

/// The page, as served.
pub const PAGE: &str = concat!(
    include_str!("../../web/index.head.html"),
    include_str!("../../web/style.css"),
    include_str!("../../web/index.body.html"),
    include_str!("../../web/app.js"),
    "</script>\n</body>\n</html>\n"
);

/// What the page may load and run: its own inline style and script, and requests to
/// its own origin. Everything the API sends is put on the page as text, and no other
/// site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page as a response.
pub fn page() -> Response<Body> {
    let mut response = Response::new(Body::Text(PAGE.to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// The Lambda handler.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&ROUTE, &event, |_| Ok(page())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::fixtures::{check_response, event, expected_for};

    #[tokio::test]
    async fn serves_the_page_with_its_assets_inline() {
        let response = handler(event("web")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let Body::Text(html) = response.body() else {
            panic!("a text body")
        };
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<style>") && html.contains("<script>"));
        assert!(html.trim_end().ends_with("</html>"));
        // Nothing from another origin: every URL in the page is relative.
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains(r#"fetch("/api/"#) || html.contains(r#"getJson("/api/"#));
        assert!(response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self'"));
    }

    #[tokio::test]
    async fn every_fixture_answers_as_the_table_says() {
        for expected in expected_for(&ROUTE.key()) {
            check_response(&expected, &handler(event(expected.fixture)).await.unwrap());
        }
    }
}
