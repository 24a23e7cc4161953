//! End to end over real HTTP: starts `cargo lambda watch` on a free port (with the
//! router of `Cargo.toml`, as the README's start command does), walks every route with
//! the old service's examples and the error cases, and stops the server it started.
//!
//! Needs `cargo-lambda` on the PATH (`scripts/test.sh` installs it when missing).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::fixtures::{check, raw_event, EXPECTED};

/// How long the first request may take: `cargo lambda watch` compiles each function on
/// its first invocation.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(900);

/// Status, headers (lowercased names) and body of one HTTP response.
type Reply = (u16, Vec<(String, String)>, String);

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start() -> Server {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("cargo-lambda-watch-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        // The cargo-lambda binary itself (not `cargo lambda`), so that the process this
        // test stops is the one that supervises the functions.
        let mut command = Command::new("cargo-lambda");
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(&root)
            .env("RUST_LOG", "info")
            // Repo ids the registry does not hold go to the stand-in Hub of this process.
            .env("HF_ENDPOINT", testkit::hub::shared_stand_in())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("could not start `cargo lambda watch` ({e}); install cargo-lambda: pip install cargo-lambda")
        });
        let server = Server { child, port, log };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen; log: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends one request.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(FIRST_REQUEST_TIMEOUT))
            .unwrap();
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_response(&raw).unwrap_or_else(|| {
            panic!(
                "bad HTTP response to {method} {path}; log: {}",
                self.log_text()
            )
        })
    }

    fn json(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let text = body.map(|b| b.to_string());
        let (status, _, body) = self.request(method, path, text.as_deref());
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {body}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM lets cargo-lambda stop the functions it started (each runs in its own
        // session); SIGKILL only if it has not exited after 30 seconds.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some((status, headers, String::from_utf8(body).ok()?))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A named check against the running server.
type Check = fn(&Server);

/// The checks, each named so that a failure says which behaviour broke. They share one
/// server (starting `cargo lambda watch` and its functions costs seconds each time).
const CHECKS: &[(&str, Check)] = &[
    ("every_fixture_over_http", every_fixture_over_http),
    ("old_service_examples", old_service_examples),
    ("models_by_name_and_repo_id", models_by_name_and_repo_id),
    ("hub_models_over_http", hub_models_over_http),
    ("training_and_compare", training_and_compare),
    ("errors_name_their_field", errors_name_their_field),
    ("other_methods_are_405", other_methods_are_405),
    (
        "one_json_log_line_per_request",
        one_json_log_line_per_request,
    ),
];

/// Every event fixture, sent as the HTTP request it describes, answers as the shared
/// table says (the same table the in-process fixture tests use).
fn every_fixture_over_http(server: &Server) {
    for expected in EXPECTED {
        let raw = raw_event(expected.fixture);
        let method = raw["requestContext"]["http"]["method"].as_str().unwrap();
        let path = match raw["rawQueryString"].as_str() {
            Some(q) if !q.is_empty() => format!("{}?{q}", raw["rawPath"].as_str().unwrap()),
            _ => raw["rawPath"].as_str().unwrap().to_owned(),
        };
        let (status, headers, body) = server.request(method, &path, raw["body"].as_str());
        check(expected, status, &headers, &body);
    }
}

fn old_service_examples(server: &Server) {
    let (status, body) = server.json(
        "POST",
        "/api/memory/inference",
        Some(json!({"model_name": "Qwen3-0.6B", "batch_size": 2, "sequence_length": 4096})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["memory_bytes"]["model_weights"], 1_192_099_840u64);
    assert!(body["memory_requirements"]["inference_memory"]
        .as_str()
        .unwrap()
        .ends_with(" GB"));
    let (status, body) = server.json(
        "POST",
        "/api/memory/inference",
        Some(json!({"model_size": 7, "precision": "float16", "batch_size": 1, "sequence_length": 2048,
                    "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["memory_bytes"]["model_weights"], 14_000_000_000u64);
}

fn models_by_name_and_repo_id(server: &Server) {
    let (status, body) = server.json("GET", "/api/models", None);
    assert_eq!(status, 200);
    assert_eq!(body["count"], body["models"].as_array().unwrap().len());
    assert!(body["models"]
        .as_array()
        .unwrap()
        .contains(&json!("Qwen3-8B")));
    let (status, body) = server.json("GET", "/api/models/Qwen3-8B", None);
    assert_eq!(status, 200);
    assert_eq!(body["parameters"]["total"], 8_190_735_360u64);
    let (status, body) = server.json("GET", "/api/models/qwen%2Fqwen3-0.6b", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_name"], "Qwen3-0.6B");
    // The slash unencoded answers the same (the router's greedy parameter).
    let (status, body) = server.json("GET", "/api/models/qwen/qwen3-0.6b", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_name"], "Qwen3-0.6B");
    let (status, _) = server.json("POST", "/api/models/qwen/qwen3-0.6b", None);
    assert_eq!(status, 405);
}

/// A repo id the registry does not hold, read from the (stand-in) Hub through the
/// deployed routes: the body's model_name, and the greedy path of `GET /api/models`.
fn hub_models_over_http(server: &Server) {
    use testkit::hub::{COMMIT, DENSE, GATED};
    let (status, body) = server.json(
        "POST",
        "/api/memory/inference",
        Some(json!({"model_name": DENSE, "batch_size": 1, "sequence_length": 4096})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"]["source"], "hub");
    assert_eq!(body["model"]["hub"]["commit"], COMMIT);
    assert_eq!(body["model"]["parameters"]["total"], 7_615_616_512u64);
    let (status, body) = server.json("GET", &format!("/api/models/{DENSE}"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hub"]["checkpoint"]["weights"], 7_615_616_512u64);
    let (status, body) = server.json(
        "POST",
        "/api/memory/inference",
        Some(json!({"model_name": GATED, "batch_size": 1, "sequence_length": 4096})),
    );
    assert_eq!(status, 403, "{body}");
}

fn training_and_compare(server: &Server) {
    let (status, body) = server.json(
        "POST",
        "/api/memory/training",
        Some(
            json!({"model_name": "Llama-3.1-8B", "batch_size": 1, "sequence_length": 2048,
                    "method": "qlora", "gradient_checkpointing": true}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["memory_bytes"]["training_memory"].as_u64().unwrap() > 0);
    let (status, body) = server.json(
        "POST",
        "/api/memory/compare",
        Some(json!({"calculation_type": "inference", "configurations": [
            {"model_name": "Qwen3-8B", "batch_size": 1, "sequence_length": 1024},
            {"model_name": "Qwen3-8B", "precision": "int4", "quantization": "awq", "batch_size": 1, "sequence_length": 1024}]})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["lowest"], 1);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
}

fn errors_name_their_field(server: &Server) {
    let (status, body) = server.json(
        "POST",
        "/api/memory/compare",
        Some(json!({"calculation_type": "training", "configurations": [
            {"model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 128},
            {"model_name": "Qwen3-0.6B", "batch_size": 0, "sequence_length": 128}]})),
    );
    assert_eq!(
        (status, body["field"].clone()),
        (400, json!("configurations[1].batch_size"))
    );
}

fn other_methods_are_405(server: &Server) {
    let (status, headers, _) = server.request("DELETE", "/api/models", None);
    assert_eq!(status, 405);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "allow" && v == "GET, HEAD"),
        "{headers:?}"
    );
    let (status, _, _) = server.request("GET", "/api/memory/inference", None);
    assert_eq!(status, 405);
}

fn one_json_log_line_per_request(server: &Server) {
    let (status, _, _) = server.request(
        "POST",
        "/api/memory/compare",
        Some(r#"{"calculation_type": "inference", "configurations": [{"model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 8}]}"#),
    );
    assert_eq!(status, 200);
    let log = server.log_text();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "request" && v["route"] == "POST /api/memory/compare")
        .unwrap_or_else(|| panic!("no JSON request log line for the compare route in:\n{log}"));
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some());
}

#[test]
fn the_api_over_http() {
    let server = Server::start();
    // Warm-up: the first request to each function starts it.
    let (status, body) = server.json("GET", "/health", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "healthy");
    let failed: Vec<String> = CHECKS
        .iter()
        .filter_map(|(name, check)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&server)))
                .err()
                .map(|_| (*name).to_owned())
        })
        .collect();
    drop(server);
    assert!(failed.is_empty(), "failed checks: {}", failed.join(", "));
}
