//! The cost planner end to end against a real S3-protocol server on loopback
//! (`s3s-fs`, which `scripts/test.sh` builds into `.venv/bin`), through the SDK's
//! endpoint override: the report is written and read back, a retry of the same
//! scheduled time leaves exactly the same keys, and a `prices.json` in the bucket
//! changes the costs. Faults (errors, stalls, a missing bucket, a failed second write,
//! runs at once) go through the fault-injecting proxy of `support/faults.rs`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};
use tokio::sync::Notify;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use functions::{handle, handle_text, Failure, ReportStore, Timeouts, PRICES_KEY};
use planner::Catalog;
use serde_json::{json, Value};

const BUCKET: &str = "llm-memory-reports";
const ACCESS_KEY: &str = "test-access-key";
const SECRET_KEY: &str = "test-secret-key";

/// The s3s-fs binary: `S3S_FS`, else the project's `.venv/bin/s3s-fs`.
fn server_binary() -> PathBuf {
    std::env::var_os("S3S_FS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/s3s-fs"))
}

/// A running s3s-fs over a fresh folder; stopped (by its own PID) when dropped.
struct Server {
    child: Child,
    port: u16,
    _root: TempDir,
}

impl Server {
    fn start() -> Server {
        let root = TempDir::new();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = server_binary();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start {} ({e}); scripts/test.sh builds it (or set S3S_FS)",
                    binary.display()
                )
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            _root: root,
        }
    }

    fn client(&self) -> Client {
        client_at(self.port, Timeouts::LAMBDA)
    }
}

/// A client of the S3 server (or the proxy) on `port`, with `timeouts`.
fn client_at(port: u16, timeouts: Timeouts) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .timeout_config(timeouts.config())
        .build();
    Client::from_conf(config)
}

/// Timeouts of whole seconds: to connect, for each read and attempt, for a whole call.
fn timeouts(connect: u64, read_and_attempt: u64, operation: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(connect),
        read: Duration::from_secs(read_and_attempt),
        attempt: Duration::from_secs(read_and_attempt),
        operation: Duration::from_secs(operation),
    }
}

