//! Serves the stand-in Hub's fixture repositories for a local run:
//! `cargo run -p testkit --bin stand-in-hub [address]` (default 127.0.0.1:8765), then
//! `HF_ENDPOINT=http://127.0.0.1:8765 cargo lambda watch` in another shell.

use testkit::hub::{StandInHub, AWQ, DENSE, FP8, GATED, MOE};

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8765".into());
    let hub = StandInHub::start_on(&address).await;
    println!("stand-in Hub at {} (HF_ENDPOINT={})", hub.url(), hub.url());
    println!("repositories: {DENSE}, {MOE}, {AWQ}, {FP8}, {GATED} (gated), and the failure cases of testkit::hub");
    std::future::pending::<()>().await;
}
