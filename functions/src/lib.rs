//! The functions' own code: the scheduled cost-planning job's runtime side (the HTTP
//! functions are each one call of `application::serve`, in `src/bin/`).
//!
//! `cost-planner`: the scheduled cost-planning job. EventBridge Scheduler invokes it
//! with a plan document (a name and named workloads, each with the inputs of
//! `POST /api/plan`) and the schedule's time; it plans every workload with the current
//! prices and writes a JSON report and a Markdown summary to the report bucket under
//! `reports/<scheduled date>/<plan name>.json|.md`, so a retry of the same run
//! overwrites the same two objects.
//!
//! Prices: the catalog's, unless the bucket holds `prices.json` (the catalog's own
//! price shape), which replaces them without a deploy. Without `REPORT_BUCKET` (local
//! runs) the report is returned instead of written.

pub mod store;

use application::endpoint::cost_planner::{build, read};
use planner::{Catalog, PriceList};
use serde_json::{json, Value};

pub use store::{ReportStore, StoreError, PRICES_KEY};

/// Any failure of a run: a bad event, a bad `prices.json`, or S3.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The prices in force: the bucket's `prices.json` over the embedded catalog's.
async fn catalog(store: Option<&ReportStore>) -> Result<Catalog, Error> {
    let embedded = Catalog::embedded();
    let Some(store) = store else {
        return Ok(embedded.clone());
    };
    match store.prices().await? {
        None => Ok(embedded.clone()),
        Some(text) => {
            let list = PriceList::parse(&text, &store.url(PRICES_KEY), embedded)?;
            Ok(list.applied_to(embedded))
        }
    }
}

/// One scheduled run: reads the event, plans, writes (or returns) the report.
pub async fn handle(event: Value, store: Option<&ReportStore>) -> Result<Value, Error> {
    let run = read(&event)?;
    let catalog = catalog(store).await?;
    let report = build(&run, &catalog);
    let Some(store) = store else {
        return Ok(json!({"report": report.json, "markdown": report.markdown}));
    };
    let (json_key, md_key) = (run.key("json"), run.key("md"));
    store
        .put(&json_key, report.json_bytes(), "application/json")
        .await?;
    store
        .put(
            &md_key,
            report.markdown.into_bytes(),
            "text/markdown; charset=utf-8",
        )
        .await?;
    lambda_runtime::tracing::info!(
        plan = %run.name,
        scheduled_date = %run.scheduled_date,
        workloads = run.workloads.len(),
        failed = report.failed,
        "report written"
    );
    Ok(json!({
        "plan": run.name,
        "report": store.url(&json_key),
        "summary": store.url(&md_key),
        "workloads": run.workloads.len(),
        "failed": report.failed,
        "prices": report.json.prices,
    }))
}