/// A store of `bucket` whose S3 calls go through `proxy`.
fn store_via(proxy: &Proxy, bucket: &str, timeouts: Timeouts) -> ReportStore {
    ReportStore::new(client_at(proxy.port, timeouts), bucket, timeouts)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("s3s-fs-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The scheduler event fixture (`tests/events/scheduled/cost-planner.json`).
fn event() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/events/scheduled/cost-planner.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn keys(client: &Client) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

async fn object(client: &Client, key: &str) -> String {
    let o = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}

/// The fault-injecting proxy: HTTP/1.1 between the SDK and the S3 server, one request
/// per connection (it asks the server to close after each answer, so every request of
/// the SDK comes through a fresh connection and is seen). A request whose method and
/// key match a rule gets the rule's fault instead of the server's answer.
mod proxy {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What a matched request gets.
    #[derive(Clone, Debug)]
    pub enum Fault {
        /// An S3 error answer with this status (500, 503...).
        Status(u16),
        /// S3's answer for a bucket that does not exist (404 `NoSuchBucket`).
        NoSuchBucket,
        /// No answer at all: the connection stays open and silent.
        Stall,
        /// A 200 answer's head and the start of its body, then silence.
        StallBody,
        /// The first matching request notifies `reached`, waits until `release` is
        /// notified, then goes through; the rule is then spent.
        Hold {
            reached: Arc<tokio::sync::Notify>,
            release: Arc<tokio::sync::Notify>,
        },
    }

    /// A fault for requests of `method` whose path ends with `suffix`.
    #[derive(Clone, Debug)]
    struct Rule {
        method: &'static str,
        suffix: String,
        fault: Fault,
    }

    /// A running proxy in front of the S3 server on `upstream`.
    pub struct Proxy {
        pub port: u16,
        rules: Arc<Mutex<Vec<Rule>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Proxy {
        pub async fn start(upstream: u16) -> Proxy {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
            let shared = Arc::clone(&rules);
            let task = tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let rules = Arc::clone(&shared);
                    tokio::spawn(async move { serve(client, upstream, rules).await });
                }
            });
            Proxy { port, rules, task }
        }

        /// From now on, requests of `method` for a key ending with `suffix` get `fault`.
        pub fn inject(&self, method: &'static str, suffix: &str, fault: Fault) {
            self.rules.lock().unwrap().push(Rule {
                method,
                suffix: suffix.to_owned(),
                fault,
            });
        }

        /// Every request goes through again.
        pub fn heal(&self) {
            self.rules.lock().unwrap().clear();
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Position of the blank line ending a request's head, if it has arrived.
    fn head_end(buf: &[u8]) -> Option<usize> {
        buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
    }

    /// Reads one request (head and body, by Content-Length or chunked) from `client`.
    async fn read_request(client: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            let n = client.read(&mut chunk).await.ok()?;
            if n == 0 || buf.len() > 1 << 20 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let mut body = buf[end..].to_vec();
        let complete = |body: &[u8]| match header("content-length") {
            Some(n) => body.len() >= n.parse::<usize>().unwrap_or(0),
            None if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) => {
                body.ends_with(b"0\r\n\r\n")
            }
            None => true,
        };
        while !complete(&body) {
            let n = client.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some((head, body))
    }

    async fn serve(mut client: tokio::net::TcpStream, upstream: u16, rules: Arc<Mutex<Vec<Rule>>>) {
        let Some((head, body)) = read_request(&mut client).await else {
            return;
        };
        let mut first = head.lines().next().unwrap_or("").split(' ');
        let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let fault = {
            let mut rules = rules.lock().unwrap();
            let at = rules
                .iter()
                .position(|r| r.method == method && path.ends_with(&r.suffix));
            let fault = at.map(|i| rules[i].fault.clone());
            if let (Some(i), Some(Fault::Hold { .. })) = (at, &fault) {
                rules.remove(i);
            }
            fault
        };
        if let Some(Fault::Hold { reached, release }) = &fault {
            reached.notify_one();
            release.notified().await;
        }
        match fault {
            Some(Fault::Stall) => {
                // Hold the connection, silent, until the client gives up.
                let mut sink = [0u8; 1024];
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            }
            Some(Fault::StallBody) => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial";
                let _ = client.write_all(head.as_bytes()).await;
                let mut sink = [0u8; 1024];
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            }
            Some(fault @ (Fault::Status(_) | Fault::NoSuchBucket)) => {
                let (code, error) = match fault {
                    Fault::Status(code) => (code, "InternalError"),
                    _ => (404, "NoSuchBucket"),
                };
                let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{error}</Code><Message>injected by the test proxy</Message></Error>");
                let answer = format!(
                    "HTTP/1.1 {code} Injected\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                let _ = client.write_all(answer.as_bytes()).await;
            }
            None | Some(Fault::Hold { .. }) => {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                // The same request, asking the server to close after its answer (the
                // connection header is not among the signed ones).
                let kept: Vec<&str> = head
                    .trim_end_matches("\r\n")
                    .split("\r\n")
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .collect();
                let head = format!("{}\r\nconnection: close\r\n\r\n", kept.join("\r\n"));
                if server.write_all(head.as_bytes()).await.is_err()
                    || server.write_all(&body).await.is_err()
                {
                    return;
                }
                let mut answer = Vec::new();
                let _ = server.read_to_end(&mut answer).await;
                let _ = client.write_all(&answer).await;
            }
        }
        let _ = client.shutdown().await;
    }
}

use proxy::{Fault, Proxy};

/// A bucket on a fresh server, with a client straight to it.
async fn bucket() -> (Server, Client) {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    (server, client)
}

/// The fixture event at another scheduled time.
fn event_at(time: &str) -> Value {
    let mut e = event();
    e["scheduled_time"] = json!(time);
    e
}

/// The run keys of the fixture event at `time` (`2026-11-26T060000Z`).
fn run_keys(stamp: &str) -> (String, String) {
    (
        format!("reports/daily/{stamp}.json"),
        format!("reports/daily/{stamp}.md"),
    )
}

const LATEST: &str = "reports/daily/latest.json";

#[tokio::test]
async fn reports_land_in_s3_once_per_scheduled_time_with_the_buckets_prices() {
    let (server, client) = bucket().await;
    // The store as the function builds it in Lambda: from the environment, here
    // pointed at the local server.
    for (key, value) in [
        ("REPORT_BUCKET", BUCKET.to_owned()),
        (
            "AWS_ENDPOINT_URL_S3",
            format!("http://127.0.0.1:{}", server.port),
        ),
        ("S3_FORCE_PATH_STYLE", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ] {
        std::env::set_var(key, value);
    }
    let store = ReportStore::from_env().await.expect("REPORT_BUCKET is set");
    assert_eq!(store.bucket(), BUCKET);
    let event = event();
    assert_eq!(event["scheduled_time"], "2026-11-26T06:00:00Z");
    let name = event["plan"]["name"].as_str().unwrap();
    let (json_key, md_key) = run_keys("2026-11-26T060000Z");
    let all = |extra: &[&str]| {
        let mut v: Vec<String> = [json_key.as_str(), md_key.as_str(), LATEST]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        v.sort();
        v
    };

    // Written and read back, the pointer last.
    let answer = handle(event.clone(), Some(&store)).await.unwrap();
    assert_eq!(answer["report"], format!("s3://{BUCKET}/{json_key}"));
    assert_eq!(keys(&client).await, all(&[]));
    let report: Value = serde_json::from_str(&object(&client, &json_key).await).unwrap();
    assert_eq!(report["prices"]["source"], "embedded catalog");
    let workloads = report["workloads"].as_array().unwrap();
    assert_eq!(
        workloads.len(),
        event["plan"]["workloads"].as_array().unwrap().len()
    );
    let markdown = object(&client, &md_key).await;
    assert!(
        markdown.starts_with(&format!("# Cost plan `{name}`, 2026-11-26 06:00:00 UTC")),
        "{markdown}"
    );
    let latest: Value = serde_json::from_str(&object(&client, LATEST).await).unwrap();
    assert_eq!(
        (&latest["report"], &latest["summary"], &latest["failed"]),
        (&json!(json_key), &json!(md_key), &json!(0))
    );

    // A retry of the same scheduled time overwrites: the same keys.
    handle(event.clone(), Some(&store)).await.unwrap();
    assert_eq!(keys(&client).await, all(&[]));

    // prices.json in the bucket replaces the catalog's prices of the instances it names.
    let chat = |r: &Value| r["workloads"][0]["plan"]["cheapest"].clone();
    let before = chat(&report);
    let instance = before["instance"].as_str().unwrap();
    let hourly = before["usd_per_hour"].as_f64().unwrap();
    let prices = json!({
        "prices_as_of": "2026-11-01",
        "region": "us-west-2",
        "instances": [{"instance": instance, "on_demand_usd_per_hour": hourly / 2.0}],
    });
    put(&client, PRICES_KEY, prices.to_string()).await;
    handle(event.clone(), Some(&store)).await.unwrap();
    let report: Value = serde_json::from_str(&object(&client, &json_key).await).unwrap();
    // It prices one instance type: the others keep the catalog's date, and the report
    // says which prices are whose, with each source's date and region.
    let catalog = Catalog::embedded();
    let (as_of, others) = (&catalog.prices_as_of, catalog.instances.len() - 1);
    assert_eq!(report["prices"]["as_of"], as_of.as_str());
    assert_eq!(
        report["prices"]["source"],
        format!("s3://{BUCKET}/{PRICES_KEY} (as of 2026-11-01) for 1 of the instance types; embedded catalog (as of {as_of}) for the other {others}")
    );
    let sources = &report["prices"]["sources"];
    assert_eq!(
        sources[0],
        json!({"source": format!("s3://{BUCKET}/{PRICES_KEY}"), "as_of": "2026-11-01",
               "region": "us-west-2", "instances": [instance]})
    );
    assert_eq!(sources[1]["source"], "embedded catalog");
    assert_eq!(sources[1]["instances"].as_array().unwrap().len(), others);
    let markdown = object(&client, &md_key).await;
    assert!(
        markdown.contains(&format!(
            "- s3\\://{BUCKET}/{PRICES_KEY}: 1 instance types, us-west-2, as of 2026-11-01"
        )),
        "{markdown}"
    );
    let after = chat(&report);
    assert_eq!(after["instance"], instance);
    assert_eq!(after["usd_per_hour"].as_f64(), Some(hourly / 2.0));
    assert!(report["total_usd_per_month"].as_f64() < Some(answer_total(&event).await));
    assert_eq!(keys(&client).await, all(&[PRICES_KEY]));

    // A broken prices.json fails the run loudly instead of planning with stale prices.
    put(&client, PRICES_KEY, "{\"region\": 1}".into()).await;
    let err = handle(event.clone(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::BadPrices);
    assert!(err.message.contains("prices.json"), "{err}");
    // So does one that names an instance twice, in another case.
    let twice = json!({
        "prices_as_of": "2026-11-01", "region": "us-east-1",
        "instances": [{"instance": instance, "on_demand_usd_per_hour": 1},
                      {"instance": instance.to_uppercase(), "on_demand_usd_per_hour": 2}],
    });
    put(&client, PRICES_KEY, twice.to_string()).await;
    let err = handle(event, Some(&store)).await.unwrap_err();
    assert!(err.message.contains("instances[1].instance"), "{err}");
}

async fn put(client: &Client, key: &str, text: String) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(text.into_bytes()))
        .send()
        .await
        .unwrap();
}

/// The run's total with the catalog's own prices (no bucket).
async fn answer_total(event: &Value) -> f64 {
    let local = handle(event.clone(), None).await.unwrap();
    local["report"]["total_usd_per_month"].as_f64().unwrap()
}

#[tokio::test]
async fn a_failed_second_write_leaves_no_pointer_and_the_retry_completes_the_run() {
    let (server, client) = bucket().await;
    let proxy = Proxy::start(server.port).await;
    let store = store_via(&proxy, BUCKET, Timeouts::LAMBDA);
    let (json_key, md_key) = run_keys("2026-11-26T060000Z");
    proxy.inject("PUT", ".md", Fault::Status(500));
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::Storage);
    assert!(err.message.contains(&md_key), "{err}");
    // The first file is there, but no pointer: a reader following latest.json sees
    // nothing of this run yet.
    assert_eq!(keys(&client).await, vec![json_key.clone()]);
    // The retry (Lambda's, of the same event) completes it.
    proxy.heal();
    handle(event(), Some(&store)).await.unwrap();
    assert_eq!(
        keys(&client).await,
        vec![json_key.clone(), md_key.clone(), LATEST.to_owned()]
    );
}

#[tokio::test]
async fn server_errors_and_a_missing_bucket_fail_the_run_naming_the_key() {
    let (server, client) = bucket().await;
    let proxy = Proxy::start(server.port).await;
    let store = store_via(&proxy, BUCKET, Timeouts::LAMBDA);
    proxy.inject("GET", PRICES_KEY, Fault::Status(503));
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::Storage);
    assert!(
        err.message
            .starts_with(&format!("reading s3://{BUCKET}/{PRICES_KEY}")),
        "{err}"
    );
    assert!(keys(&client).await.is_empty(), "nothing written");
    // The pointer's own read failing stops the run before it moves the pointer.
    proxy.heal();
    proxy.inject("GET", "latest.json", Fault::Status(500));
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert!(err.message.contains(LATEST), "{err}");
    proxy.heal();
    // A bucket that does not exist (S3's answer: s3s-fs makes its folders on demand).
    proxy.inject("GET", "", Fault::NoSuchBucket);
    proxy.inject("PUT", "", Fault::NoSuchBucket);
    let absent = store_via(&proxy, "no-such-bucket", Timeouts::LAMBDA);
    let err = handle(event(), Some(&absent)).await.unwrap_err();
    assert_eq!(err.failure, Failure::Storage);
    assert!(
        err.message
            .contains(&format!("s3://no-such-bucket/{PRICES_KEY}"))
            && err.message.contains("NoSuchBucket"),
        "{err}"
    );
}

