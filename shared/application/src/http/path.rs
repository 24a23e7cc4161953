//! The `{model_name}` path parameter of `GET /api/models/{model_name}`.

use lambda_http::{Request, RequestExt};

/// The `{model_name}` path parameter, percent-decoded until nothing is left to decode.
/// API Gateway hands the function a decoded parameter, `cargo lambda watch` the raw
/// one: decoding to a fixed point answers the same in both (model names contain no
/// `%`), so `Qwen%2FQwen3-8B` and `Qwen%252FQwen3-8B` both name `Qwen/Qwen3-8B`
/// everywhere. Falls back to the last path segment.
pub fn path_model_name(request: &Request) -> String {
    let mut name = request
        .path_parameters_ref()
        .and_then(|p| p.first("model_name").map(str::to_owned))
        .unwrap_or_else(|| {
            let path = request.raw_http_path();
            path.strip_prefix("/api/models/").unwrap_or(path).to_owned()
        });
    // Each pass that changes the text turns a three-byte escape into one character
    // (at most three bytes, the replacement character for a stray byte): the text
    // never grows, and a pass that changes nothing ends the loop.
    loop {
        let decoded = percent_decode(&name);
        if decoded == name {
            return name;
        }
        name = decoded;
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("Qwen%2FQwen3-8B"), "Qwen/Qwen3-8B");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
