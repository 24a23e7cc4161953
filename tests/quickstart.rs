//! The README's quick start as a new user meets it: a clean clone (of the committed
//! state, HEAD), no cargo-lambda on PATH, the distribution's python3 first on PATH.
//! `scripts/serve.sh` must set itself up, say when the API is ready without any
//! warning, answer the old service's example with a generating server's logits, and
//! `scripts/invoke.sh` must work from a new shell; stopping serve.sh stops everything
//! it started.
//!
//! The clone builds into its own target folder, kept under this workspace's `target/`
//! between runs (a build of the clone must not replace the artifacts of the test run
//! that is going on).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A PATH with the system's directories first and cargo, and without cargo-lambda.
fn new_user_path() -> String {
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let cargo_dir = cargo
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let path = format!("/usr/local/bin:/usr/bin:/bin:{cargo_dir}");
    for dir in path.split(':') {
        assert!(
            !Path::new(dir).join("cargo-lambda").exists(),
            "cargo-lambda is in {dir}; the quick start must install its own"
        );
    }
    path
}

fn command(clone: &Path, script: &str, args: &[&str]) -> Command {
    let mut c = Command::new(clone.join(script));
    c.args(args)
        .current_dir(clone)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("PATH", new_user_path())
        .env("CARGO_TARGET_DIR", root().join("target/quickstart"));
    for keep in [
        "RUSTUP_HOME",
        "CARGO_HOME",
        "PIP_INDEX_URL",
        "SSL_CERT_FILE",
    ] {
        if let Ok(v) = std::env::var(keep) {
            c.env(keep, v);
        }
    }
    c
}

fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let text = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, text.to_owned())
}

#[test]
fn quick_start_from_a_clean_clone() {
    let clone = std::env::temp_dir().join(format!("quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&clone);
    let cloned = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root())
        .arg(&clone)
        .status()
        .unwrap();
    assert!(cloned.success(), "git clone");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = clone.join("serve.log");
    let mut serve = command(
        &clone,
        "scripts/serve.sh",
        &["--invoke-port", &port.to_string()],
    )
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&log).unwrap())
    .stderr(std::fs::File::create(clone.join("serve.err")).unwrap())
    .spawn()
    .unwrap();
    let output = || {
        std::fs::read_to_string(&log).unwrap_or_default()
            + &std::fs::read_to_string(clone.join("serve.err")).unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !output().contains("Ready:") {
        assert!(
            serve.try_wait().unwrap().is_none(),
            "serve.sh exited:\n{}",
            output()
        );
        assert!(
            Instant::now() < deadline,
            "serve.sh never ready:\n{}",
            output()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let checks = std::panic::catch_unwind(|| {
        let started = output();
        assert!(started.contains("Setting up"), "{started}");
        assert!(
            !started.contains("WARN"),
            "a warning on a normal start:\n{started}"
        );
        assert!(started.contains(&format!("curl localhost:{port}/api/models/Qwen3-8B")));

        // The old service's example: a generating server's last-position logits, not
        // the 2.54 GB of every prompt position.
        let (status, body) = http(
            port,
            "POST",
            "/api/memory/inference",
            r#"{"model_name": "Qwen3-0.6B", "batch_size": 2, "sequence_length": 4096}"#,
        );
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["parameters"]["logits"], "last");
        assert!(body["memory_bytes"]["activation_memory"].as_u64().unwrap() < 1_000_000_000);

        // A new shell: nothing of serve.sh's environment, only the scripts.
        let invoked = command(
            &clone,
            "scripts/invoke.sh",
            &[
                "memory-inference",
                "tests/events/memory-inference.json",
                "--invoke-port",
                &port.to_string(),
            ],
        )
        .output()
        .unwrap();
        let text = String::from_utf8_lossy(&invoked.stdout);
        assert!(
            invoked.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&invoked.stderr)
        );
        assert!(text.contains(r#""statusCode":200"#), "{text}");
    });
    // Stop serve.sh by its PID; it stops the cargo-lambda it started.
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let stopped = serve.wait().unwrap();
    let port_closed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    let _ = std::fs::remove_dir_all(&clone);
    if let Err(e) = checks {
        std::panic::resume_unwind(e);
    }
    assert!(
        port_closed,
        "cargo lambda watch still listens after serve.sh stopped ({stopped})"
    );
}