#[tokio::test]
async fn a_stalled_read_fails_within_the_timeout_naming_the_key() {
    let (server, client) = bucket().await;
    let proxy = Proxy::start(server.port).await;
    let quick = timeouts(1, 1, 2);
    let store = store_via(&proxy, BUCKET, quick);
    proxy.inject("GET", PRICES_KEY, Fault::Stall);
    let started = Instant::now();
    let err = handle(event(), Some(&store)).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.failure, Failure::Storage);
    assert!(err.message.contains(PRICES_KEY), "{err}");
    assert!(
        took < quick.operation + Duration::from_secs(2),
        "{took:?}: {err}"
    );
    // A stalled write too.
    proxy.heal();
    proxy.inject("PUT", ".json", Fault::Stall);
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert!(err.message.contains("2026-11-26T060000Z.json"), "{err}");
    assert!(keys(&client).await.is_empty());
}

#[tokio::test]
async fn runs_of_two_times_never_overwrite_each_other_and_the_pointer_moves_forward() {
    let (server, client) = bucket().await;
    let proxy = Proxy::start(server.port).await;
    // Long enough that the SDK never retries the held request on its own.
    let patient = timeouts(5, 120, 120);
    let store = store_via(&proxy, BUCKET, patient);
    let (morning, evening) = (
        event_at("2026-11-26T06:00:00Z"),
        event_at("2026-11-26T18:00:00Z"),
    );
    // Two runs at once, interleaved at the worst moment: the morning run has read the
    // pointer (there is none) and its write is held while the evening run completes.
    // (Interleaved by the proxy rather than raced: s3s-fs checks a write's condition
    // before it writes, not atomically as S3 does, so a race would test s3s-fs.)
    // Released, the morning's write must be refused (the pointer is no longer absent),
    // and the morning run, reading it again, must leave it at the evening.
    let (reached, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    proxy.inject(
        "PUT",
        "latest.json",
        Fault::Hold {
            reached: Arc::clone(&reached),
            release: Arc::clone(&release),
        },
    );
    let evening_run = async {
        reached.notified().await;
        let answer = handle(evening.clone(), Some(&store)).await;
        release.notify_one();
        answer
    };
    let (m, e) = tokio::join!(handle(morning.clone(), Some(&store)), evening_run);
    let (m, e) = (m.unwrap(), e.unwrap());
    assert_eq!(e["latest_moved"], true);
    assert_eq!(m["latest_moved"], false, "the held write went backwards");
    let (m_json, m_md) = run_keys("2026-11-26T060000Z");
    let (e_json, e_md) = run_keys("2026-11-26T180000Z");
    assert_eq!(
        keys(&client).await,
        vec![
            m_json.clone(),
            m_md.clone(),
            e_json.clone(),
            e_md,
            LATEST.to_owned()
        ]
    );
    // Each run's two files are its own.
    for (json_key, time) in [
        (&m_json, "2026-11-26T06:00:00Z"),
        (&e_json, "2026-11-26T18:00:00Z"),
    ] {
        let r: Value = serde_json::from_str(&object(&client, json_key).await).unwrap();
        assert_eq!(r["scheduled_time"], time);
    }
    let latest: Value = serde_json::from_str(&object(&client, LATEST).await).unwrap();
    assert_eq!(latest["scheduled_time"], "2026-11-26T18:00:00Z");
    // A late retry of the morning's run rewrites its own files, not the pointer.
    let answer = handle(morning, Some(&store)).await.unwrap();
    assert_eq!(answer["latest_moved"], false);
    let latest: Value = serde_json::from_str(&object(&client, LATEST).await).unwrap();
    assert_eq!(latest["scheduled_time"], "2026-11-26T18:00:00Z");
    assert!(object(&client, &m_md).await.contains("06:00:00 UTC"));
}

#[tokio::test]
async fn a_stalled_body_and_the_runs_deadline_end_calls_naming_the_key() {
    let (server, client) = bucket().await;
    let proxy = Proxy::start(server.port).await;
    let quick = timeouts(1, 60, 2);
    // Headers and part of a body, then silence: the store's own bound ends it.
    proxy.inject("GET", PRICES_KEY, Fault::StallBody);
    let store = store_via(&proxy, BUCKET, quick);
    let started = Instant::now();
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::Storage);
    assert!(err.message.contains(PRICES_KEY), "{err}");
    assert!(err.message.contains("operation timeout"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // However many calls would stall, a run ends them at its deadline.
    proxy.heal();
    proxy.inject("PUT", "", Fault::Stall);
    let lambda = store_via(&proxy, BUCKET, Timeouts::LAMBDA);
    let started = Instant::now();
    let err = handle(
        event(),
        Some(&lambda.until(started + Duration::from_secs(3))),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(err.message.contains("the run's deadline"), "{err}");
    assert!(err.message.contains("2026-11-26T060000Z.json"), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(keys(&client).await.is_empty());
}

#[tokio::test]
async fn a_price_list_the_run_cannot_read_is_bad_prices() {
    let (server, client) = bucket().await;
    let store = ReportStore::new(server.client(), BUCKET, Timeouts::LAMBDA);
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(1 << 20));
    put(&client, PRICES_KEY, huge).await;
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::BadPrices, "{err}");
    assert!(err.message.contains("larger than"), "{err}");
    client
        .put_object()
        .bucket(BUCKET)
        .key(PRICES_KEY)
        .body(ByteStream::from(vec![0xff, 0xfe, 0x00]))
        .send()
        .await
        .unwrap();
    let err = handle(event(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::BadPrices, "{err}");
    assert!(err.message.contains("not UTF-8"), "{err}");
}

#[tokio::test]
async fn a_workload_that_fails_fails_the_run_after_its_report_is_written() {
    let (server, client) = bucket().await;
    let store = ReportStore::new(server.client(), BUCKET, Timeouts::LAMBDA);
    let mut e = event();
    e["plan"]["workloads"][1]["batch_size"] = json!(0);
    let err = handle(e.clone(), Some(&store)).await.unwrap_err();
    assert_eq!(err.failure, Failure::WorkloadsFailed);
    let (json_key, md_key) = run_keys("2026-11-26T060000Z");
    assert!(err.message.starts_with("1 of "), "{err}");
    assert!(err.message.contains("'llama-70b-8k'"), "{err}");
    assert!(err.message.contains(&json_key), "{err}");
    assert_eq!(
        keys(&client).await,
        vec![json_key.clone(), md_key, LATEST.to_owned()]
    );
    let report: Value = serde_json::from_str(&object(&client, &json_key).await).unwrap();
    assert_eq!(report["failed"], 1);
    assert_eq!(report["workloads"][0]["ok"], true);
    // Without a bucket it fails the same way.
    let local = handle(e, None).await.unwrap_err();
    assert_eq!(local.failure, Failure::WorkloadsFailed);
}

#[tokio::test]
async fn bad_events_fail_as_bad_events() {
    let err = handle(event_at("2026-13-45T99:99:99Z"), None)
        .await
        .unwrap_err();
    assert_eq!(err.failure, Failure::BadEvent);
    assert!(err.message.starts_with("scheduled_time:"), "{err}");
    // The event's text is read strictly: a key given twice is named, not resolved.
    let text =
        event()
            .to_string()
            .replacen("\"batch_size\":32", "\"batch_size\":32,\"batch_size\":1", 1);
    assert!(text.contains("\"batch_size\":1"), "{text}");
    let err = handle_text(&text, None).await.unwrap_err();
    assert_eq!(err.failure, Failure::BadEvent);
    assert!(
        err.message
            .starts_with("plan.workloads[0].batch_size: is given twice"),
        "{err}"
    );
    let err = handle_text("{\"plan\": ", None).await.unwrap_err();
    assert_eq!(err.failure, Failure::BadEvent);
    // The same text without the duplicate runs.
    handle_text(&event().to_string(), None).await.unwrap();
}

#[tokio::test]
async fn without_a_bucket_the_report_is_returned() {
    let answer = handle(event(), None).await.unwrap();
    assert!(answer["report"]["workloads"].is_array());
    assert!(answer["markdown"]
        .as_str()
        .unwrap()
        .contains("| **total** |"));
}
