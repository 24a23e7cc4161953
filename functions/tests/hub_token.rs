//! The Hub token of a deployment: read from Secrets Manager (a stub of its JSON API on
//! loopback) on the first Hub read, again after a failed read, and never shown.
//! A process of its own: the token source is installed once per process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use application::endpoint::call;
use serde_json::json;
use testkit::fixtures::{event_with, status_and_json};
use testkit::hub::{shared_stand_in, GATED, GATED_TOKEN, MISSING};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "hub/token";

/// A Secrets Manager stand-in: its first `GetSecretValue` fails (the secret is not
/// there yet), every later one answers the stand-in Hub's token. Returns its URL.
fn secrets_manager() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            let calls = Arc::new(AtomicUsize::new(0));
            while let Ok((mut stream, _)) = listener.accept().await {
                let calls = calls.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    assert!(text.contains("secretsmanager.GetSecretValue"), "{text}");
                    assert!(text.contains(SECRET), "{text}");
                    let (status, body) = if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        ("400 Bad Request", json!({"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."}))
                    } else {
                        ("200 OK", json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub/token-AbCdEf", "Name": SECRET, "SecretString": format!("{GATED_TOKEN}\n"), "VersionId": "1"}))
                    };
                    let body = body.to_string();
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

#[tokio::test]
async fn the_token_is_read_once_it_can_be_and_never_shown() {
    shared_stand_in();
    std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager());
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDSTANDIN");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "stand-in");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var(functions::hub_token::SECRET_VARIABLE, SECRET);
    functions::hub_token::install();
    let gated = || event_with("memory-inference", |b| b["model_name"] = json!(GATED));
    // The secret is not readable yet: the gated repository answers 502, naming the
    // secret and not the token.
    let response = call("memory-inference", gated()).await.unwrap().unwrap();
    let (status, body) = status_and_json(&response);
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(SECRET) && error.contains("could not be read"),
        "{error}"
    );
    // The SDK's words (account, role, the service's exception) stay in the log.
    assert!(!error.contains("ResourceNotFound"), "{error}");
    // A repository the Hub does not show without a token (private, or missing) says
    // the token could not be read too, rather than only "not found".
    let missing = event_with("memory-inference", |b| b["model_name"] = json!(MISSING));
    let response = call("memory-inference", missing).await.unwrap().unwrap();
    let (status, body) = status_and_json(&response);
    assert_eq!(status, 502, "{body}");
    assert!(body["error"].as_str().unwrap().contains(SECRET), "{body}");
    // Read again on the next request, and the gated repository opens.
    let response = call("memory-inference", gated()).await.unwrap().unwrap();
    let (status, body) = status_and_json(&response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"]["source"], "hub");
    assert!(!body.to_string().contains(GATED_TOKEN));
}
