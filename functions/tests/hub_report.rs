//! The daily report plans Hub models too, and records the commit of each
//! (`testkit::hub`'s stand-in Hub, no S3: the report comes back in the result).

use serde_json::{json, Value};
use testkit::hub::{shared_stand_in, COMMIT, DENSE};

#[tokio::test]
async fn the_report_records_each_hub_models_commit() {
    shared_stand_in();
    let event = json!({
        "plan": {"name": "hub", "workloads": [
            {"name": "qwen2-hub", "mode": "inference", "model_name": DENSE,
             "batch_size": 1, "sequence_length": 4096},
            {"name": "registry", "mode": "inference", "model_name": "Qwen3-0.6B",
             "batch_size": 1, "sequence_length": 4096}
        ]},
        "scheduled_time": "2026-12-07T06:00:00Z"
    });
    let out = functions::handle_text(&event.to_string(), None)
        .await
        .unwrap();
    let markdown = out["markdown"].as_str().unwrap();
    assert!(
        markdown.contains(&format!("{DENSE} (Hub commit {})", &COMMIT[..12])),
        "{markdown}"
    );
    let entries = out["report"]["workloads"].as_array().unwrap();
    let hub: &Value = &entries[0]["plan"]["model"]["hub"];
    assert_eq!(hub["commit"], COMMIT, "{}", entries[0]);
    assert!(entries[1]["plan"]["model"].get("hub").is_none());
}
