//! The cost planner end to end against a real S3-protocol server on loopback
//! (`s3s-fs`, which `scripts/test.sh` builds into `.venv/bin`), through the SDK's
//! endpoint override: the report is written and read back, a retry of the same
//! scheduled time leaves exactly the same keys, and a `prices.json` in the bucket
//! changes the costs.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use functions::{handle, ReportStore, PRICES_KEY};
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
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{}", self.port))
            .force_path_style(true)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        Client::from_conf(config)
    }
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

#[tokio::test]
async fn reports_land_in_s3_once_per_scheduled_time_with_the_buckets_prices() {
    let server = Server::start();
    let client = server.client();
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
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
    let date = &event["scheduled_time"].as_str().unwrap()[..10];
    let name = event["plan"]["name"].as_str().unwrap();
    let (json_key, md_key) = (
        format!("reports/{date}/{name}.json"),
        format!("reports/{date}/{name}.md"),
    );

    // Written and read back.
    let answer = handle(event.clone(), Some(&store)).await.unwrap();
    assert_eq!(answer["report"], format!("s3://{BUCKET}/{json_key}"));
    assert_eq!(keys(&client).await, vec![json_key.clone(), md_key.clone()]);
    let report: Value = serde_json::from_str(&object(&client, &json_key).await).unwrap();
    assert_eq!(report["prices"]["source"], "embedded catalog");
    let workloads = report["workloads"].as_array().unwrap();
    assert_eq!(
        workloads.len(),
        event["plan"]["workloads"].as_array().unwrap().len()
    );
    let markdown = object(&client, &md_key).await;
    assert!(
        markdown.starts_with(&format!("# Cost plan `{name}`, {date}")),
        "{markdown}"
    );

    // A retry of the same scheduled time overwrites: the same two keys.
    handle(event.clone(), Some(&store)).await.unwrap();
    assert_eq!(keys(&client).await, vec![json_key.clone(), md_key.clone()]);

    // prices.json in the bucket replaces the catalog's prices of the instances it names.
    let chat = |r: &Value| r["workloads"][0]["plan"]["cheapest"].clone();
    let before = chat(&report);
    let instance = before["instance"].as_str().unwrap();
    let hourly = before["usd_per_hour"].as_f64().unwrap();
    let prices = json!({
        "prices_as_of": "2026-11-01",
        "region": "us-east-1",
        "instances": [{"instance": instance, "on_demand_usd_per_hour": hourly / 2.0}],
    });
    client
        .put_object()
        .bucket(BUCKET)
        .key(PRICES_KEY)
        .body(ByteStream::from(prices.to_string().into_bytes()))
        .send()
        .await
        .unwrap();
    handle(event.clone(), Some(&store)).await.unwrap();
    let report: Value = serde_json::from_str(&object(&client, &json_key).await).unwrap();
    // It prices one instance type: the others keep the catalog's date, and the report
    // says which prices are whose.
    let catalog = Catalog::embedded();
    let (as_of, others) = (&catalog.prices_as_of, catalog.instances.len() - 1);
    assert_eq!(report["prices"]["as_of"], as_of.as_str());
    assert_eq!(
        report["prices"]["source"],
        format!("s3://{BUCKET}/{PRICES_KEY} (as of 2026-11-01) for 1 of the instance types; embedded catalog (as of {as_of}) for the other {others}")
    );
    let after = chat(&report);
    assert_eq!(after["instance"], instance);
    assert_eq!(after["usd_per_hour"].as_f64(), Some(hourly / 2.0));
    assert!(report["total_usd_per_month"].as_f64() < Some(answer_total(&event, &store).await));
    assert_eq!(
        keys(&client).await,
        vec![PRICES_KEY.to_owned(), json_key, md_key]
    );

    // A broken prices.json fails the run loudly instead of planning with stale prices.
    client
        .put_object()
        .bucket(BUCKET)
        .key(PRICES_KEY)
        .body(ByteStream::from(b"{\"region\": 1}".to_vec()))
        .send()
        .await
        .unwrap();
    let err = handle(event, Some(&store)).await.unwrap_err().to_string();
    assert!(err.contains("prices.json"), "{err}");
}

/// The run's total with the catalog's own prices (no bucket).
async fn answer_total(event: &Value, _store: &ReportStore) -> f64 {
    let local = handle(event.clone(), None).await.unwrap();
    local["report"]["total_usd_per_month"].as_f64().unwrap()
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
